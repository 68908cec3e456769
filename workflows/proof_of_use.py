"""Proof of use (Verwendungsnachweis) of a funded measure (seed 002 §5; DOMAIN.md flow 6): one workflow
per paid measure, id `proof-of-use-<application id>`. Due N months after the measure ends (default 3);
reminders N weeks before (default 4 and 1); escalation once it is overdue; the proof is still accepted
late.

Since PROOF_REVIEW_PATCH a submission (itemised spending, receipts; stored by funding) waits for the fund
manager's review: `review` accepts it or asks for rework (the organisation submits again), `reclaim`
returns the unspent and the undrawn money to the fiscal-year budget once; the workflow ends settled.
Before the patch a submission returned unspent money at once (committed histories replay that path)."""

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.contracts.funding_activities import (
        proof_reminder,
        record_proof,
        review_proof,
        settle_proof,
        submit_proof,
    )
    from services.contracts.funding_workflows import (
        PROOF_OF_USE_WORKFLOW,
        PROOF_REVIEW_PATCH,
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
        proof_expected,
        proof_reclaimable,
        proof_reviewable,
    )
    from services.contracts.refusals import CONFLICT, DOMAIN_ERROR, INVALID, NON_RETRYABLE, is_refusal, refusal
    from services.contracts.workdays import BERLIN

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE,
)


def _refusal_of(err: ActivityError, failed: str) -> ApplicationError:
    """An activity's domain refusal is the update's refusal of the same type; anything else is `failed`."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and is_refusal(cause):
        return refusal(cause.type or DOMAIN_ERROR, cause.message)
    return refusal(DOMAIN_ERROR, failed)


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
            proof_reminder,
            ProofReminderInput(application_id=self._inp.application_id, tenant=self._inp.tenant, kind=kind, due_on=self._inp.due_on),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    async def _step(self, activity: Callable[[Any], Awaitable[ProofState]], arg: object, failed: str) -> ProofState:
        """One recorded step of the reviewed proof of use; a domain refusal is the update's refusal."""
        self._busy = True
        try:
            state = await workflow.execute_activity(
                activity, arg, result_type=ProofState, start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY,
            )
        except ActivityError as err:
            raise _refusal_of(err, failed) from None
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
                raise refusal(INVALID, "the proof of use needs its stored version")
            state = await self._step(submit_proof, SubmitProofInput(
                application_id=self._inp.application_id, tenant=self._inp.tenant, submitted_by=sub.submitted_by, version=sub.version,
                received_on=workflow.now().astimezone(BERLIN).date(), due_on=self._inp.due_on,
            ), "the proof of use could not be recorded; try again")
            return ProofRecorded(spent_cents=state.spent_cents, returned_cents=0, days_late=state.days_late)
        self._busy = True
        try:
            result = await workflow.execute_activity(
                record_proof,
                RecordProofInput(
                    application_id=self._inp.application_id, tenant=self._inp.tenant, submission=sub,
                    received_on=workflow.now().astimezone(BERLIN).date(), due_on=self._inp.due_on,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
        except ActivityError as err:
            self._busy = False
            raise _refusal_of(err, "the proof of use could not be recorded; try again") from None
        self._result = result
        return result

    @submit.validator
    def _validate(self, sub: ProofSubmission) -> None:
        if self._result is not None or self._busy:
            raise refusal(CONFLICT, "the proof of use has already been received")
        if self._proof is not None and not proof_expected(self._proof.status):
            raise refusal(CONFLICT, "the proof of use has already been received")

    @workflow.update
    async def review(self, cmd: ProofReviewCommand) -> ProofState:
        assert self._inp is not None
        self._validate_review(cmd)
        return await self._step(review_proof, ReviewProofInput(application_id=self._inp.application_id, tenant=self._inp.tenant, command=cmd),
                                "the review could not be recorded; try again")

    @review.validator
    def _validate_review(self, cmd: ProofReviewCommand) -> None:
        if self._busy:
            raise refusal(CONFLICT, "another step on this proof of use is running")
        if self._proof is None or not proof_reviewable(self._proof.status):
            raise refusal(CONFLICT, "no proof of use is waiting for review")
        if cmd.version != self._proof.version:
            raise refusal(CONFLICT, f"version {cmd.version} is not the proof of use under review")

    @workflow.update
    async def reclaim(self, cmd: ReclaimCommand) -> ProofState:
        assert self._inp is not None
        self._validate_reclaim(cmd)
        return await self._step(settle_proof, SettleProofInput(application_id=self._inp.application_id, tenant=self._inp.tenant, actor=cmd.actor),
                                "the money could not be reclaimed; try again")

    @reclaim.validator
    def _validate_reclaim(self, cmd: ReclaimCommand) -> None:
        if self._busy:
            raise refusal(CONFLICT, "another step on this proof of use is running")
        if self._settled():
            raise refusal(CONFLICT, "the proof of use is already settled: nothing is reclaimed twice")
        if self._proof is None or not proof_reclaimable(self._proof.status):
            raise refusal(CONFLICT, "unspent money is reclaimed after the proof of use is accepted")

    @workflow.query
    def received(self) -> bool:
        return self._result is not None or self._proof is not None
