"""Proof of use (Verwendungsnachweis) of a funded measure (seed 002 §5; DOMAIN.md flow 6): one workflow
per paid measure, id `proof-of-use-<application id>`. Due N months after the measure ends (default 3);
reminders N weeks before (default 4 and 1); escalation once it is overdue; the proof is still accepted
late.

Since PROOF_REVIEW_PATCH a submission (itemised spending, receipts; stored by funding) waits for the fund
manager's review: `review` accepts it or asks for rework (the organisation submits again), `reclaim`
returns the unspent and the undrawn money to the fiscal-year budget once; the workflow ends settled.
Before the patch a submission returned unspent money at once (committed histories replay that path)."""

from datetime import datetime, time, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.contracts.funding_workflows import (
        DOMAIN_ERROR_TYPES,
        PROOF_OF_USE_WORKFLOW,
        PROOF_REMINDER,
        PROOF_REVIEW_PATCH,
        RECORD_PROOF,
        REVIEW_PROOF,
        SETTLE_PROOF,
        SUBMIT_PROOF,
        ProofOfUseInput,
        ProofRecorded,
        ProofReminderInput,
        ProofReviewCommand,
        ProofState,
        ProofSubmission,
        ReclaimCommand,
        RecordProofInput,
        ReviewProofInput,
        SettleProofInput,
        SubmitProofInput,
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
        self._proof: ProofState | None = None  # the reviewed proof of use (PROOF_REVIEW_PATCH)

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
        await workflow.wait_condition(lambda: (self._result is not None or self._settled()) and workflow.all_handlers_finished())
        if self._result is not None:
            return self._result
        assert self._proof is not None
        return ProofRecorded(spent_cents=self._proof.spent_cents, returned_cents=self._proof.returned_cents, days_late=self._proof.days_late)

    def _settled(self) -> bool:
        return self._proof is not None and self._proof.status == "settled"

    async def _received_before(self, at: datetime) -> bool:
        delay = at - workflow.now()
        if delay <= timedelta(0):
            return self._result is not None or self._busy or self._proof is not None
        try:
            await workflow.wait_condition(lambda: self._result is not None or self._busy or self._proof is not None, timeout=delay)
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

    async def _step(self, activity: str, arg: object, failed: str) -> ProofState:
        """One recorded step of the reviewed proof of use; a domain refusal is the update's refusal."""
        self._busy = True
        try:
            state = await workflow.execute_activity(
                activity, arg, result_type=ProofState, start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type in DOMAIN_ERROR_TYPES:
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
            raise ApplicationError(failed, type="DomainError", non_retryable=True) from None
        finally:
            self._busy = False
        self._proof = state
        return state

    @workflow.update
    async def submit(self, sub: ProofSubmission) -> ProofRecorded:
        assert self._inp is not None
        self._validate(sub)
        if workflow.patched(PROOF_REVIEW_PATCH):
            if sub.version is None:
                raise ApplicationError("the proof of use needs its stored version", type="Invalid", non_retryable=True)
            state = await self._step(SUBMIT_PROOF, SubmitProofInput(
                application_id=self._inp.application_id, tenant=self._inp.tenant, submitted_by=sub.submitted_by, version=sub.version,
                received_on=workflow.now().astimezone(BERLIN).date(), due_on=self._inp.due_on,
            ), "the proof of use could not be recorded; try again")
            return ProofRecorded(spent_cents=state.spent_cents, returned_cents=0, days_late=state.days_late)
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
        if self._proof is not None and self._proof.status != "rework_requested":
            raise ApplicationError("the proof of use has already been received", type="Conflict", non_retryable=True)

    @workflow.update
    async def review(self, cmd: ProofReviewCommand) -> ProofState:
        assert self._inp is not None
        self._validate_review(cmd)
        return await self._step(REVIEW_PROOF, ReviewProofInput(application_id=self._inp.application_id, tenant=self._inp.tenant, command=cmd),
                                "the review could not be recorded; try again")

    @review.validator
    def _validate_review(self, cmd: ProofReviewCommand) -> None:
        if self._busy:
            raise ApplicationError("another step on this proof of use is running", type="Conflict", non_retryable=True)
        if self._proof is None or self._proof.status != "proof_submitted":
            raise ApplicationError("no proof of use is waiting for review", type="Conflict", non_retryable=True)
        if cmd.version != self._proof.version:
            raise ApplicationError(f"version {cmd.version} is not the proof of use under review", type="Conflict", non_retryable=True)

    @workflow.update
    async def reclaim(self, cmd: ReclaimCommand) -> ProofState:
        assert self._inp is not None
        self._validate_reclaim(cmd)
        return await self._step(SETTLE_PROOF, SettleProofInput(application_id=self._inp.application_id, tenant=self._inp.tenant, actor=cmd.actor),
                                "the money could not be reclaimed; try again")

    @reclaim.validator
    def _validate_reclaim(self, cmd: ReclaimCommand) -> None:
        if self._busy:
            raise ApplicationError("another step on this proof of use is running", type="Conflict", non_retryable=True)
        if self._settled():
            raise ApplicationError("the proof of use is already settled: nothing is reclaimed twice", type="Conflict", non_retryable=True)
        if self._proof is None or self._proof.status != "proof_accepted":
            raise ApplicationError("unspent money is reclaimed after the proof of use is accepted", type="Conflict", non_retryable=True)

    @workflow.query
    def received(self) -> bool:
        return self._result is not None or self._proof is not None
