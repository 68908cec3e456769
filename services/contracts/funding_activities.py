"""Funding's activity interfaces: each declared once here, called by the workflows in `workflows/`
(hardship_approval, fund_round, proof_of_use) by reference and implemented by funding's
`FundingActivities` (services/funding/activities.py) under the same names."""

from __future__ import annotations

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


@activity.defn(name=HARDSHIP_STEP)
async def hardship_step(inp: HardshipStepInput) -> HardshipState:
    """One human step on a hardship application, recorded in funding's database."""
    raise NotImplementedError


@activity.defn(name=HARDSHIP_ESCALATE)
async def hardship_escalate(inp: HardshipEscalateInput) -> None:
    """The decision is overdue: the fund managers are alerted once."""
    raise NotImplementedError


@activity.defn(name=CONCLUDE_MEETING)
async def conclude_meeting(inp: ConcludeMeetingInput) -> MeetingOutcome:
    """A steering-group meeting is concluded: quorum, decisions, minutes."""
    raise NotImplementedError


@activity.defn(name=PROOF_REMINDER)
async def proof_reminder(inp: ProofReminderInput) -> None:
    """A reminder before the proof of use is due, or the alert once it is overdue."""
    raise NotImplementedError


@activity.defn(name=RECORD_PROOF)
async def record_proof(inp: RecordProofInput) -> ProofRecorded:
    """The first version's proof of use: recorded, unspent money returned at once."""
    raise NotImplementedError


@activity.defn(name=SUBMIT_PROOF)
async def submit_proof(inp: SubmitProofInput) -> ProofState:
    """The stored draft becomes version N of the proof of use, waiting for review."""
    raise NotImplementedError


@activity.defn(name=REVIEW_PROOF)
async def review_proof(inp: ReviewProofInput) -> ProofState:
    """The fund manager accepts version N or asks for rework."""
    raise NotImplementedError


@activity.defn(name=SETTLE_PROOF)
async def settle_proof(inp: SettleProofInput) -> ProofState:
    """The unspent and undrawn money returns to the budget, once."""
    raise NotImplementedError
