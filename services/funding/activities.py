"""Funding's Temporal activities: the effects of the hardship approval, the steering-group round and the
proof-of-use workflows on funding's database and outbox. Each is declared once in contracts
(`services.contracts.funding_workflows`, the stubs the workflows call) and implemented here under the
same name; the work is the handlers'. A kit DomainError raised by a handler leaves as a non-retryable
ApplicationError of the same type (`refuses_domain_errors`), which the workflow turns into the update's
refusal and funding's API into the HTTP error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from services.contracts.funding_workflows import (
    CONCLUDE_MEETING,
    HARDSHIP_ESCALATE,
    HARDSHIP_STEP,
    PROOF_REMINDER,
    RECORD_PROOF,
    REVIEW_PROOF,
    SETTLE_PROOF,
    SUBMIT_PROOF,
    ConcludeMeetingInput,
    HardshipEscalateInput,
    HardshipState,
    HardshipStepInput,
    MeetingOutcome,
    ProofRecorded,
    ProofReminderInput,
    ProofState,
    RecordProofInput,
    ReviewProofInput,
    SettleProofInput,
    SubmitProofInput,
)
from services.funding import handlers_hardship, handlers_measures, handlers_proof
from services.funding.runtime import FundingRuntime
from services.kit.workflows import refuses_domain_errors


class FundingActivities:
    def __init__(self, rt: FundingRuntime) -> None:
        self.rt = rt

    def all(self) -> list[Callable[..., Any]]:
        """The activities for the worker (bound methods)."""
        return [self.hardship_step, self.hardship_escalate, self.conclude_meeting, self.proof_reminder, self.record_proof,
                self.submit_proof, self.review_proof, self.settle_proof]

    @activity.defn(name=HARDSHIP_STEP)
    @refuses_domain_errors
    async def hardship_step(self, inp: HardshipStepInput) -> HardshipState:
        return await handlers_hardship.hardship_step(self.rt, inp)

    @activity.defn(name=HARDSHIP_ESCALATE)
    @refuses_domain_errors
    async def hardship_escalate(self, inp: HardshipEscalateInput) -> None:
        await handlers_hardship.escalate_hardship(self.rt, inp)

    @activity.defn(name=CONCLUDE_MEETING)
    @refuses_domain_errors
    async def conclude_meeting(self, inp: ConcludeMeetingInput) -> MeetingOutcome:
        return await handlers_measures.conclude_meeting(self.rt, inp)

    @activity.defn(name=PROOF_REMINDER)
    @refuses_domain_errors
    async def proof_reminder(self, inp: ProofReminderInput) -> None:
        await handlers_proof.proof_reminder(self.rt, inp)

    @activity.defn(name=RECORD_PROOF)
    @refuses_domain_errors
    async def record_proof(self, inp: RecordProofInput) -> ProofRecorded:
        return await handlers_proof.record_proof(self.rt, inp)

    @activity.defn(name=SUBMIT_PROOF)
    @refuses_domain_errors
    async def submit_proof(self, inp: SubmitProofInput) -> ProofState:
        return await handlers_proof.submit_proof(self.rt, inp)

    @activity.defn(name=REVIEW_PROOF)
    @refuses_domain_errors
    async def review_proof(self, inp: ReviewProofInput) -> ProofState:
        return await handlers_proof.review_proof(self.rt, inp)

    @activity.defn(name=SETTLE_PROOF)
    @refuses_domain_errors
    async def settle_proof(self, inp: SettleProofInput) -> ProofState:
        return await handlers_proof.settle_proof(self.rt, inp)


def activities(rt: FundingRuntime) -> list[Callable[..., Any]]:
    """ServiceSpec.activities: funding's activities bound to its runtime."""
    return FundingActivities(rt).all()
