"""Review cycle of a case (seed 001 phase 4 "Umsetzung und Überprüfung"; DOMAIN.md flow 3):
a review comes due every N days (default 90) until the case closes. One workflow per open case,
id `review-cycle-<case id>`; each cycle continues as new so the history stays short.

Walking-skeleton scope: the due date is recorded and announced; reminders and escalation follow
in the casework issue.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.contracts.activities import (
        RECORD_REVIEW_DUE,
        REVIEW_CYCLE_WORKFLOW,
        RecordReviewDueInput,
        RecordReviewDueResult,
        ReviewCycleInput,
    )

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
    non_retryable_error_types=["NotFound", "Invalid"],
)


@workflow.defn(name=REVIEW_CYCLE_WORKFLOW)
class ReviewCycle:
    def __init__(self) -> None:
        self._closed = False

    @workflow.run
    async def run(self, inp: ReviewCycleInput) -> str:
        interval = timedelta(days=inp.interval_days)
        due = workflow.now() + interval
        try:
            await workflow.wait_condition(lambda: self._closed, timeout=interval)
        except TimeoutError:
            pass
        if self._closed:
            return "closed"
        result: RecordReviewDueResult = await workflow.execute_activity(
            RECORD_REVIEW_DUE,
            RecordReviewDueInput(case_id=inp.case_id, tenant=inp.tenant, cycle=inp.cycle, due_on=due.date()),
            result_type=RecordReviewDueResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        if not result.case_open:
            return "closed"
        workflow.continue_as_new(inp.model_copy(update={"cycle": inp.cycle + 1}))

    @workflow.signal
    def case_closed(self) -> None:
        self._closed = True

    @workflow.query
    def cycle_closed(self) -> bool:
        return self._closed
