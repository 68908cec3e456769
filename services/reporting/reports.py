"""Report models from the projections and the catalogue: funder reports (per funder and period, the
measures it funds with their money and KPIs), the monthly statistics (002 §4.1), the quarterly
integration-management KPI report (000 §6.4 item 4c) and the gaps-and-duplicates analysis of the
catalogue (000 §6.4 item 5b). Every count table passes small-cell suppression before it enters a model."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts.vocab import FIELD_OF_ACTION_LABELS, AgeGroup, FieldOfAction, ResidenceStatus, Sex
from services.reporting import store, store_kpis
from services.reporting.domain import Period, suppress
from services.reporting.domain_catalogue import STRATEGIC_GOALS, figure_shown, goal_label, goals_of_fields
from services.reporting.models import FigureDefinition, Funder, KpiDefinition, MeasureIn, ReportModel, Section, Table, load_figures, load_kpis

FIELD_LABELS = FIELD_OF_ACTION_LABELS
FLOW_MEASURES = ("count", "sum_n")  # additive over months and districts, so tables with totals make sense
DUPLICATE_THRESHOLD = 3  # default: 3+ measures of the same office (StA) for one field of action and age group = possible duplicate structure


def _fmt_eur(cents: int) -> str:
    return f"{cents / 100:,.2f} EUR".replace(",", "X").replace(".", ",").replace("X", ".")


def _table_with_totals(
    title: str, row_labels: list[str], col_labels: list[str], matrix: list[list[int]], threshold: int, head: str, chart: str | None = "bar",
) -> Table:
    shown, hidden = suppress(matrix, threshold, with_totals=True)
    rows = [[label, *shown[i]] for i, label in enumerate([*row_labels, "Summe"])]
    return Table(
        title=title, columns=[head, *col_labels, "Summe"], rows=rows, totals=True,
        suppressed=sorted((i, j + 1) for i, j in hidden), chart=chart,
    )


def _one_dim(title: str, head: str, col: str, counts: dict[str, int], threshold: int) -> Table:
    labels = sorted(counts)
    shown, hidden = suppress([[counts[k]] for k in labels], threshold, with_totals=True)
    rows = [[label, shown[i][0]] for i, label in enumerate([*labels, "Summe"])]
    return Table(title=title, columns=[head, col], rows=rows, totals=True, suppressed=sorted((i, 1) for i, j in hidden if j == 0), chart="bar")


async def kpi_rows(
    conn: AsyncConnection, kpis: list[KpiDefinition], period: Period, tz: str, threshold: int, dialect: str,
) -> tuple[list[list], list[tuple[int, int]]]:
    """Rows [name, label, value] with counts in 1..threshold-1 suppressed; amounts are hidden when they
    rest on fewer events than the threshold (one grant could otherwise be read off)."""
    rows, hidden = [], []
    for i, kpi in enumerate(kpis):
        value = (await store_kpis.kpi_value(conn, kpi, period, tz))[""]
        if kpi.unit == "cents":
            events = (await store_kpis.kpi_explain(conn, kpi, period, tz, dialect))["events"]
            small = 0 < events < threshold
            rows.append([kpi.name, kpi.label, None if small else _fmt_eur(value)])
        else:
            small = 0 < value < threshold
            rows.append([kpi.name, kpi.label, None if small else value])
        if small:
            hidden.append((i, 2))
    return rows, hidden


async def _monthly_kpi_table(conn: AsyncConnection, kpis: list[KpiDefinition], period: Period, tz: str, threshold: int) -> Table | None:
    flow = [k for k in kpis if k.measure in FLOW_MEASURES and k.unit == "count"]
    if not flow or period.kind == "month":
        return None
    months = period.months()
    matrix = []
    for kpi in flow:
        by = await store_kpis.kpi_value(conn, kpi, period, tz, "month")
        matrix.append([by.get(m.key, 0) for m in months])
    t = _table_with_totals("Kennzahlen nach Monat", [k.label for k in flow], [m.key for m in months], matrix, threshold, "Kennzahl")
    # a sum of different KPIs is meaningless: blank the bottom total row but keep its suppression effect
    t.rows = t.rows[:-1]
    t.suppressed = [p for p in t.suppressed if p[0] < len(t.rows)]
    return t


def catalogue_table(measures: list[MeasureIn], title: str = "Maßnahmen") -> Table:
    rows = [
        [m.number, m.name, m.office, m.municipal_concept_eur, m.municipal_budget_eur, m.third_party_eur, ", ".join(m.funders), m.provider,
         ", ".join(str(f) for f in m.fields_of_action)]
        for m in measures
    ]
    rows.append(["", "Summe", "", sum(m.municipal_concept_eur for m in measures), sum(m.municipal_budget_eur for m in measures),
                 sum(m.third_party_eur for m in measures), "", "", ""])
    return Table(
        title=title,
        columns=["Nr.", "Maßnahme", "StA", "Mittel im IK (EUR)", "bestehendes Budget (EUR)", "Drittmittel (EUR)", "Fördergeber", "Träger", "Handlungsfelder"],
        rows=rows, totals=True, note="Geldbeträge p.a. laut Maßnahmenübersicht (000 §7); keine Personenzahlen, daher keine Sperrung.",
    )


# ---- strategic goals and reported figures ---------------------------------------------------------

NOT_REPORTED = "nicht gemeldet"


def goals_table(measures: list[MeasureIn]) -> Table:
    """The measures grouped by the six strategic goals (000 §6.1) through their fields of action; a
    measure serving fields of two goals is listed under both, so the rows do not add up to the catalogue."""
    rows = []
    for goal, (_, fields) in STRATEGIC_GOALS.items():
        ms = [m for m in measures if goal in goals_of_fields(m.fields_of_action)]
        rows.append([goal_label(goal), ", ".join(map(str, fields)), len(ms), ", ".join(str(m.number) for m in ms),
                     sum(m.municipal_concept_eur + m.municipal_budget_eur for m in ms), sum(m.third_party_eur for m in ms)])
    return Table(
        title="Maßnahmen nach strategischen Zielen",
        columns=["Strategisches Ziel (000 §6.1)", "Handlungsfelder", "Anzahl Maßnahmen", "Maßnahmen (Nr.)", "kommunale Mittel (EUR)", "Drittmittel (EUR)"],
        rows=rows,
        note="Eine Maßnahme, deren Handlungsfelder zu mehreren Zielen gehören, steht bei jedem dieser Ziele. Katalogdaten, daher keine Sperrung.",
    )


def figures_table(measures: list[MeasureIn], reported: dict[str, dict[int, dict]], quarters: list[str], threshold: int,
                  defs: dict[str, FigureDefinition] | None = None) -> Table:
    """The figures the providers reported for these measures, one row per strategic goal, measure and
    figure, one column per quarter. Counts of persons below the threshold are suppressed
    (figure_shown); the table has no totals (distinct persons of different quarters or measures do
    not add up), so no secondary suppression is needed. A figure not reported shows as such."""
    defs = defs if defs is not None else load_figures()
    rows: list[list] = []
    hidden: list[tuple[int, int]] = []
    for goal in STRATEGIC_GOALS:
        for m in measures:
            if goal not in goals_of_fields(m.fields_of_action):
                continue
            for key in m.figures:
                d = defs.get(key)
                row: list = [goal_label(goal), m.number, m.name, d.label if d else key]
                for j, q in enumerate(quarters):
                    value = reported.get(q, {}).get(m.number, {}).get("values", {}).get(key)
                    if value is None:
                        row.append(NOT_REPORTED)
                    elif figure_shown(d, value, threshold):
                        row.append(value)
                    else:
                        row.append(None)
                        hidden.append((len(rows), 4 + j))
                rows.append(row)
    return Table(
        title="Von den Trägern gemeldete Kennzahlen nach strategischem Ziel",
        columns=["Strategisches Ziel", "Nr.", "Maßnahme", "Kennzahl", *quarters],
        rows=rows, suppressed=hidden,
        note=f"Quartalswerte der Maßnahmenträger. Personenzahlen unter {threshold} sind gesperrt; "
        "keine Summen, da dieselben Personen in mehreren Quartalen und Maßnahmen gezählt sein können.",
    )


def figures_section(measures: list[MeasureIn], reported: dict[str, dict[int, dict]], period: Period, threshold: int) -> Section:
    quarters = [q.key for q in period.quarters()]
    return Section(
        title="Kennzahlen der Maßnahmenträger nach strategischen Zielen",
        text="Die 18 Handlungsfelder sind den sechs strategischen Zielen des Integrationskonzepts zugeordnet (000 §6.1).",
        tables=[goals_table(measures), figures_table(measures, reported, quarters, threshold)],
    )


# ---- gaps and duplicates ------------------------------------------------------------------------


def coverage(measures: list[MeasureIn]) -> dict[tuple[int, str], list[int]]:
    """Which measures serve each field of action (1-18) and age group."""
    cells: dict[tuple[int, str], list[int]] = {(f.value, a.value): [] for f in FieldOfAction for a in AgeGroup}
    for m in measures:
        for f in m.fields_of_action:
            for a in m.age_groups:
                cells[(f, a.value)].append(m.number)
    return cells


def gaps_section(measures: list[MeasureIn]) -> Section:
    """000 §6.4 item 5b: fields of action and target (age) groups without any measure (gaps), and
    those served by several measures of the same kind, i.e. of the same office (DUPLICATE_THRESHOLD or
    more: possible duplicate structures)."""
    cells = coverage(measures)
    ages = [a.value for a in AgeGroup]
    heat = Table(
        title="Abdeckung: Handlungsfelder x Altersgruppen (Anzahl Maßnahmen)",
        columns=["Handlungsfeld", *ages],
        rows=[[f"{f.value} {FIELD_LABELS[f.value]}", *(len(cells[(f.value, a)]) for a in ages)] for f in FieldOfAction],
        chart="heatmap",
        note="Katalogdaten (keine Personen), daher keine Sperrung.",
    )
    gaps = Table(
        title="Lücken: keine Maßnahme",
        columns=["Handlungsfeld", "Altersgruppe"],
        rows=[[f"{f} {FIELD_LABELS[f]}", a] for (f, a), ms in sorted(cells.items()) if not ms],
    )
    by_number = {m.number: m for m in measures}
    dup_rows = []
    for (f, a), ms in sorted(cells.items()):
        offices: dict[str, list[int]] = defaultdict(list)
        for n in ms:
            offices[by_number[n].office].append(n)
        for office, same in sorted(offices.items()):
            if len(same) >= DUPLICATE_THRESHOLD:
                dup_rows.append([f"{f} {FIELD_LABELS[f]}", a, office, len(same), ", ".join(map(str, same))])
    dups = Table(
        title="Mögliche Doppelstrukturen: mehrere Maßnahmen desselben Amts",
        columns=["Handlungsfeld", "Altersgruppe", "StA", "Anzahl", "Maßnahmen (Nr.)"],
        rows=dup_rows,
        note=f"Gleiches Handlungsfeld, gleiche Altersgruppe, {DUPLICATE_THRESHOLD} oder mehr Maßnahmen desselben Verwaltungsbereichs.",
    )
    return Section(title="Angebotslücken und Doppelstrukturen", tables=[heat, gaps, dups])


# ---- the reports --------------------------------------------------------------------------------


async def funder_report(
    conn: AsyncConnection, report_id: uuid.UUID, funder: Funder, period: Period, measures: list[MeasureIn],
    *, tz: str, threshold: int, dialect: str, tenant: str, now: datetime, watermark: str,
) -> ReportModel:
    """The measures the funder pays, the KPIs from events of those measures, and the figures their
    providers reported for the period's quarters, grouped by strategic goal (000 §6.1)."""
    funded = [m for m in measures if funder.funds(m)]
    all_kpis = load_kpis()
    names = list(dict.fromkeys(k for m in funded for k in m.kpis))
    kpis = [all_kpis[n] for n in names if n in all_kpis]
    rows, hidden = await kpi_rows(conn, kpis, period, tz, threshold, dialect)
    owners = {n: ", ".join(str(m.number) for m in funded if n in m.kpis) for n in names}
    kpi_table = Table(
        title=f"Kennzahlen {period.key}", columns=["Kennzahl", "Bezeichnung", "Wert", "Maßnahme (Nr.)"],
        rows=[[*r, owners[r[0]]] for r in rows], suppressed=hidden, chart="bar",
    )
    tables = [kpi_table]
    monthly = await _monthly_kpi_table(conn, kpis, period, tz, threshold)
    if monthly is not None:
        tables.append(monthly)
    sections = [
        Section(title="Geförderte Maßnahmen", tables=[catalogue_table(funded)]),
        Section(title="Kennzahlen", text=f"Zeitraum {period.start.isoformat()} bis {period.end.isoformat()} (ausschließlich), Zeitzone {tz}.", tables=tables),
        figures_section(funded, {q.key: await store.current_figures(conn, q.key) for q in period.quarters()}, period, threshold),
    ]
    if funder.all_measures:
        sections.append(gaps_section(measures))
    return ReportModel(
        report_id=report_id, kind="funder", funder=funder.key, period=period.key, title=f"Bericht an {funder.name} · {period.key}",
        tenant=tenant, generated_at=now, watermark=watermark, suppression_threshold=threshold, sections=sections,
    )


