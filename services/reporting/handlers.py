"""Reporting's coordination: projections (every contract event becomes a fact row and updates the
case and arrival projections and the watermark, in the same transaction as its inbox record, so a
redelivery changes nothing; the same `project_batch` runs live and for `ankommen reporting rebuild`),
the measures catalogue and the figures providers report. Reports: handlers_reports.py."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts import Event
from services.kit.auth import Principal
from services.kit.broker import Delivery
from services.kit.db import utc_now
from services.kit.errors import Forbidden, Invalid, NotFound
from services.reporting import store, store_kpis
from services.reporting.domain import Period, parse_period
from services.reporting.domain_catalogue import (
    check_figures,
    figure_period,
    figures_missing,
    goals_of_fields,
    may_report,
    next_measure_number,
    provides,
)
from services.reporting.models import MeasureIn, load_kpis, load_measures
from services.reporting.runtime import ReportingRuntime
from services.reporting.schemas import FigureVersion, KpiDetail, KpiFigure, KpiFigures, MeasureFigures, MeasureOut


async def on_event(rt: ReportingRuntime, event: Event, delivery: Delivery) -> None:
    """Live projection: the event and its inbox record are committed in a group commit with the
    events that arrive meanwhile (services/reporting/group_commit.py); returns once committed."""
    await rt.group_commit.submit(event, delivery.consumer)


# ---- measures catalogue ---------------------------------------------------------------------------


async def load_catalogue(rt: ReportingRuntime) -> int:
    """Upserts the 48 measures of the data file at start; measures edited or added through the API keep their edits."""
    count = 0
    async with rt.db.begin() as conn:
        edited = await store.edited_measure_numbers(conn)
        rows = {r.number: r for r in await store.measure_rows(conn)}
        for m in load_measures():
            if m.number in edited:
                row = rows[m.number]
                if "figures" not in row.data:  # edited before providers reported figures (issue 14): take the file's
                    await store.update_measure(conn, m.number, {**row.data, "figures": m.figures}, row.edited_by, row.edited_at)
                continue
            await store.upsert_measure(conn, m.number, m.model_dump(mode="json"))
            count += 1
    return count


def _measure_out(row: Any) -> MeasureOut:
    m = MeasureIn.model_validate(row.data)
    return MeasureOut(**m.model_dump(), edited_by=row.edited_by, edited_at=row.edited_at, goals=goals_of_fields(m.fields_of_action))


async def read_measures(conn: AsyncConnection) -> list[MeasureOut]:
    return [_measure_out(r) for r in await store.measure_rows(conn)]


async def read_measure(conn: AsyncConnection, number: int) -> MeasureOut:
    row = await store.measure_row(conn, number)
    if row is None:
        raise NotFound(f"no measure {number}")
    return _measure_out(row)


def _valid(data: dict[str, Any]) -> MeasureIn:
    """The catalogue entry or 422 naming every field that is wrong."""
    try:
        return MeasureIn.model_validate(data)
    except ValidationError as exc:
        raise Invalid("the measure is invalid", errors=[
            (".".join(str(x) for x in e["loc"] if not isinstance(x, int)) or "body", e["msg"]) for e in exc.errors()
        ]) from exc


async def add_measure(rt: ReportingRuntime, principal: Principal, fields: dict[str, Any]) -> MeasureOut:
    """Adds a measure to the catalogue under the next free number (audited)."""
    async with rt.db.begin() as conn:
        number = next_measure_number(await store.measure_numbers(conn))
        m = _valid({**fields, "number": number})
        await store.insert_measure(conn, number, m.model_dump(mode="json"), principal.username, utc_now())
        await rt.audit(conn, principal, ("reporting_officer",), "create", "measure", number)
        return await read_measure(conn, number)


async def edit_measure(rt: ReportingRuntime, principal: Principal, number: int, patch: dict[str, Any]) -> MeasureOut:
    """Applies the officer's changes to a measure (audited); kept across restarts, used by every report generated afterwards."""
    async with rt.db.begin() as conn:
        row = await store.measure_row(conn, number)
        if row is None:
            raise NotFound(f"no measure {number}")
        m = _valid({**row.data, **patch, "number": number})
        await store.update_measure(conn, number, m.model_dump(mode="json"), principal.username, utc_now())
        await rt.audit(conn, principal, ("reporting_officer",), "update", "measure", number)
        return await read_measure(conn, number)


# ---- figures reported by providers ----------------------------------------------------------------


