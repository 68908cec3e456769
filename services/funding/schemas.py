"""Funding's HTTP request and response models (the DTOs of its API). The rules that judge them are
pure functions in `domain.py`; the workflow contracts are in `services.contracts.funding_workflows`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.funding.domain import Fund, HardshipStatus, MeasureStatus
from services.kit.inputs import Input

# --- budgets and ledger --------------------------------------------------------------------------


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


class SetBudget(Input):
    model_config = ConfigDict(extra="forbid")
    amount_cents: int = Field(ge=0, le=10**12)


class YearStatement(BaseModel):
    fund: Fund
    fiscal_year: int
    budget_cents: int
    approved_cents: int
    paid_cents: int
    returned_cents: int
    remaining_cents: int


class PaymentItem(BaseModel):
    """A payout to record, or one recorded: hardship grants whose payment was ordered (pseudonymised:
    the case id, never the person) and approved measures of the discretionary fund."""

    kind: Literal["hardship", "measure", "drawdown"]
    application_id: uuid.UUID
    drawdown_id: uuid.UUID | None = None
    fund: Fund
    fiscal_year: int
    amount_cents: int
    case_id: uuid.UUID | None = None
    title: str | None = None
    provider: str | None = None
    ordered_by: str | None = None
    paid_by: str | None = None
    paid_at: datetime | None = None


class PaymentList(BaseModel):
    state: Literal["open", "done"]
    payments: list[PaymentItem]


# --- hardship fund -----------------------------------------------------------------------------

PURPOSE_CATEGORIES = ("school_supplies", "housing", "mobility", "health_related", "language", "documents", "other")


class HardshipCriteria(Input):
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


class HardshipApply(Input):
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


class HardshipDecide(Input):
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


class HardshipList(BaseModel):
    applications: list[HardshipSummary]


# --- discretionary fund -------------------------------------------------------------------------

Area = Literal["structured_arrival", "school_projects", "participation", "psychosocial_health", "language_and_work", "volunteering"]
#: A contact address as an organisation gives it (one @, no spaces); the mail relay checks the rest.
EMAIL_PATTERN = r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"


class BudgetLine(Input):
    model_config = ConfigDict(extra="forbid")
    item: str = Field(min_length=1, max_length=200)
    amount_cents: int = Field(ge=0, le=10**9)


class Guidelines(Input):
    """002 §5: refugees are the target group, the measure tries a new approach, it contributes to lasting integration."""

    model_config = ConfigDict(extra="forbid")
    refugees_target_group: bool
    new_approach: str = Field(min_length=1, max_length=2000)
    lasting_integration: str = Field(min_length=1, max_length=2000)


class MeasureApply(Input):
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
    area: Area | None = Field(None, description="The area of 002 §5 the measure belongs to.")
    contact_email: str | None = Field(
        None, max_length=254, pattern=EMAIL_PATTERN,
        description="The organisation's contact for decision and reminder e-mails (personal data: never in events or logs).")
    drawdowns_requested: bool = Field(False, description="Payout in partial amounts on request (Mittelabruf); granted with the approval.")


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
    area: str | None = None
    drawdowns_allowed: bool = False
    proof_version: int = 0
    rework_reason: str | None = None
    released_cents: int | None = None
    contact_email: str | None = Field(None, description="Only on the single record (audit-logged).")


class CreateRound(Input):
    model_config = ConfigDict(extra="forbid")
    application_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)


class Presence(Input):
    model_config = ConfigDict(extra="forbid")
    conflicts: list[uuid.UUID] = Field(default_factory=list, description="Applications this member has a conflict of interest in (recused).")


class Vote(Input):
    model_config = ConfigDict(extra="forbid")
    application_id: uuid.UUID
    vote: Literal["yes", "no", "abstain"]


class Payout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_cents: int | None = Field(None, gt=0)


class ProofOfUse(BaseModel):
    """The first version's proof of use (a spent amount and a count of receipts); kept for clients of the
    old API. New submissions use ProofSubmit with itemised spending and uploaded receipts."""

    model_config = ConfigDict(extra="forbid")
    spent_cents: int = Field(ge=0, le=10**9)
    receipts: int = Field(ge=0, le=100_000)
    report: str = Field(min_length=1, max_length=5000)


class ProofItem(Input):
    """One line of the itemised spending of a proof of use: what for, how much, when."""

    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=300)
    amount_cents: int = Field(gt=0, le=10**9)
    spent_on: date


class ProofSubmit(Input):
    model_config = ConfigDict(extra="forbid")
    items: list[ProofItem] = Field(min_length=1, max_length=200)
    report: str = Field(min_length=1, max_length=5000, description="Short factual report (Sachbericht).")
    receipt_ids: list[uuid.UUID] = Field(min_length=1, max_length=100, description="Receipts uploaded to /measures/{id}/receipts.")


class ProofReview(Input):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accept", "rework"]
    reason: str | None = Field(None, max_length=2000, description="Required for rework: what the organisation has to change.")


class DrawdownRequest(Input):
    model_config = ConfigDict(extra="forbid")
    amount_cents: int = Field(gt=0, le=10**9)


class DrawdownOut(BaseModel):
    drawdown_id: uuid.UUID
    application_id: uuid.UUID
    amount_cents: int
    status: Literal["requested", "paid"]
    requested_by: str
    paid_by: str | None = None


class ReceiptOut(BaseModel):
    receipt_id: uuid.UUID
    application_id: uuid.UUID
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    proof_version: int | None = Field(None, description="The proof-of-use version it was first submitted with (None: not yet submitted).")


class MeasureList(BaseModel):
    applications: list[MeasureOut]


class MeasureFull(MeasureOut):
    """One application with its budget lines, guidelines, contact and the proof of use under review."""

    budget_lines: list[dict[str, Any]]
    guidelines: dict[str, Any]
    over_limit_justification: str | None
    proof_items: list[dict[str, Any]] | None
    proof_report: str | None
    reviewed_by: str | None
    receipts_list: list[ReceiptOut]
    drawdowns: list[DrawdownOut]


class MailOut(BaseModel):
    kind: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int


class RoundCreated(BaseModel):
    round_id: uuid.UUID


class Member(BaseModel):
    username: str
    active: bool


class MemberChange(Input):
    active: bool
