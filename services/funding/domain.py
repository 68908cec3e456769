"""Funds, budgets, the ledger's vocabulary and the decision rules of the hardship fund (DOMAIN.md flow 5,
seed 000 "Härtefallfond") and the discretionary fund (flow 6, seed 002 §5). No I/O."""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.kit.errors import Conflict


class Fund(enum.StrEnum):
    HARDSHIP = "hardship"  # Härtefallfonds Integration (000 "Härtefallfond", §7 row 34)
    DISCRETIONARY = "discretionary"  # Verfügungsfonds (002 §5)


class LedgerKind(enum.StrEnum):
    """Ledger entries (integer cents, append-only). committed = reservations - releases - returns;
    available = budget - committed; disbursements turn reserved money into paid money."""

    RESERVATION = "reservation"
    RELEASE = "release"
    DISBURSEMENT = "disbursement"
    RETURN = "return"


class BudgetExhausted(Conflict):
    """The budget cannot cover a reservation (the ledger invariant available >= 0)."""

    code = "budget_exhausted"


def fiscal_year(today: date) -> int:
    """German municipalities budget by calendar year (Haushaltsjahr = Kalenderjahr, GO NRW §78)."""
    return today.year


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(d, day.day))
        except ValueError:
            continue
    raise AssertionError("unreachable")


class BudgetOut(BaseModel):
    fund: Fund
    fiscal_year: int
    amount_cents: int
    currency: str = "EUR"


class Balance(BaseModel):
    """A fund's year derived from the ledger."""

    fund: Fund
    fiscal_year: int
    budget_cents: int
    approved_cents: int = Field(description="Reservations minus releases.")
    reserved_cents: int = Field(description="Approved, not yet paid.")
    paid_cents: int = Field(description="Disbursements.")
    returned_cents: int = Field(description="Unspent money returned after proof of use.")
    committed_cents: int
    available_cents: int


class Reconciliation(BaseModel):
    fund: Fund
    fiscal_year: int
    ledger_committed_cents: int
    running_committed_cents: int
    available_cents: int
    matches: bool


class SetBudget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_cents: int = Field(ge=0, le=10**12)


# --- hardship fund -----------------------------------------------------------------------------


class HardshipStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    PAYMENT_ORDERED = "payment_ordered"
    DISBURSED = "disbursed"
    REJECTED = "rejected"
    REDIRECTED = "redirected"
    CANCELLED = "cancelled"


PURPOSE_CATEGORIES = ("school_supplies", "housing", "mobility", "health_related", "language", "documents", "other")


class HardshipCriteria(BaseModel):
    """The central conditions of seed 000 "Härtefallfond", answered by the applying caseworker."""

    model_config = ConfigDict(extra="forbid")
    legal_entitlement_elsewhere: bool = Field(description="A legal entitlement exists elsewhere (then: redirect).")
    responsible_office: str | None = Field(None, max_length=200, description="The office responsible for that entitlement.")
    caused_by_authority_error: bool = Field(description="The need stems from a faulty action of another authority (then: reject).")
    undermines_self_reliance: bool = Field(description="The help would undermine the person's self-reliance (then: reject).")

    @model_validator(mode="after")
    def _office_named(self) -> HardshipCriteria:
        if self.legal_entitlement_elsewhere and not self.responsible_office:
            raise ValueError("responsible_office is required when a legal entitlement exists elsewhere")
        return self


class HardshipApply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID
    person_id: uuid.UUID
    amount_cents: int = Field(gt=0, le=10**9)
    purpose: str = Field(min_length=1, max_length=2000)
    purpose_category: Literal["school_supplies", "housing", "mobility", "health_related", "language", "documents", "other"]
    justification: str = Field(min_length=1, max_length=5000)
    period_start: date
    period_end: date
    criteria: HardshipCriteria


class Screening(BaseModel):
    """What the criteria say before any decider looks at the application."""

    outcome: Literal["eligible", "redirected", "rejected"]
    reason: str | None = None
    responsible_office: str | None = None


def screen(criteria: HardshipCriteria) -> Screening:
    """Seed 000 "Härtefallfond": no legal entitlement (else redirect to the responsible office); the
    need does not stem from a faulty action of another authority; the help does not undermine
    self-reliance."""
    if criteria.legal_entitlement_elsewhere:
        return Screening(outcome="redirected", responsible_office=criteria.responsible_office)
    if criteria.caused_by_authority_error:
        return Screening(outcome="rejected", reason="caused_by_authority")
    if criteria.undermines_self_reliance:
        return Screening(outcome="rejected", reason="undermines_self_reliance")
    return Screening(outcome="eligible")


def period_problem(start: date, end: date, max_months: int) -> str | None:
    """Seed 000: the help is limited to a clearly defined period (default at most 6 months)."""
    if end < start:
        return "period_end is before period_start"
    if end > add_months(start, max_months):
        return f"the period must be clearly limited to at most {max_months} months"
    return None


