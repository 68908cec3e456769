"""Reporting's rules, pure (no I/O, no database, no Temporal): periods and quarter arithmetic, facts
derived from events, which report a request asks for and who receives it, when a scheduled run is
due, and small-cell suppression. The catalogue's rules (strategic goals, providers, reported
figures) are in domain_catalogue.py.

Reports hold aggregates only (DOMAIN.md flow 7, "Data protection"): facts keep pseudonymous ids and
coarse attributes of the contract events, never more than the events carry.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.contracts import Event
from services.contracts.workdays import nth_working_day_of_month
from services.kit.errors import Invalid, NotFound
from services.reporting.models import Funder, FunderConfig

# ---- periods --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A reporting period: a month `2026-10`, a quarter `2026-Q3` or a year `2026` (calendar, local time)."""

    key: str
    kind: Literal["month", "quarter", "year"]
    start: date
    end: date  # exclusive

    def window(self, tz: str) -> tuple[datetime, datetime]:
        z = ZoneInfo(tz)
        return (datetime.combine(self.start, time(), z).astimezone(UTC), datetime.combine(self.end, time(), z).astimezone(UTC))

    def months(self) -> list[Period]:
        out, d = [], self.start
        while d < self.end:
            out.append(parse_period(f"{d.year}-{d.month:02d}"))
            d = add_months(d, 1)
        return out

    def quarters(self) -> list[Period]:
        return [parse_period(q) for q in dict.fromkeys(quarter_of(m.start) for m in self.months())]


def add_months(d: date, n: int) -> date:
    """The first day of the month `n` months after (or before) the month of `d`."""
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def quarter_of(d: date) -> str:
    """The calendar quarter of a day, `YYYY-Qn` (quarters begin in January, April, July, October)."""
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def parse_period(key: str) -> Period:
    """Raises ValueError with a reason for anything but YYYY, YYYY-Qn or YYYY-MM."""
    try:
        if len(key) == 4 and key.isdigit():
            y = int(key)
            return Period(key, "year", date(y, 1, 1), date(y + 1, 1, 1))
        if len(key) == 7 and key[4:6] == "-Q" and key[6] in "1234":
            y, q = int(key[:4]), int(key[6])
            start = date(y, 3 * q - 2, 1)
            return Period(key, "quarter", start, add_months(start, 3))
        if len(key) == 7 and key[4] == "-":
            y, m = int(key[:4]), int(key[5:])
            start = date(y, m, 1)
            return Period(key, "month", start, add_months(start, 1))
    except ValueError:
        pass
    raise ValueError(f"period {key!r} is not a month (2026-10), a quarter (2026-Q3) or a year (2026)")


def previous_period(kind: str, today: date) -> Period:
    """The last complete month or quarter before `today` (what a schedule reports on)."""
    if kind == "month":
        d = add_months(date(today.year, today.month, 1), -1)
        return parse_period(f"{d.year}-{d.month:02d}")
    q_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return parse_period(quarter_of(add_months(q_start, -3)))


# ---- facts from events ------------------------------------------------------------------------------

#: Which field of an event is its category in the facts (a step, outcome, reason or decision).
CATEGORY_FIELD = {
    "ReferralStepRecorded": "step", "ReferralClosed": "outcome", "CaseClosed": "reason", "ClearingClosed": "outcome",
    "HardshipRejected": "reason", "HardshipDecisionRecorded": "decision", "MeasureDecided": "decision", "GoalSet": "status",
    "CaseEscalated": "kind", "ReferralMade": "purpose", "HardshipApplied": "purpose_category", "ReferralEscalated": "breach",
    "HardshipEscalated": "kind", "CaseAssigned": "reason", "CasePhaseChanged": "to_phase", "MeasureApplied": "organisation_kind",
    "BudgetSet": "fund", "FundYearClosed": "fund",
}
#: The value column: an amount in cents or another number the KPIs sum.
VALUE_FIELD = {
    "ReviewCompleted": "achieved", "FirstContactRecorded": "days_after_opening", "ReferralStepRecorded": "working_days_since_referral",
    "ProofOfUseReceived": "spent_cents", "ClearingCompleted": "days_after_move_in", "HardshipCancelled": "released_cents",
    "FundYearClosed": "approved_cents",
}
SUBJECT_FIELDS = ("application_id", "person_id", "goal_id", "clearing_id", "referral_id", "case_id", "intake_id", "record_id", "round_id")
ABRA_EVENTS = {"ClearingStarted", "ClearingAppointmentBooked", "ClearingNoShow", "ClearingCompleted", "RegistrationDeadlineMissed", "ClearingClosed"}
FIRST_CONTACT_DAYS = 14  # DOMAIN.md flow 3 default: first contact within 14 days of case opening


