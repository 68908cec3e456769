"""Funds, budgets, the ledger's vocabulary and the decision rules of the hardship fund (DOMAIN.md flow 5,
seed 000 "Härtefallfond") and the discretionary fund (flow 6, seed 002 §5). No I/O."""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.contracts.funding_workflows import HardshipState
from services.contracts.funding_workflows import Refusal as Refusal  # the hardship rules workflows share live in contracts
from services.contracts.funding_workflows import deciders_required as deciders_required
from services.contracts.funding_workflows import four_eyes_refusal as four_eyes_refusal
from services.contracts.funding_workflows import hardship_step_refusal as hardship_step_refusal
from services.contracts.funding_workflows import third_person_refusal as third_person_refusal
from services.contracts.vocab import DISCRETIONARY_AREAS
from services.kit.errors import Conflict, DomainError, Forbidden, Invalid


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


def hardship_state(row: Any) -> HardshipState:
    """A stored application's state in the workflow's terms (what the hardship rules look at)."""
    return HardshipState(status=row.status, deciders=list(row.deciders), payment_ordered_by=row.payment_ordered_by, escalated=row.escalated)


def refusal_error(refusal: Refusal) -> DomainError:
    """A rule's refusal (contracts' hardship rules) as the domain error the API renders (403/409/422)."""
    return {"Forbidden": Forbidden, "Conflict": Conflict, "Invalid": Invalid}[refusal.type](refusal.message)


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
    PROOF_RECEIVED = "proof_received"  # proof of use recorded by the first version (unspent money returned at once)
    PROOF_SUBMITTED = "proof_submitted"  # proof of use waiting for the fund manager's review
    REWORK_REQUESTED = "rework_requested"  # the fund manager asked for rework (with a reason)
    PROOF_ACCEPTED = "proof_accepted"  # accepted; unspent or undrawn money still to reclaim
    SETTLED = "settled"  # accepted and settled with the budget


AREAS = DISCRETIONARY_AREAS  # 002 §5, services.contracts.vocab
Area = Literal["structured_arrival", "school_projects", "participation", "psychosocial_health", "language_and_work", "volunteering"]
#: A contact address as an organisation gives it (one @, no spaces); the mail relay checks the rest.
EMAIL_PATTERN = r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"


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
    area: Area | None = Field(None, description="The area of 002 §5 the measure belongs to.")
    contact_email: str | None = Field(
        None, max_length=254, pattern=EMAIL_PATTERN,
        description="The organisation's contact for decision and reminder e-mails (personal data: never in events or logs).")
    drawdowns_requested: bool = Field(False, description="Payout in partial amounts on request (Mittelabruf); granted with the approval.")

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
    area: str | None = None
    drawdowns_allowed: bool = False
    proof_version: int = 0
    rework_reason: str | None = None
    released_cents: int | None = None
    contact_email: str | None = Field(None, description="Only on the single record (audit-logged).")


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
    """The first version's proof of use (a spent amount and a count of receipts); kept for clients of the
    old API. New submissions use ProofSubmit with itemised spending and uploaded receipts."""

    model_config = ConfigDict(extra="forbid")
    spent_cents: int = Field(ge=0, le=10**9)
    receipts: int = Field(ge=0, le=100_000)
    report: str = Field(min_length=1, max_length=5000)


class ProofItem(BaseModel):
    """One line of the itemised spending of a proof of use: what for, how much, when."""

    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=300)
    amount_cents: int = Field(gt=0, le=10**9)
    spent_on: date


class ProofSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ProofItem] = Field(min_length=1, max_length=200)
    report: str = Field(min_length=1, max_length=5000, description="Short factual report (Sachbericht).")
    receipt_ids: list[uuid.UUID] = Field(min_length=1, max_length=100, description="Receipts uploaded to /measures/{id}/receipts.")


def proof_problem(items: list[ProofItem], paid_cents: int, period_start: date, today: date) -> tuple[str, str] | None:
    """A proof of use accounts for money actually paid out (002 §5 grants; default: the spending lies
    between the measure's start and today, and adds up to at most the paid amount). Returns (field, reason)."""
    for i, item in enumerate(items):
        if item.spent_on < period_start:
            return f"items.{i}.spent_on", "spent_on is before the measure started"
        if item.spent_on > today:
            return f"items.{i}.spent_on", "spent_on must not be in the future"
    total = sum(i.amount_cents for i in items)
    if total > paid_cents:
        return "items", f"the items add up to {total} cents, more than the {paid_cents} cents paid out"
    return None