async def monthly_statistics(
    conn: AsyncConnection, report_id: uuid.UUID, period: Period, *, tz: str, threshold: int, tenant: str, now: datetime, watermark: str,
) -> ReportModel:
    """002 §4.1 "Allgemeine Daten zur Flüchtlingsentwicklung": arrivals by nationality, residence
    status, sex and age group; cases opened and closed; referrals and outcomes."""
    rows = await store_kpis.arrivals_of_months(conn, [m.key for m in period.months()])
    by_nat = Counter(r.nationality for r in rows)
    sexes = [s.value for s in Sex]
    statuses = [s.value for s in ResidenceStatus]
    ages = [g.value for g in AgeGroup]
    status_sex = [[sum(1 for r in rows if r.residence_status == st and r.sex == sx) for sx in sexes] for st in statuses]
    age_sex = [[sum(1 for r in rows if r.age_group == ag and r.sex == sx) for sx in sexes] for ag in ages]
    arrivals = Section(title="Zuzüge", tables=[
        _one_dim("Zuzüge nach Staatsangehörigkeit", "Staatsangehörigkeit", "Zuzüge", dict(by_nat), threshold),
        _table_with_totals("Zuzüge nach Aufenthaltsstatus und Geschlecht", statuses, sexes, status_sex, threshold, "Aufenthaltsstatus"),
        _table_with_totals("Zuzüge nach Altersgruppe und Geschlecht", ages, sexes, age_sex, threshold, "Altersgruppe"),
    ])
    kpis = load_kpis()
    programmes = ["Soziales Fallmanagement", "ABRA"]
    case_matrix = []
    for prog in programmes:
        row = []
        for name in ("cases_opened", "cases_closed", "cases_active"):
            row.append((await store_kpis.kpi_value(conn, kpis[name], period, tz, "programme")).get(prog, 0))
        case_matrix.append(row)
    shown, hidden = suppress(case_matrix, threshold, with_totals=False)
    cases_t = Table(title="Fälle nach Programm", columns=["Programm", "eröffnet", "abgeschlossen", "in Betreuung"],
                    rows=[[p, *shown[i]] for i, p in enumerate(programmes)], suppressed=sorted((i, j + 1) for i, j in hidden), chart="bar")
    referrals = await store_kpis.kpi_value(conn, kpis["referrals_made"], period, tz, "partner")
    outcomes = await store_kpis.referral_outcomes(conn, *period.window(tz))
    sections = [
        arrivals,
        Section(title="Fälle", tables=[cases_t]),
        Section(title="Überleitungen", tables=[
            _one_dim("Überleitungen nach Partner", "Partner", "Überleitungen", {k or "-": v for k, v in referrals.items()}, threshold),
            _one_dim("Abgeschlossene Überleitungen nach Ergebnis", "Ergebnis", "Anzahl", {k or "-": int(v) for k, v in outcomes.items()}, threshold),
        ]),
    ]
    return ReportModel(
        report_id=report_id, kind="monthly_statistics", period=period.key, title=f"Monatsstatistik Zuwanderung und Integration · {period.key}",
        tenant=tenant, generated_at=now, watermark=watermark, suppression_threshold=threshold, sections=sections,
    )