def fact_of(event: Event, tz: str) -> dict[str, Any]:
    """One row of the `facts` projection for any contract event: kind, local month and quarter,
    pseudonymous subject and case ids, coarse attributes, a count `n` and a `value`."""
    name = event.event_type
    get = lambda f: getattr(event, f, None)  # noqa: E731
    category = get(CATEGORY_FIELD[name]) if name in CATEGORY_FIELD else None
    if name == "FirstContactRecorded":
        category = "within_14_days" if event.days_after_opening <= FIRST_CONTACT_DAYS else "late"  # type: ignore[attr-defined]
    if name == "ClearingCompleted":
        category = "long_term_coaching" if event.long_term_coaching else "cleared"  # type: ignore[attr-defined]
    fields = get("fields_of_action") or []
    n = 1
    if name in ("IntakeCompleted", "IntakeCorrected"):
        n = len(event.persons)  # type: ignore[attr-defined]
    elif name == "CaseOpened":
        n = len(event.member_ids)  # type: ignore[attr-defined]
    value = get(VALUE_FIELD[name]) if name in VALUE_FIELD else get("amount_cents")
    subject = next((get(f) for f in SUBJECT_FIELDS if get(f) is not None), event.correlation_id)
    if name == "GoalSet":  # goals_set counts goals: the goal is the subject, also when it is for one person
        subject = event.goal_id  # type: ignore[attr-defined]
    local = event.occurred_at.astimezone(ZoneInfo(tz)).date()
    partner = get("partner") or get("to_partner")
    return {
        "event_id": event.event_id,
        "kind": name,
        "tenant": event.tenant,
        "occurred_at": event.occurred_at,
        "month": f"{local.year}-{local.month:02d}",
        "quarter": quarter_of(local),
        "district": get("district"),
        "programme": "ABRA" if name in ABRA_EVENTS else get("programme"),
        "field_of_action": get("field_of_action") or (fields[0] if fields else None),
        "case_id": str(get("case_id")) if get("case_id") else None,
        "subject_id": str(subject),
        "category": str(category) if category is not None else None,
        "partner": str(partner) if partner is not None else None,
        "n": n,
        "value": int(value or 0),
    }



# ---- reports --------------------------------------------------------------------------------------

REPORT_NAMESPACE = uuid.UUID("7b0b6c1e-3f7a-4a53-9d7e-2b1f0f6a6e01")


def report_id_for(tenant: str, kind: str, funder: str | None, period: str) -> uuid.UUID:
    """Business key: one frozen report per tenant, kind, funder and period, so a schedule that runs
    twice (or a retried activity) finds the report it made before."""
    return uuid.uuid5(REPORT_NAMESPACE, f"{tenant}:{kind}:{funder or '-'}:{period}")


def report_target(config: FunderConfig, kind: str, funder_key: str | None, period_key: str) -> tuple[Period, Funder | None]:
    """The period and funder a report request names, or the reason it names none (Invalid / NotFound,
    with the field): a funder report goes to a configured funder for one of the periods it receives
    (data/funders.yaml); the monthly statistics cover one month (002 §4.1), the integration-management
    KPI report one quarter (000 §6.4 item 4c); neither has a funder."""
    try:
        period = parse_period(period_key)
    except ValueError as exc:
        raise Invalid(str(exc), field="period") from exc
    funder = None
    if kind == "funder":
        if not funder_key:
            raise Invalid("a funder report needs a funder", field="funder")
        funder = config.funder(funder_key)
        if funder is None:
            raise NotFound(f"funder {funder_key!r} is not configured", field="funder")
        if period.kind not in funder.periods:
            raise Invalid(f"funder {funder_key} receives reports per {', '.join(funder.periods)}, not per {period.kind}", field="period")
    elif funder_key:
        raise Invalid(f"{kind} reports have no funder", field="funder")
    if kind == "monthly_statistics" and period.kind != "month":
        raise Invalid("the monthly statistics cover one month (YYYY-MM)", field="period")
    if kind == "im_kpi_quarterly" and period.kind != "quarter":
        raise Invalid("the KPI report covers one quarter (YYYY-Qn)", field="period")
    return period, funder


