"""Reporting's domain: facts derived from events, periods, KPI definitions, the measures catalogue,
the six strategic goals, the figures providers report per quarter, funders, and small-cell
suppression. Pure: no I/O (loading the data files is the only file access).

Reports hold aggregates only (DOMAIN.md flow 7, "Data protection"): facts keep pseudonymous ids and
coarse attributes of the contract events, never more than the events carry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.contracts import Event
from services.contracts.vocab import AgeGroup

DATA = Path(__file__).with_name("data")

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
            d = _add_months(d, 1)
        return out

    def quarters(self) -> list[Period]:
        return [parse_period(q) for q in dict.fromkeys(quarter_of(m.start) for m in self.months())]


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def quarter_of(d: date) -> str:
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
            return Period(key, "quarter", start, _add_months(start, 3))
        if len(key) == 7 and key[4] == "-":
            y, m = int(key[:4]), int(key[5:])
            start = date(y, m, 1)
            return Period(key, "month", start, _add_months(start, 1))
    except ValueError:
        pass
    raise ValueError(f"period {key!r} is not a month (2026-10), a quarter (2026-Q3) or a year (2026)")


def previous_period(kind: str, today: date) -> Period:
    """The last complete month or quarter before `today` (what a schedule reports on)."""
    if kind == "month":
        d = _add_months(date(today.year, today.month, 1), -1)
        return parse_period(f"{d.year}-{d.month:02d}")
    q_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return parse_period(quarter_of(_add_months(q_start, -3)))


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


def month_of(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


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


# ---- KPIs -----------------------------------------------------------------------------------------

Grouping = Literal["month", "quarter", "district", "field_of_action", "programme", "partner"]
Measure = Literal["count", "sum_n", "sum_value", "distinct_subject", "active_cases", "active_members", "arrivals"]


class KpiDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label: str
    definition: str
    source_events: list[str]
    measure: Measure
    where: dict[str, str | int | list[str]] = Field(default_factory=dict)
    groupings: list[Grouping]
    unit: Literal["count", "cents"] = "count"

    @field_validator("where")
    @classmethod
    def _known_columns(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = set(value) - {"category", "partner", "programme", "district", "field_of_action"}
        if unknown:
            raise ValueError(f"cannot filter on {sorted(unknown)}")
        return value


@lru_cache(maxsize=4)
def load_kpis(path: Path = DATA / "kpis.yaml") -> dict[str, KpiDefinition]:
    from services.contracts import all_events

    known = {cls.__name__ for cls in all_events().values()}
    kpis = [KpiDefinition.model_validate(k) for k in yaml.safe_load(path.read_text(encoding="utf-8"))["kpis"]]
    for k in kpis:
        missing = set(k.source_events) - known
        if missing:
            raise ValueError(f"KPI {k.name}: unknown source events {sorted(missing)}")
    return {k.name: k for k in kpis}


# ---- measures catalogue ---------------------------------------------------------------------------


#: The six strategic goals of the integration concept and the fields of action (000 §4) each one
#: names (000 §6.1 "Zielsetzungen des Integrationskonzepts": "die in Klammern gesetzten Ziffern
#: stehen für die in Kapitel 4 näher ausgeführten ... Handlungsfelder"). The grouping is not a
#: partition: §6.1 names field 7 under goals 2 and 3 and field 10 under goals 2 and 5, so a measure
#: in such a field contributes to both goals.
STRATEGIC_GOALS: dict[int, tuple[str, tuple[int, ...]]] = {
    1: ("Gesellschaftliche Teilhabe und gesellschaftlicher Zusammenhalt", (1, 2, 3, 5, 6, 8, 15)),
    2: ("Selbstständigkeit", (7, 9, 10)),
    3: ("Unterstützung", (4, 7, 13, 14)),
    4: ("Einstellungen und Haltungen", (11, 12)),
    5: ("Professionalität und Kooperation", (10, 17, 18)),
    6: ("Weiterentwicklung", (16,)),
}


def goals_of_fields(fields: list[int] | tuple[int, ...]) -> list[int]:
    """The strategic goals (000 §6.1) that fields of action (1-18) contribute to, in goal order."""
    wanted = set(fields)
    return [g for g, (_, fs) in STRATEGIC_GOALS.items() if wanted.intersection(fs)]


def goal_label(goal: int) -> str:
    return f"{goal} {STRATEGIC_GOALS[goal][0]}"


class FigureDefinition(BaseModel):
    """A figure a provider reports for a measure per quarter (data/figures.yaml). `persons`: the figure
    counts persons (or households), so reports suppress it below the threshold (DOMAIN.md flow 7)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,47}$")
    label: str
    definition: str
    persons: bool


