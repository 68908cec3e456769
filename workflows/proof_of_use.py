"""Proof of use (Verwendungsnachweis) of a funded measure (seed 002 §5; DOMAIN.md flow 6): one workflow
per paid measure, id `proof-of-use-<application id>`. Due N months after the measure ends (default 3);
reminders N weeks before (default 4 and 1); escalation once it is overdue; the proof is still accepted
late. Recording it returns unspent money to the budget."""

from datetime import datetime, time, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.contracts.funding_workflows import (
        DOMAIN_ERROR_TYPES,
        PROOF_OF_USE_WORKFLOW,
        PROOF_REMINDER,
        RECORD_PROOF,
        ProofOfUseInput,
        ProofRecorded,
        ProofReminderInput,
        ProofSubmission,
        RecordProofInput,
    )
    from services.contracts.workdays import BERLIN

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
    non_retryable_error_types=DOMAIN_ERROR_TYPES,
)


@workflow.defn(name=PROOF_OF_USE_WORKFLOW)
class ProofOfUse:
    @workflow.init
    def __init__(self, inp: ProofOfUseInput) -> None:
        self._inp: ProofOfUseInput | None = inp
        self._result: ProofRecorded | None = None
        self._busy = False

    @workflow.run
    async def run(self, inp: ProofOfUseInput) -> ProofRecorded:
        due_at = datetime.combine(inp.due_on, time(23, 59, 59), tzinfo=BERLIN)
        started = workflow.now()
        for weeks in sorted(inp.reminder_weeks, reverse=True):
            remind_at = due_at - timedelta(weeks=weeks)
            if remind_at <= started:
                continue  # paid so late that this reminder's time had passed already
            if await self._received_before(remind_at):
                break
            await self._remind(f"reminder_{weeks}w")
        if not await self._received_before(due_at):
            await self._remind("overdue")
        await workflow.wait_condition(lambda: self._result is not None and workflow.all_handlers_finished())
        assert self._result is not None
        return self._result

    async def _received_before(self, at: datetime) -> bool:
        delay = at - workflow.now()
        if delay <= timedelta(0):
            return self._result is not None or self._busy
        try:
            await workflow.wait_condition(lambda: self._result is not None or self._busy, timeout=delay)
            return True
        except TimeoutError:
            return False

    async def _remind(self, kind: str) -> None:
        assert self._inp is not None
        await workflow.execute_activity(
            PROOF_REMINDER,
            ProofReminderInput(application_id=self._inp.application_id, tenant=self._inp.tenant, kind=kind, due_on=self._inp.due_on),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    @workflow.update
    async def submit(self, sub: ProofSubmission) -> ProofRecorded:
        assert self._inp is not None
        self._validate(sub)
        self._busy = True
        try:
            result = await workflow.execute_activity(
                RECORD_PROOF,
                RecordProofInput(
                    application_id=self._inp.application_id, tenant=self._inp.tenant, submission=sub,
                    received_on=workflow.now().astimezone(BERLIN).date(), due_on=self._inp.due_on,
                ),
                result_type=ProofRecorded,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
        except ActivityError as err:
            self._busy = False
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type in DOMAIN_ERROR_TYPES:
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
            raise ApplicationError("the proof of use could not be recorded; try again", type="DomainError", non_retryable=True) from None
        self._result = result
        return result

    @submit.validator
    def _validate(self, sub: ProofSubmission) -> None:
        if self._result is not None or self._busy:
            raise ApplicationError("the proof of use has already been received", type="Conflict", non_retryable=True)

    @workflow.query
    def received(self) -> bool:
        return self._result is not None