def recipients_for(config: FunderConfig, kind: str, funder_key: str | None) -> list[str]:
    """Who receives a report by e-mail (DOMAIN.md flow 7 "delivered automatically"): a funder report its
    funder's contacts, the other kinds their distribution list (data/funders.yaml)."""
    if kind == "funder":
        f = config.funder(funder_key) if funder_key else None
        return list(f.contacts) if f else []
    return list(config.distribution_lists.get(kind, []))


def watermark_text(marks: dict[str, int]) -> str:
    """The projections' state a report was made from (events applied per stream), frozen with it so a
    reader can tell which events a figure rests on."""
    return json.dumps({"events": sum(marks.values()), "streams": marks}, sort_keys=True, separators=(",", ":"))


# ---- schedules ------------------------------------------------------------------------------------


def due_date(cadence: str, fired_local: datetime, monthly_day: int, quarterly_day: int) -> date:
    """Monthly: the n-th working day of the month the schedule fired in (default 3rd, NRW holidays);
    quarterly: the n-th working day of the quarter's first month (ARCHITECTURE.md "report schedule")."""
    n = monthly_day if cadence == "monthly" else quarterly_day
    return nth_working_day_of_month(fired_local.year, fired_local.month, n)


def scheduled_run(cadence: str, fired_at: datetime, tz: str, monthly_day: int, quarterly_day: int, hour: int) -> tuple[Period, datetime]:
    """What a scheduled run reports on (the month or quarter just ended) and when it is due (the
    configured working day at the configured local hour)."""
    zone = ZoneInfo(tz)
    local = fired_at.astimezone(zone)
    day = due_date(cadence, local, monthly_day, quarterly_day)
    period = previous_period("month" if cadence == "monthly" else "quarter", local.date())
    return period, datetime.combine(day, time(hour), zone)


# ---- small-cell suppression ---------------------------------------------------------------------

def suppress(matrix: list[list[int]], threshold: int, *, with_totals: bool = True) -> tuple[list[list[int | None]], set[tuple[int, int]]]:
    """Small-cell suppression of a count table (DOMAIN.md flow 7: cells below 5 are not shown).

    `matrix` is R x C counts of persons or cases. With `with_totals` the result is (R+1) x (C+1) with
    row totals, column totals and the grand total appended. Primary: every cell (totals included)
    with 0 < value < threshold is hidden. Secondary: in every row and column (each with its total) a
    single hidden cell could be derived from the others, so while any line has exactly one hidden
    cell, the smallest visible non-zero cell of that line (inner cells before totals) is hidden too.
    Zeros stay visible: they reveal nothing about a person. Returns the table with None for hidden
    cells and the hidden positions.
    """
    rows = [list(r) for r in matrix]
    if with_totals:
        width = len(rows[0]) if rows else 0
        rows = [r + [sum(r)] for r in rows]
        rows.append([sum(r[c] for r in rows) for c in range(width + 1)])
    if not rows or not rows[0]:
        return [list(r) for r in rows], set()
    nr, nc = len(rows), len(rows[0])
    hidden = {(i, j) for i in range(nr) for j in range(nc) if 0 < rows[i][j] < threshold}
    if with_totals:
        lines = [[(i, j) for j in range(nc)] for i in range(nr)] + [[(i, j) for i in range(nr)] for j in range(nc)]
    else:
        lines = []
    changed = True
    while changed:
        changed = False
        for line in lines:
            inside = [p for p in line if p in hidden]
            if len(inside) != 1:
                continue
            candidates = [p for p in line if p not in hidden and rows[p[0]][p[1]] > 0]
            if not candidates:
                continue  # every other cell is a visible zero: the hidden one equals the total, also hidden
            is_total = lambda p: with_totals and (p[0] == nr - 1 or p[1] == nc - 1)  # noqa: E731
            pick = min(candidates, key=lambda p: (is_total(p), rows[p[0]][p[1]], p))
            hidden.add(pick)
            changed = True
    out = [[None if (i, j) in hidden else rows[i][j] for j in range(nc)] for i in range(nr)]
    return out, hidden