@lru_cache(maxsize=4)
def load_figures(path: Path = DATA / "figures.yaml") -> dict[str, FigureDefinition]:
    defs = [FigureDefinition.model_validate(f) for f in yaml.safe_load(path.read_text(encoding="utf-8"))["figures"]]
    return {d.key: d for d in defs}


class MeasureFields(BaseModel):
    """What the reporting officer enters for a measure of the catalogue (000 §7 columns: Maßnahme,
    StA, kommunale Mittel, Drittmittel, Fördergeber, Maßnahmenträger; fields of action from 000 §6.3)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    page: int | None = None
    office: str = Field(min_length=1, max_length=100)
    municipal_concept_eur: int = Field(ge=0, le=100_000_000, description="Kommunale Mittel im Integrationskonzept, EUR p.a.")
    municipal_budget_eur: int = Field(ge=0, le=100_000_000, description="Kommunale Mittel aus bestehendem Budget, EUR p.a.")
    third_party_eur: int = Field(ge=0, le=100_000_000, description="Drittmittel, EUR p.a.")
    funders: list[str] = Field(default_factory=list)
    provider: str = Field(default="", max_length=300)
    fields_of_action: list[int] = Field(default_factory=list)
    age_groups: list[AgeGroup] = Field(default_factory=list)
    kpis: list[str] = Field(default_factory=list)
    figures: list[str] = Field(default_factory=list, description="Keys of the figures the provider reports per quarter (GET /figures/definitions)")
    fields_of_action_source: str | None = None

    @field_validator("fields_of_action")
    @classmethod
    def _fields(cls, value: list[int]) -> list[int]:
        bad = [v for v in value if not 1 <= v <= 18]
        if bad:
            raise ValueError(f"fields of action are 1..18 (000 §4), not {bad}")
        return sorted(set(value))

    @field_validator("funders")
    @classmethod
    def _funders(cls, value: list[str]) -> list[str]:
        clean = [v.strip() for v in value]
        if any(not v or len(v) > 100 for v in clean):
            raise ValueError("a funder is a name of 1 to 100 characters")
        return list(dict.fromkeys(clean))

    @field_validator("kpis")
    @classmethod
    def _kpis(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in load_kpis()]
        if unknown:
            raise ValueError(f"unknown KPIs {unknown}; see GET /kpis/definitions")
        return list(dict.fromkeys(value))

    @field_validator("figures")
    @classmethod
    def _figures(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in load_figures()]
        if unknown:
            raise ValueError(f"unknown figures {unknown}; see GET /figures/definitions")
        return list(dict.fromkeys(value))

    @field_validator("age_groups")
    @classmethod
    def _ages(cls, value: list[AgeGroup]) -> list[AgeGroup]:
        return sorted(set(value), key=list(AgeGroup).index)


class MeasureIn(MeasureFields):
    """A measure of the catalogue (000 §7), as loaded or edited."""

    number: int = Field(ge=1)


class MeasurePatch(BaseModel):
    """Changes to a measure through the API; omitted fields stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    office: str | None = Field(default=None, min_length=1, max_length=100)
    municipal_concept_eur: int | None = Field(default=None, ge=0, le=100_000_000)
    municipal_budget_eur: int | None = Field(default=None, ge=0, le=100_000_000)
    third_party_eur: int | None = Field(default=None, ge=0, le=100_000_000)
    funders: list[str] | None = None
    provider: str | None = Field(default=None, max_length=300)
    fields_of_action: list[int] | None = None
    age_groups: list[AgeGroup] | None = None
    kpis: list[str] | None = None
    figures: list[str] | None = None