async def submit_figures(rt: ReportingRuntime, principal: Principal, number: int, period_key: str, values: dict[str, Any]) -> dict[str, Any]:
    """Validates and stores a provider's figures for a measure and quarter as a new version (nothing
    is stored when any value is wrong; a repeated submission with the same values changes nothing);
    every change is audited."""
    today = local_today(rt.settings.time_zone)
    try:
        period = figure_period(period_key, today)
    except ValueError as exc:
        raise Invalid(str(exc), field="period", location="path") from exc
    async with rt.db.begin() as conn:
        measure = await read_measure(conn, number)
        if not may_report(principal, measure):
            raise Forbidden(f"measure {number} is not one of your measures")
        clean, errors = check_figures(measure, values)
        if errors:
            raise Invalid("the figures are invalid", errors=errors)
        version = await store.append_figures(conn, number, period.key, clean, principal.username, utc_now())
        if version:
            await rt.audit(conn, principal, ("measure_provider", "reporting_officer"), "report_figures", "measure_figures", f"{number}:{period.key}:v{version}")
        current = (await store.current_figures(conn, period.key)).get(number)
    return {"number": number, "period": period.key, "changed": bool(version), **(current or {})}


async def figure_status(conn: AsyncConnection, period: Period, own: str | None, reads_all: bool) -> tuple[list[MeasureFigures], int]:
    """The measures that report figures (a provider's own only, unless the caller reads all) with
    their current figures for the quarter, and how many have none yet."""
    ms = await read_measures(conn)
    current = await store.current_figures(conn, period.key)
    if not reads_all:
        ms = [m for m in ms if provides(m, own)]
    ms = [m for m in ms if m.figures]
    missing = {m.number for m in figures_missing(ms, set(current))}
    out = []
    for m in ms:
        now = current.get(m.number, {})
        out.append(MeasureFigures(
            number=m.number, name=m.name, provider=m.provider, funders=m.funders, goals=m.goals, figures=m.figures,
            values={k: v for k, v in now.get("values", {}).items() if k in m.figures}, version=now.get("version", 0),
            submitted_by=now.get("submitted_by"), submitted_at=now.get("submitted_at"), missing=m.number in missing,
        ))
    return out, len(missing)


async def figure_history(conn: AsyncConnection, number: int, period: Period, provider: str | None, reads_all: bool) -> list[FigureVersion]:
    """Every version of a measure's figures for a quarter; a provider sees its own measures only."""
    m = await read_measure(conn, number)
    if not reads_all and not provides(m, provider):
        raise Forbidden(f"measure {number} is not one of your measures")
    rows = await store.figure_history(conn, number, period.key)
    return [FigureVersion(version=r.version, key=r.key, value=r.value, submitted_by=r.submitted_by, submitted_at=r.submitted_at) for r in rows]


# ---- KPIs -----------------------------------------------------------------------------------------


async def kpi_figures(rt: ReportingRuntime, period: Period, group_by: str | None) -> KpiFigures:
    """Every KPI for the period (grouped where the KPI allows the grouping) and the watermark they rest on."""
    tz = rt.settings.time_zone
    out = []
    async with rt.db.read() as conn:
        for k in load_kpis().values():
            value = (await store_kpis.kpi_value(conn, k, period, tz))[""]
            groups = await store_kpis.kpi_value(conn, k, period, tz, group_by) if group_by is not None and group_by in k.groupings else None
            out.append(KpiFigure(name=k.name, label=k.label, unit=k.unit, value=value, groups=groups))
        marks = await store.current_watermark(conn)
    return KpiFigures(period=period.key, group_by=group_by, watermark=marks, kpis=out)


async def kpi_detail(rt: ReportingRuntime, name: str, period_key: str | None, group_by: str | None, explain: bool) -> KpiDetail:
    """One KPI for a period, optionally grouped, and with `explain` its query, event count and window."""
    k = load_kpis().get(name)
    if k is None:
        raise NotFound(f"no KPI named {name!r}")
    if group_by is not None and group_by not in k.groupings:
        raise Invalid(f"{name} is grouped by {', '.join(k.groupings)} only", field="group_by")
    tz = rt.settings.time_zone
    period = period_or_this_month(period_key, tz)
    async with rt.db.read() as conn:
        value = (await store_kpis.kpi_value(conn, k, period, tz))[""]
        groups = await store_kpis.kpi_value(conn, k, period, tz, group_by) if group_by else None
        how = await store_kpis.kpi_explain(conn, k, period, tz, rt.db.dialect) if explain else None
    return KpiDetail(definition=k, period=period.key, value=value, groups=groups, explain=how)


def local_today(tz: str) -> date:
    return utc_now().astimezone(ZoneInfo(tz)).date()


def period_or_this_month(value: str | None, tz: str) -> Period:
    """The period a request names (422 on the period field when it is none), default the current month."""
    if value is None:
        now = utc_now().astimezone(ZoneInfo(tz))
        value = f"{now.year}-{now.month:02d}"
    try:
        return parse_period(value)
    except ValueError as exc:
        raise Invalid(str(exc), field="period") from exc