class ProofReview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accept", "rework"]
    reason: str | None = Field(None, max_length=2000, description="Required for rework: what the organisation has to change.")


def review_problem(review: ProofReview) -> tuple[str, str] | None:
    """Default: a request for rework says what to change, so that the organisation can resubmit."""
    if review.decision == "rework" and not (review.reason or "").strip():
        return "reason", "a request for rework needs a reason"
    return None


def settlement(granted_cents: int, paid_cents: int, spent_cents: int) -> tuple[int, int]:
    """What goes back to the fiscal-year budget once the proof of use is accepted (DOMAIN.md flow 6:
    unspent money returns to the budget): (returned, released) = (paid - spent, granted - paid), the
    paid-out but unspent money and the granted but never drawn money."""
    if not 0 <= spent_cents <= paid_cents <= granted_cents:
        raise ValueError("expected 0 <= spent <= paid <= granted")
    return paid_cents - spent_cents, granted_cents - paid_cents


# --- drawdowns (Mittelabruf) --------------------------------------------------------------------


class DrawdownRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_cents: int = Field(gt=0, le=10**9)


class DrawdownOut(BaseModel):
    drawdown_id: uuid.UUID
    application_id: uuid.UUID
    amount_cents: int
    status: Literal["requested", "paid"]
    requested_by: str
    paid_by: str | None = None


def drawdowns_allowed(requested: bool, status: str) -> bool:
    """The decision allows drawdowns when the steering group approved an application that asked for
    payout in parts (002 §5: the steering group decides the measure as applied for)."""
    return requested and status not in (MeasureStatus.SUBMITTED, MeasureStatus.IN_ROUND, MeasureStatus.REJECTED)


def drawdown_problem(granted_cents: int, drawn_cents: int, amount_cents: int) -> str | None:
    """The sum of drawdowns never exceeds the granted amount (002 §5 grants a measure an amount;
    default: partial payouts on request where the decision allows them). `drawn_cents` counts every
    drawdown requested or paid so far."""
    if amount_cents <= 0:
        return "amount_cents must be positive"
    if drawn_cents + amount_cents > granted_cents:
        return f"the drawdowns would add up to {drawn_cents + amount_cents} cents, more than the {granted_cents} cents granted"
    return None


# --- receipts (Belege) --------------------------------------------------------------------------

#: Accepted receipt formats by their first bytes (magic numbers), never by name or declared type.
RECEIPT_MAGIC = ((b"%PDF-", "application/pdf", "pdf"), (b"\x89PNG\r\n\x1a\n", "image/png", "png"), (b"\xff\xd8\xff", "image/jpeg", "jpg"))


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"

    def to_body(self) -> dict[str, object]:
        return {"detail": [{"loc": ["body", self.field or "file"], "msg": self.message, "type": self.code}]}


def receipt_media_type(head: bytes) -> str | None:
    """The receipt's real type from its magic bytes: PDF, PNG or JPEG (default, setting none: the
    formats a municipal cash office archives); None for anything else."""
    for magic, media_type, _ in RECEIPT_MAGIC:
        if head.startswith(magic):
            return media_type
    return None


def receipt_problem(size: int, head: bytes, stored_total: int, max_bytes: int, total_max_bytes: int) -> tuple[int, str] | None:
    """(status, German reason) when a receipt is refused: empty, too large (413; default 5 MB each,
    setting FUNDING_RECEIPT_MAX_BYTES), over the total per measure (413; FUNDING_RECEIPTS_TOTAL_MAX_BYTES)
    or not a PDF, PNG or JPEG by its content (422)."""
    if size == 0:
        return 422, "Die Datei ist leer."
    if size > max_bytes:
        return 413, f"Die Datei ist zu groß (höchstens {max_bytes / 1_000_000:.0f} MB je Beleg)."
    if stored_total + size > total_max_bytes:
        return 413, f"Die Belege dieser Maßnahme überschreiten zusammen {total_max_bytes / 1_000_000:.0f} MB."
    if receipt_media_type(head) is None:
        return 422, "Nur PDF-, PNG- oder JPEG-Dateien sind als Beleg erlaubt (der Inhalt ist keine solche Datei)."
    return None


class ReceiptOut(BaseModel):
    receipt_id: uuid.UUID
    application_id: uuid.UUID
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    proof_version: int | None = Field(None, description="The proof-of-use version it was first submitted with (None: not yet submitted).")


class YearStatement(BaseModel):
    fund: Fund
    fiscal_year: int
    budget_cents: int
    approved_cents: int
    paid_cents: int
    returned_cents: int
    remaining_cents: int