class MeasureOut(MeasureIn):
    edited_by: str | None = None
    edited_at: datetime | None = None
    goals: list[int] = Field(default_factory=list, description="Strategic goals (000 §6.1) of its fields of action")


def load_measures(path: Path = DATA / "measures.yaml") -> list[MeasureIn]:
    return [MeasureIn.model_validate(m) for m in yaml.safe_load(path.read_text(encoding="utf-8"))["measures"]]


def next_measure_number(existing: list[int]) -> int:
    """A measure added to the catalogue gets the next number after the highest one (000 §7 numbers
    its measures 1-48 consecutively; default: new ones continue the count)."""
    return max(existing, default=0) + 1


def measure_matches(m: MeasureIn, *, field_of_action: int | None = None, funder: str | None = None, office: str | None = None, provider: str | None = None) -> bool:
    """The catalogue filters of the reporting officer's screen; None = no filter."""
    return (
        (field_of_action is None or field_of_action in m.fields_of_action)
        and (funder is None or funder in m.funders)
        and (office is None or office.strip().casefold() == m.office.casefold())
        and (provider is None or provides(m, provider))
    )


# ---- providers and their figures ----------------------------------------------------------------


def provider_names(measure_provider: str) -> set[str]:
    """The providers named in a measure's "Maßnahmenträger" column (000 §7): the whole entry, and each
    part of a joint entry ("Diakonie & Caritas", "neu/ Kommunales Integrationszentrum"), casefolded."""
    whole = measure_provider.strip().casefold()
    parts = {p.strip().casefold() for chunk in whole.split("&") for p in chunk.split("/")}
    return {whole, *parts} - {""}


def provides(measure: MeasureIn, provider: str | None) -> bool:
    """Whether a provider account (claim `provider`, deploy/seed_users.json) runs this measure and so
    reports its figures: its name is the measure's provider or one of a joint provider's."""
    return bool(provider and provider.strip() and provider.strip().casefold() in provider_names(measure.provider))


FIGURE_MAX = 1_000_000  # default: a quarter's figure above this is a typing error, not a count


def figure_period(key: str, today: date) -> Period:
    """The quarter a provider reports figures for (000 §6.4 item 4c: the integration-management KPIs
    are collected quarterly; funder reports go out per quarter, funders.yaml). Raises ValueError
    with the reason: not a quarter, or a quarter that has not begun."""
    p = parse_period(key)
    if p.kind != "quarter":
        raise ValueError(f"figures are reported per quarter (YYYY-Qn), not per {p.kind}")
    if p.start > today:
        raise ValueError(f"{key} has not begun; figures are reported for the current or a past quarter")
    return p


def due_quarter(today: date) -> Period:
    """The quarter whose figures are due: the last complete one (default; the quarterly funder
    reports go out on a working day after the quarter ends, REPORTING_QUARTERLY_WORKING_DAY)."""
    return previous_period("quarter", today)


def recent_quarters(today: date, count: int = 4) -> list[Period]:
    """The current quarter and the `count - 1` before it, newest first (the provider's choice)."""
    current = parse_period(quarter_of(today))
    out, d = [current], current.start
    for _ in range(count - 1):
        d = _add_months(d, -3)
        out.append(parse_period(quarter_of(d)))
    return out


