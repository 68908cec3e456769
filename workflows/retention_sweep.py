"""The retention sweep (GDPR Art. 5(1)(e), Art. 17(1)(a)). A Temporal Schedule of casework starts it once
a day (CASEWORK_RETENTION_SWEEP_HOURS); it asks casework for the persons whose every case closed more
than CASEWORK_RETENTION_DAYS ago and not erased yet, and has casework request their erasure from intake
(PersonRetentionElapsed). Ids and counts only in its history."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.contracts.casework_activities import persons_past_retention, request_erasure
    from services.contracts.casework_retention import (
        RETENTION_SWEEP_WORKFLOW,
        ErasureRequestInput,
        PastRetentionInput,
        PersonIds,
        RetentionInput,
        RetentionResult,
    )

RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=10)


@workflow.defn(name=RETENTION_SWEEP_WORKFLOW)
class RetentionSweep:
    @workflow.run
    async def run(self, inp: RetentionInput) -> RetentionResult:
        closed_before = workflow.now() - timedelta(days=inp.retention_days)
        due: PersonIds = await workflow.execute_activity(
            persons_past_retention, PastRetentionInput(closed_before=closed_before, limit=inp.batch),
            start_to_close_timeout=timedelta(minutes=2), retry_policy=RETRY,
        )
        if not due.person_ids:
            return RetentionResult(requested=0)
        return await workflow.execute_activity(
            request_erasure, ErasureRequestInput(tenant=inp.tenant, person_ids=due.person_ids),
            start_to_close_timeout=timedelta(minutes=2), retry_policy=RETRY,
        )