def may_see_hardship(username: str, applicant: str, case_caseworker: str | None) -> bool:
    """A caseworker sees the hardship applications of their own cases (issue 14): those they made and
    those of a case that is theirs now (reassigned, or theirs as the substitute of an absent colleague);
    fund managers see every application (DOMAIN.md flow 5)."""
    return username in (applicant, case_caseworker)


def deciders_required(amount_cents: int, two_above_cents: int) -> int:
    """DOMAIN.md flow 5: above 1,000 EUR two distinct deciders."""
    return 2 if amount_cents > two_above_cents else 1


class HardshipDecide(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    reason: Literal["caused_by_authority", "undermines_self_reliance", "period_not_limited", "budget_exhausted", "other"] | None = Field(
        None, description="Required for a rejection (checked by the API: 422 on field reason).")


class HardshipSummary(BaseModel):
    """What deciders see by default: pseudonymised (no purpose text, no justification, no person)."""

    application_id: uuid.UUID
    case_id: uuid.UUID
    amount_cents: int
    purpose_category: str
    criteria: HardshipCriteria
    period_start: date
    period_end: date
    fiscal_year: int
    deciders_required: int
    deciders: list[str]
    status: HardshipStatus
    reason: str | None
    responsible_office: str | None
    escalated: bool


class HardshipFull(HardshipSummary):
    person_id: uuid.UUID
    applicant: str
    purpose: str
    justification: str
    payment_ordered_by: str | None
    disbursed_by: str | None


# --- discretionary fund -------------------------------------------------------------------------


class MeasureStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    IN_ROUND = "in_round"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"
    PROOF_RECEIVED = "proof_received"


class BudgetLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str = Field(min_length=1, max_length=200)
    amount_cents: int = Field(ge=0, le=10**9)


class Guidelines(BaseModel):
    """002 §5: refugees are the target group, the measure tries a new approach, it contributes to lasting integration."""

    model_config = ConfigDict(extra="forbid")
    refugees_target_group: bool
    new_approach: str = Field(min_length=1, max_length=2000)
    lasting_integration: str = Field(min_length=1, max_length=2000)


class MeasureApply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    provider: str = Field(min_length=1, max_length=300)
    organisation_kind: Literal["provider", "initiative", "municipal_institution"]
    fields_of_action: list[Annotated[int, Field(ge=1, le=18)]] = Field(min_length=1, max_length=18, description="The 18 fields of action (000 §4).")
    target_group: str = Field(min_length=1, max_length=300)
    period_start: date
    period_end: date
    budget_lines: list[BudgetLine] = Field(min_length=1, max_length=50)
    amount_cents: int = Field(gt=0, le=10**9)
    over_limit_justification: str | None = Field(None, max_length=5000)
    guidelines: Guidelines

    def problem(self) -> tuple[str, str] | None:
        """Cross-field checks, reported as 422 on the named field by the handler."""
        if self.period_end < self.period_start:
            return "period_end", "period_end is before period_start"
        if sum(b.amount_cents for b in self.budget_lines) != self.amount_cents:
            return "amount_cents", "amount_cents must equal the sum of the budget lines"
        return None


class MeasureOut(BaseModel):
    application_id: uuid.UUID
    applicant: str
    title: str
    provider: str
    organisation_kind: str
    fields_of_action: list[int]
    target_group: str
    period_start: date
    period_end: date
    amount_cents: int
    flagged_over_limit: bool
    fiscal_year: int
    status: MeasureStatus
    round_id: uuid.UUID | None
    meeting_no: int | None
    paid_cents: int
    proof_due_on: date | None
    spent_cents: int | None
    returned_cents: int | None
    receipts: int | None


def quorum(members: int, fraction: float) -> int:
    """Default: half of the members (002 §2 steering group; DOMAIN.md flow 6)."""
    import math

    return max(1, math.ceil(members * fraction))


def majority(yes: int, no: int, abstentions: int) -> bool:
    """Majority of those present and voting on the item (recused members excluded): yes > half of
    present-not-recused. Abstentions count as present, so they weigh like a no."""
    return yes * 2 > yes + no + abstentions


class CreateRound(BaseModel):
    model_config = ConfigDict(extra="forbid")
    application_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)


class Presence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conflicts: list[uuid.UUID] = Field(default_factory=list, description="Applications this member has a conflict of interest in (recused).")


class Vote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    application_id: uuid.UUID
    vote: Literal["yes", "no", "abstain"]


class Payout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_cents: int | None = Field(None, gt=0)


class ProofOfUse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spent_cents: int = Field(ge=0, le=10**9)
    receipts: int = Field(ge=0, le=100_000)
    report: str = Field(min_length=1, max_length=5000)


class YearStatement(BaseModel):
    fund: Fund
    fiscal_year: int
    budget_cents: int
    approved_cents: int
    paid_cents: int
    returned_cents: int
    remaining_cents: int
