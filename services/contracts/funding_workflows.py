"""Funding's workflow and activity contracts: the hardship approval (flow 5), the steering-group round
and the proof of use (flow 6). Inputs carry ids, amounts and staff user names only, never purpose or
justification texts."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from services.contracts.refusals import NON_RETRYABLE

#: Kept only as the old name of `services.contracts.refusals.NON_RETRYABLE` (tests/unit/test_kit_refusals.py
#: checks they are the same list); funding's workflows use NON_RETRYABLE directly.
DOMAIN_ERROR_TYPES = NON_RETRYABLE


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- hardship approval ------------------------------------------------------------------------

HARDSHIP_APPROVAL_WORKFLOW = "HardshipApproval"
HARDSHIP_STEP = "funding.hardship_step"
HARDSHIP_ESCALATE = "funding.hardship_escalate"


def hardship_workflow_id(application_id: uuid.UUID) -> str:
    return f"hardship-{application_id}"


class HardshipApprovalInput(_Model):
    application_id: uuid.UUID
    tenant: str
    applicant: str = Field(description="User name of the applying caseworker (never a decider).")
    deciders_required: int = Field(ge=1, le=2)
    decision_working_days: int = Field(ge=1, description="Working days (NRW) until the decision is due.")


class HardshipCommand(_Model):
    """One human step on an application; `step` decide / order_payment / disburse / cancel."""

    actor: str
    step: Literal["decide", "order_payment", "disburse", "cancel"]
    decision: Literal["approve", "reject"] | None = None
    reason: str | None = None


class HardshipStepInput(_Model):
    application_id: uuid.UUID
    tenant: str
    command: HardshipCommand
    working_days_to_decision: int = Field(0, ge=0)


class HardshipState(_Model):
    status: str
    deciders: list[str] = Field(default_factory=list)
    payment_ordered_by: str | None = None
    escalated: bool = False


class HardshipEscalateInput(_Model):
    application_id: uuid.UUID
    tenant: str
    due_on: date


# --- the hardship approval's rules: one place for funding's API, the workflow's validators and the activity ---


class Refusal(NamedTuple):
    """Why a step is refused: the error type (funding's API answers Forbidden 403, Conflict 409, Invalid 422;
    Temporal does not retry it) and the message the caller sees."""

    type: Literal["Forbidden", "Conflict", "Invalid"]
    message: str


def deciders_required(amount_cents: int, two_above_cents: int) -> int:
    """DOMAIN.md flow 5: above 1,000 EUR (setting FUNDING_HARDSHIP_TWO_DECIDERS_ABOVE_CENTS) two distinct deciders."""
    return 2 if amount_cents > two_above_cents else 1


def four_eyes_refusal(actor: str, applicant: str, state: HardshipState) -> Refusal | None:
    """The four-eyes rule of a decision (DOMAIN.md flow 5: "the decider is never the applicant (four eyes);
    above 1,000 EUR two deciders"; seed 000 "Härtefallfond": the fund is managed by the integration
    concept's management): the applying caseworker never decides their own application; only a pending
    application is decided; each decider decides once, so that the two decisions above the threshold
    come from two different people."""
    if actor == applicant:
        return Refusal("Forbidden", "the applicant cannot decide their own application (four eyes)")
    if state.status != "pending":
        return Refusal("Conflict", f"the application is {state.status}, not pending")
    if actor in state.deciders:
        return Refusal("Conflict", "this decider has already decided; a second, different decider is needed")
    return None


def payment_order_refusal(actor: str, state: HardshipState) -> Refusal | None:
    """The payment of an approved application is ordered by one of its deciders (DOMAIN.md flow 5 defaults:
    payment order and payout are separated)."""
    if state.status != "approved":
        return Refusal("Conflict", f"the application is {state.status}, not approved")
    if actor not in state.deciders:
        return Refusal("Forbidden", "payment is ordered by one of the deciders")
    return None


def third_person_refusal(actor: str, applicant: str, state: HardshipState) -> Refusal | None:
    """The third-person payout rule (DOMAIN.md flow 5 four eyes, extended to the money: payment order and
    payout separated): the payout is recorded by a third person, neither the applicant nor a decider,
    and only after the payment was ordered. Who may record it is checked first, so that an applicant or
    decider is told so (403) whatever the application's state."""
    if actor == applicant or actor in state.deciders:
        return Refusal("Forbidden", "the payout is recorded by a third person, neither applicant nor decider")
    if state.status != "payment_ordered":
        return Refusal("Conflict", f"the application is {state.status}; the payment must be ordered first")
    return None


def cancel_refusal(state: HardshipState) -> Refusal | None:
    """An application is cancelled before payout only (the reservation is released; DOMAIN.md flow 5)."""
    if state.status not in ("pending", "approved", "payment_ordered"):
        return Refusal("Conflict", f"the application is {state.status}; only applications not yet paid can be cancelled")
    return None


def hardship_step_refusal(cmd: HardshipCommand, applicant: str, state: HardshipState) -> Refusal | None:
    """Why a human step on a hardship application is refused now (None: allowed). Funding's API asks it
    with the stored record before it sends the step, the workflow's update validator with its state,
    the activity with the locked row: the same answer for the same (command, applicant, state)."""
    if cmd.step == "decide":
        return four_eyes_refusal(cmd.actor, applicant, state)
    if cmd.step == "order_payment":
        return payment_order_refusal(cmd.actor, state)
    if cmd.step == "disburse":
        return third_person_refusal(cmd.actor, applicant, state)
    return cancel_refusal(state)


# --- steering-group round -----------------------------------------------------------------------

FUND_ROUND_WORKFLOW = "FundRound"
CONCLUDE_MEETING = "funding.conclude_meeting"


def fund_round_workflow_id(round_id: uuid.UUID) -> str:
    return f"fund-round-{round_id}"


class FundRoundInput(_Model):
    round_id: uuid.UUID
    tenant: str
    application_ids: list[uuid.UUID]
    members: list[str] = Field(description="The steering group's member register at the round's start.")
    quorum: int = Field(ge=1)


class PresenceCommand(_Model):
    member: str
    conflicts: list[uuid.UUID] = Field(default_factory=list)


class VoteCommand(_Model):
    member: str
    application_id: uuid.UUID
    vote: Literal["yes", "no", "abstain"]


class CloseMeetingCommand(_Model):
    by: str


class ConcludeMeetingInput(_Model):
    round_id: uuid.UUID
    tenant: str
    meeting_no: int = Field(ge=1)
    members: list[str]
    quorum: int
    present: list[str]
    recused: dict[str, list[str]] = Field(description="application id -> members recused from its vote.")
    votes: dict[str, dict[str, str]] = Field(description="application id -> member -> yes/no/abstain.")
    pending: list[uuid.UUID]
    closed_by: str


class MeetingOutcome(_Model):
    meeting_no: int
    quorate: bool
    decided: dict[str, str] = Field(default_factory=dict, description="application id -> approved / rejected.")


class RoundState(_Model):
    meeting_no: int
    pending: list[uuid.UUID]
    present: list[str]
    decided: dict[str, str]


# --- the steering group's rules: one place for the round's validators and the meeting's conclusion --------


def quorum(members: int, fraction: float) -> int:
    """Default: half of the members (002 §2 steering group; DOMAIN.md flow 6: "decisions at steering-group
    meetings by majority of members present with a quorum"; setting FUNDING_STEERING_QUORUM_FRACTION)."""
    return max(1, math.ceil(members * fraction))


def majority(yes: int, no: int, abstentions: int) -> bool:
    """Majority of those present and voting on the item (recused members excluded): yes > half of
    present-not-recused. Abstentions count as present, so they weigh like a no (DOMAIN.md flow 6)."""
    return yes * 2 > yes + no + abstentions


def recused_from(conflicts: Mapping[str, Sequence[str]], application_id: str) -> list[str]:
    """The members present who declared a conflict of interest in this application: they are recused from
    its vote (002 §2 steering group; `conflicts`: member -> application ids)."""
    return [member for member, apps in conflicts.items() if application_id in apps]


def presence_refusal(member: str, members: Sequence[str], conflicts: Mapping[str, Sequence[str]]) -> Refusal | None:
    """Only members of the steering group's register take part in its meetings, each registered once."""
    if member not in members:
        return Refusal("Forbidden", "only members of the steering group take part in its meetings")
    if member in conflicts:
        return Refusal("Conflict", "presence is already registered for this meeting")
    return None


def vote_refusal(cmd: VoteCommand, conflicts: Mapping[str, Sequence[str]], pending: Sequence[str], votes: Mapping[str, Mapping[str, str]]) -> Refusal | None:
    """A member registered as present votes once on an application open in the round, unless recused from it
    (`recused_from`; 002 §2, DOMAIN.md flow 6)."""
    app = str(cmd.application_id)
    if cmd.member not in conflicts:
        return Refusal("Forbidden", "only members registered as present vote")
    if app not in pending:
        return Refusal("Conflict", "the application is not open in this round")
    if cmd.member in recused_from(conflicts, app):
        return Refusal("Forbidden", "the member declared a conflict of interest and is recused from this vote")
    if cmd.member in votes.get(app, {}):
        return Refusal("Conflict", "the member has already voted on this application")
    return None


class Tally(NamedTuple):
    yes: int
    no: int
    abstentions: int
    recused: list[str]
    approved: bool


def meeting_tally(present: Sequence[str], recused: Sequence[str], votes: Mapping[str, str]) -> Tally:
    """One application's vote at a quorate meeting (002 §2/§5, DOMAIN.md flow 6): members recused from it
    (`recused_from`) and anyone not present do not count; whoever is present, not recused and voted neither
    yes nor no abstains; approved by `majority`."""
    recused_present = [m for m in recused if m in present]
    counted = {m: v for m, v in votes.items() if m in present and m not in recused_present}
    yes = sum(v == "yes" for v in counted.values())
    no = sum(v == "no" for v in counted.values())
    abstentions = len(present) - len(recused_present) - yes - no
    return Tally(yes, no, abstentions, recused_present, majority(yes, no, abstentions))


# --- proof of use (Verwendungsnachweis) -------------------------------------------------------

PROOF_OF_USE_WORKFLOW = "ProofOfUse"
PROOF_REMINDER = "funding.proof_reminder"
RECORD_PROOF = "funding.record_proof"


def proof_of_use_workflow_id(application_id: uuid.UUID) -> str:
    return f"proof-of-use-{application_id}"


class ProofOfUseInput(_Model):
    application_id: uuid.UUID
    tenant: str
    due_on: date
    reminder_weeks: list[int] = Field(default_factory=lambda: [4, 1])


class ProofSubmission(_Model):
    submitted_by: str
    spent_cents: int = Field(ge=0)
    receipts: int = Field(ge=0)
    version: int | None = Field(None, ge=1, description="The proof-of-use version funding stored as a draft (reviewed proof of use).")


class ProofReminderInput(_Model):
    application_id: uuid.UUID
    tenant: str
    kind: str = Field(description="reminder_<n>w or overdue.")
    due_on: date


class RecordProofInput(_Model):
    application_id: uuid.UUID
    tenant: str
    submission: ProofSubmission
    received_on: date
    due_on: date


class ProofRecorded(_Model):
    spent_cents: int
    returned_cents: int
    days_late: int


# --- reviewed proof of use (issue 14): submit -> review (accept / rework) -> reclaim ----------------

#: workflow.patched id: from this version on a submission waits for the fund manager's review instead of
#: returning unspent money at once (histories recorded before it replay the old path).
PROOF_REVIEW_PATCH = "proof-of-use-review"
SUBMIT_PROOF = "funding.submit_proof"
REVIEW_PROOF = "funding.review_proof"
SETTLE_PROOF = "funding.settle_proof"


class SubmitProofInput(_Model):
    application_id: uuid.UUID
    tenant: str
    submitted_by: str
    version: int = Field(ge=1)
    received_on: date
    due_on: date


class ProofReviewCommand(_Model):
    """The fund manager's review of one version; the rework reason stays in funding's database."""

    actor: str
    decision: Literal["accept", "rework"]
    version: int = Field(ge=1)


class ReviewProofInput(_Model):
    application_id: uuid.UUID
    tenant: str
    command: ProofReviewCommand


class ReclaimCommand(_Model):
    actor: str


class SettleProofInput(_Model):
    application_id: uuid.UUID
    tenant: str
    actor: str


def proof_expected(status: str) -> bool:
    """A proof of use (receipts, the submission) is taken after payout, or again when the fund manager asked
    for rework (002 §5 Verwendungsnachweis; DOMAIN.md flow 6). Funding's API (receipts, the draft), the
    workflow's submit validator (its reviewed state; before the first submission the measure is paid) and
    the submit activity ask it; each words its refusal for its caller."""
    return status in ("paid", "rework_requested")


def proof_reviewable(status: str) -> bool:
    """A submitted proof of use waits for the fund manager's review (accept or rework)."""
    return status == "proof_submitted"


def proof_reclaimable(status: str) -> bool:
    """Unspent and undrawn money is reclaimed once, after the proof of use was accepted (DOMAIN.md flow 6:
    unspent money returns to the budget)."""
    return status == "proof_accepted"


class ProofState(_Model):
    status: str = Field(description="proof_submitted, rework_requested, proof_accepted or settled.")
    version: int
    spent_cents: int = 0
    returned_cents: int = 0
    released_cents: int = 0
    days_late: int = 0
