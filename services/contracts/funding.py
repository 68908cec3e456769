"""Events the funding service publishes: the hardship fund (flow 5), the discretionary fund (flow 6)
and the budget ledger. Amounts are integer cents. Hardship applications name a case and a
pseudonymous person id, never the person or the justification text."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field

from services.contracts.envelope import Event


class BudgetSet(Event):
    producer = "funding"

    fund: str = Field(description="hardship or discretionary.")
    fiscal_year: int
    amount_cents: int = Field(ge=0)
    set_by: str


# --- hardship fund (Härtefallfonds) --------------------------------------------------------------


class HardshipApplied(Event):
    producer = "funding"

    application_id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID
    applicant: str = Field(description="User name of the applying caseworker.")
    amount_cents: int = Field(gt=0)
    purpose_category: str = Field(description="Coarse category of the purpose (e.g. school_supplies, housing, mobility, health_related, other).")
    fiscal_year: int
    deciders_required: int = Field(ge=1, le=2)


class HardshipDecisionRecorded(Event):
    """One decider's vote (above 1,000 EUR two distinct deciders are needed)."""

    producer = "funding"

    application_id: uuid.UUID
    decider: str
    decision: str = Field(description="approve, reject or redirect.")


class HardshipApproved(Event):
    """Approved; the amount is reserved against the fiscal-year budget."""

    producer = "funding"

    application_id: uuid.UUID
    case_id: uuid.UUID
    amount_cents: int = Field(gt=0)
    fiscal_year: int
    deciders: list[str]
    working_days_to_decision: int = Field(ge=0)


class HardshipRejected(Event):
    producer = "funding"

    application_id: uuid.UUID
    case_id: uuid.UUID
    reason: str = Field(description="caused_by_authority, undermines_self_reliance, period_not_limited, budget_exhausted, other.")


class HardshipRedirected(Event):
    """A legal entitlement elsewhere exists: the applicant is sent to the responsible office."""

    producer = "funding"

    application_id: uuid.UUID
    case_id: uuid.UUID
    responsible_office: str


class HardshipEscalated(Event):
    producer = "funding"

    application_id: uuid.UUID
    kind: str = Field(description="decision_overdue.")


class HardshipPaymentOrdered(Event):
    producer = "funding"

    application_id: uuid.UUID
    ordered_by: str


class HardshipDisbursed(Event):
    """Paid out, recorded by a third person (payment order and payout separated)."""

    producer = "funding"

    application_id: uuid.UUID
    case_id: uuid.UUID
    amount_cents: int = Field(gt=0)
    fiscal_year: int
    disbursed_by: str


class HardshipCancelled(Event):
    """Cancelled before payout; the reservation is released."""

    producer = "funding"

    application_id: uuid.UUID
    case_id: uuid.UUID
    released_cents: int = Field(ge=0)


# --- discretionary fund (Verfügungsfonds) --------------------------------------------------------


class MeasureApplied(Event):
    """An organisation applied for a measure from the discretionary fund."""

    producer = "funding"

    application_id: uuid.UUID
    organisation_kind: str = Field(description="provider, initiative or municipal_institution.")
    amount_cents: int = Field(gt=0)
    fields_of_action: list[int]
    target_group: str
    fiscal_year: int
    flagged_over_limit: bool = Field(description="Above the normal maximum of 5,000 EUR (needs a written justification).")


class MeasureDecided(Event):
    """The steering group decided an application at a meeting."""

    producer = "funding"

    application_id: uuid.UUID
    round_id: uuid.UUID
    meeting_no: int = Field(ge=1)
    decision: str = Field(description="approved or rejected.")
    votes_yes: int = Field(ge=0)
    votes_no: int = Field(ge=0)
    abstentions: int = Field(ge=0)
    recused: int = Field(ge=0)
    amount_cents: int = Field(ge=0, description="Reserved amount if approved.")
    fields_of_action: list[int] = Field(default_factory=list)


class MeetingQuorumFailed(Event):
    producer = "funding"

    round_id: uuid.UUID
    meeting_no: int = Field(ge=1)
    present: int
    required: int


class MeasurePaid(Event):
    producer = "funding"

    application_id: uuid.UUID
    amount_cents: int = Field(gt=0)
    fiscal_year: int


class ProofOfUseReceived(Event):
    """Verwendungsnachweis received; unspent money returns to the budget."""

    producer = "funding"

    application_id: uuid.UUID
    spent_cents: int = Field(ge=0)
    returned_cents: int = Field(ge=0)
    receipts: int = Field(ge=0)
    days_late: int = Field(ge=0)


class ProofOfUseOverdue(Event):
    producer = "funding"

    application_id: uuid.UUID
    due_on: date


class FundYearClosed(Event):
    producer = "funding"

    fund: str
    fiscal_year: int
    budget_cents: int
    approved_cents: int
    paid_cents: int
    returned_cents: int
    remaining_cents: int
