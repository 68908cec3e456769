"""Funds, budgets, the ledger's vocabulary and the decision rules of the hardship fund (DOMAIN.md flow 5,
seed 000 "Härtefallfond") and the discretionary fund (flow 6, seed 002 §5), as pure functions: no I/O,
no database, no Temporal. The hardship approval's rules that its workflow applies too live in
`services.contracts.funding_workflows` and are re-exported here; the HTTP models are in `schemas.py`."""

from __future__ import annotations

import enum
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from services.contracts.funding_workflows import HardshipState
from services.contracts.funding_workflows import Refusal as Refusal  # the hardship rules workflows share live in contracts
from services.contracts.funding_workflows import deciders_required as deciders_required
from services.contracts.funding_workflows import four_eyes_refusal as four_eyes_refusal
from services.contracts.funding_workflows import hardship_step_refusal as hardship_step_refusal
from services.contracts.funding_workflows import majority as majority
from services.contracts.funding_workflows import meeting_tally as meeting_tally
from services.contracts.funding_workflows import proof_expected as proof_expected
from services.contracts.funding_workflows import proof_reclaimable as proof_reclaimable
from services.contracts.funding_workflows import proof_reviewable as proof_reviewable
from services.contracts.funding_workflows import quorum as quorum
from services.contracts.funding_workflows import third_person_refusal as third_person_refusal
from services.contracts.vocab import DISCRETIONARY_AREAS
from services.kit.errors import Conflict, DomainError, Forbidden, Invalid

if TYPE_CHECKING:
    from services.funding.schemas import HardshipCriteria, MeasureApply, ProofItem, ProofReview


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
    """`months` calendar months later, clamped to the month's end (the proof of use is due N months after
    the measure ends, 002 §5 / DOMAIN.md flow 6; the hardship period is at most N months, 000 "Härtefallfond")."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(d, day.day))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- hardship fund -----------------------------------------------------------------------------


class HardshipStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    PAYMENT_ORDERED = "payment_ordered"
    DISBURSED = "disbursed"
    REJECTED = "rejected"
    REDIRECTED = "redirected"
    CANCELLED = "cancelled"


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


def measure_problem(cmd: MeasureApply) -> tuple[str, str] | None:
    """Cross-field checks of an application to the discretionary fund (002 §5: a measure for a period,
    its amount the sum of its budget lines), reported as 422 on the named field."""
    if cmd.period_end < cmd.period_start:
        return "period_end", "period_end is before period_start"
    if sum(b.amount_cents for b in cmd.budget_lines) != cmd.amount_cents:
        return "amount_cents", "amount_cents must equal the sum of the budget lines"
    return None


def over_limit_problem(amount_cents: int, justification: str | None, normal_max_cents: int) -> str | None:
    """002 §5: normally at most 5,000 EUR per measure (FUNDING_MEASURE_NORMAL_MAX_CENTS); above it a
    written justification is required (and the application is flagged to the steering group)."""
    if amount_cents > normal_max_cents and not (justification or "").strip():
        return f"above {normal_max_cents} cents a written justification is required"
    return None


def proof_problem(items: list[ProofItem], paid_cents: int, period_start: date, today: date) -> tuple[str, str] | None:
    """A proof of use accounts for money actually paid out (002 §5 grants; default: the spending lies
    between the measure's start and today, and adds up to at most the paid amount). Returns (field, reason)."""
    for i, item in enumerate(items):
        if item.spent_on < period_start:
            return f"items.{i}.spent_on", "spent_on is before the measure started"
        if item.spent_on > today:
            return f"items.{i}.spent_on", "spent_on must not be in the future"
    over = overspent_problem(sum(i.amount_cents for i in items), paid_cents)
    return ("items", over) if over else None


def overspent_problem(spent_cents: int, paid_cents: int) -> str | None:
    """A proof of use accounts for at most the money paid out (002 §5; DOMAIN.md flow 6: unspent money
    returns to the budget, so spending above the payout cannot be accounted for). Checked by the API on
    the submission and again by the activity on the stored draft."""
    if spent_cents > paid_cents:
        return f"the items add up to {spent_cents} cents, more than the {paid_cents} cents paid out"
    return None


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


def clean_filename(name: str | None) -> str:
    """A receipt's file name as shown back: no path, no characters a file system or header rejects, at most 200."""
    base = (name or "beleg").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*').strip() or "beleg"
    return base[-200:]


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


