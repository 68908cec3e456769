"""The catalogue's rules, pure: the six strategic goals and the fields of action they name (000
§6.1), filtering and numbering the measures (000 §7), which provider runs a measure, and the figures
providers report per quarter (000 §6.4 item 4c) with their suppression in reports (DOMAIN.md flow 7)."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.kit.auth import Principal, Role
from services.reporting.domain import Period, add_months, parse_period, previous_period, quarter_of
from services.reporting.models import FigureDefinition, MeasureIn

# ---- strategic goals ------------------------------------------------------------------------------

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
    """A goal as reports and screens name it: its number and its name in 000 §6.1."""
    return f"{goal} {STRATEGIC_GOALS[goal][0]}"


# ---- measures ------------------------------------------------------------------------------------


def next_measure_number(existing: list[int]) -> int:
    """A measure added to the catalogue gets the next number after the highest one (000 §7 numbers
    its measures 1-48 consecutively; default: new ones continue the count)."""
    return max(existing, default=0) + 1


def measure_matches(
    m: MeasureIn, *, field_of_action: int | None = None, funder: str | None = None, office: str | None = None, provider: str | None = None,
) -> bool:
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
        d = add_months(d, -3)
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



def may_report(principal: Principal, measure: MeasureIn) -> bool:
    """Providers report for their own measures only; the reporting officer may enter or correct
    figures for any measure (e.g. for "diverse Träger", 000 §7, where no single provider account exists)."""
    if principal.has(Role.REPORTING_OFFICER.value):
        return True
    return principal.has(Role.MEASURE_PROVIDER.value) and provides(measure, principal.provider)