def check_figures(measure: MeasureIn, values: dict[str, Any]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A provider's figures for one measure and quarter: every figure the measure reports
    (measure.figures) is given, as a whole number from 0 to FIGURE_MAX, and no other key. Returns the
    clean values and the errors as (field "values.<key>", reason); nothing is kept unless all pass."""
    errors: list[tuple[str, str]] = []
    clean: dict[str, int] = {}
    if not measure.figures:
        return {}, [("values", f"measure {measure.number} reports no figures; the reporting officer sets them in the catalogue")]
    for key, value in values.items():
        if key not in measure.figures:
            errors.append((f"values.{key}", f"measure {measure.number} does not report {key!r}; it reports {', '.join(measure.figures)}"))
        elif isinstance(value, bool) or not isinstance(value, int):
            errors.append((f"values.{key}", "must be a whole number"))
        elif value < 0:
            errors.append((f"values.{key}", "must not be negative"))
        elif value > FIGURE_MAX:
            errors.append((f"values.{key}", f"must be at most {FIGURE_MAX}"))
        else:
            clean[key] = value
    for key in measure.figures:
        if key not in values:
            errors.append((f"values.{key}", "field required"))
    return ({} if errors else clean), errors


def figures_missing(measures: list[MeasureIn], reported: set[int]) -> list[MeasureIn]:
    """Measures that report figures but have none for the period yet (the reporting officer's list)."""
    return [m for m in measures if m.figures and m.number not in reported]


def figure_shown(definition: FigureDefinition | None, value: int, threshold: int) -> bool:
    """A reported figure in a report: counts of persons below the threshold are suppressed like every
    other count of persons (DOMAIN.md flow 7, cells below 5); zeros and non-person counts (sessions
    held) are shown. An unknown key is treated as persons (the safe side)."""
    counts_persons = definition is None or definition.persons
    return not (counts_persons and 0 < value < threshold)


# ---- funders --------------------------------------------------------------------------------------


class Funder(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    name: str
    measures_funded_by: str | None = None
    all_measures: bool = False
    periods: list[Literal["month", "quarter", "year"]] = Field(default_factory=lambda: ["quarter", "year"])
    contacts: list[str] = Field(min_length=1)

    def funds(self, measure: MeasureIn) -> bool:
        return self.all_measures or (self.measures_funded_by is not None and self.measures_funded_by in measure.funders)


class FunderConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    funders: list[Funder]
    distribution_lists: dict[str, list[str]] = Field(default_factory=dict)
    reporting_officer: str | None = None

    def funder(self, key: str) -> Funder | None:
        return next((f for f in self.funders if f.key == key), None)


def load_funders(path: Path | None) -> FunderConfig:
    return FunderConfig.model_validate(yaml.safe_load((path or DATA / "funders.yaml").read_text(encoding="utf-8")))


# ---- reports --------------------------------------------------------------------------------------

ReportKind = Literal["funder", "monthly_statistics", "im_kpi_quarterly"]
REPORT_NAMESPACE = uuid.UUID("7b0b6c1e-3f7a-4a53-9d7e-2b1f0f6a6e01")


def report_id_for(tenant: str, kind: str, funder: str | None, period: str) -> uuid.UUID:
    """Business key: one frozen report per tenant, kind, funder and period, so a schedule that runs
    twice (or a retried activity) finds the report it made before."""
    return uuid.uuid5(REPORT_NAMESPACE, f"{tenant}:{kind}:{funder or '-'}:{period}")


Cell = int | str | None


class Table(BaseModel):
    """A table of a report. `suppressed` lists [row, col] of cells hidden by small-cell suppression
    (their value is None); the last row/column is the total when `totals` is set."""

    model_config = ConfigDict(extra="forbid")

    title: str
    columns: list[str]
    rows: list[list[Cell]]
    totals: bool = False
    suppressed: list[tuple[int, int]] = Field(default_factory=list)
    chart: Literal["bar", "heatmap", None] = None
    note: str | None = None


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    text: str | None = None
    tables: list[Table]


class ReportModel(BaseModel):
    """One report; PDF, XLSX, CSV and JSON are all rendered from this model and nothing else."""

    model_config = ConfigDict(extra="forbid")

    report_id: uuid.UUID
    kind: ReportKind
    funder: str | None = None
    period: str
    title: str
    tenant: str
    generated_at: datetime
    watermark: str
    suppression_threshold: int
    sections: list[Section]


# ---- small-cell suppression ---------------------------------------------------------------------

SUPPRESSED_MARK = "•"


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