async def im_kpi_quarterly(
    conn: AsyncConnection, report_id: uuid.UUID, period: Period, measures: list[MeasureIn],
    *, tz: str, threshold: int, dialect: str, tenant: str, now: datetime, watermark: str,
) -> ReportModel:
    """000 §6.4 item 4c: the integration-management KPIs collected quarterly, overall and by district."""
    kpis = list(load_kpis().values())
    rows, hidden = await kpi_rows(conn, kpis, period, tz, threshold, dialect)
    overall = Table(title=f"Kennzahlen {period.key}", columns=["Kennzahl", "Bezeichnung", "Wert"], rows=rows, suppressed=hidden)
    flow = [k for k in kpis if k.measure in FLOW_MEASURES and k.unit == "count" and "district" in k.groupings]
    per: dict[str, dict[str, int]] = defaultdict(dict)
    for k in flow:
        for d, v in (await store_kpis.kpi_value(conn, k, period, tz, "district")).items():
            per[k.name][d or "-"] = v
    districts = sorted({d for v in per.values() for d in v})
    tables = [overall]
    if districts:
        matrix = [[per[k.name].get(d, 0) for d in districts] for k in flow]
        t = _table_with_totals("Kennzahlen nach Sozialraum", [k.label for k in flow], districts, matrix, threshold, "Kennzahl")
        t.rows = t.rows[:-1]
        t.suppressed = [p for p in t.suppressed if p[0] < len(t.rows)]
        tables.append(t)
    monthly = await _monthly_kpi_table(conn, flow, period, tz, threshold)
    if monthly is not None:
        tables.append(monthly)
    return ReportModel(
        report_id=report_id, kind="im_kpi_quarterly", period=period.key, title=f"Kennzahlen Integrationsmanagement · {period.key}",
        tenant=tenant, generated_at=now, watermark=watermark, suppression_threshold=threshold,
        sections=[Section(title="Kennzahlen", tables=tables), gaps_section(measures)],
    )
