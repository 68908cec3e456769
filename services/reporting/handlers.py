"""Projections: every contract event becomes a fact row, updates the case and arrival projections and
the watermark, in the same transaction as its inbox record (so a redelivery changes nothing).
The same `project` runs for live consumption and for `ankommen reporting rebuild`."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts import Event
from services.contracts.reporting import ReportGenerated
from services.kit import telemetry
from services.kit.auth import Principal, Role
from services.kit.broker import Delivery
from services.kit.db import insert_ignoring_conflicts, upsert, utc_now
from services.kit.errors import Forbidden, Invalid, NotFound
from services.kit.service import Runtime
from services.reporting import store
from services.reporting.domain import (
    MeasureIn,
    MeasureOut,
    check_figures,
    fact_of,
    figure_period,
    goals_of_fields,
    next_measure_number,
    provides,
)

#: Inbox consumer name of the projections (one for every stream; event ids are unique).
PROJECTION_CONSUMER = "reporting:project"


async def project(conn: AsyncConnection, event: Event, tz: str) -> None:
    await project_batch(conn, [event], tz)


async def project_batch(conn: AsyncConnection, events: list[Event], tz: str) -> None:
    """Applies events in order: facts in one multi-row insert, case and arrival projections per event,
    the watermark once per stream. Live consumption passes one event, a rebuild thousands."""
    if not events:
        return
    await conn.execute(insert_ignoring_conflicts(conn, store.facts, ["event_id"]), [fact_of(e, tz) for e in events])
    marks: dict[str, tuple[int, object]] = {}
    for event in events:
        await _project_entities(conn, event)
        count, last = marks.get(event.stream, (0, event.occurred_at))
        marks[event.stream] = (count + 1, max(last, event.occurred_at))  # type: ignore[type-var]
    for stream, (count, last) in marks.items():
        await upsert(conn, store.watermark, {"stream": stream, "events": count, "last_occurred_at": last}, keys=["stream"], increment={"events": count})
        w = store.watermark
        await conn.execute(w.update().where(w.c.stream == stream, w.c.last_occurred_at < last).values(last_occurred_at=last))



async def _project_entities(conn: AsyncConnection, event: Event) -> None:
    name = event.event_type
    if name == "CaseOpened":
        await upsert(
            conn, store.cases,
            {"case_id": str(event.case_id), "programme": event.programme, "district": event.district,  # type: ignore[attr-defined]
             "members": len(event.member_ids), "opened_at": event.occurred_at},  # type: ignore[attr-defined]
            keys=["case_id"],
        )
    elif name == "CaseClosed":
        await upsert(
            conn, store.cases,
            {"case_id": str(event.case_id), "programme": event.programme, "district": event.district, "closed_at": event.occurred_at},  # type: ignore[attr-defined]
            keys=["case_id"],
        )
    elif name == "ArrivalRecorded":
        e = event
        await upsert(
            conn, store.arrivals,
            {"record_id": e.record_id, "month": e.month, "district": e.district, "nationality": e.nationality,  # type: ignore[attr-defined]
             "residence_status": str(e.residence_status), "sex": str(e.sex), "age_group": str(e.age_group)},  # type: ignore[attr-defined]
            keys=["record_id"],
        )
    elif name == "GoalSet":
        await _goal_follows_its_field(conn, str(event.case_id), str(event.goal_id))  # type: ignore[attr-defined]
    elif name == "ArrivalRetracted":
        await upsert(conn, store.arrivals, {"record_id": event.record_id, "retracted": True}, keys=["record_id"])  # type: ignore[attr-defined]


async def _goal_follows_its_field(conn: AsyncConnection, case_id: str, goal_id: str) -> None:
    """A goal moved to another field of action (casework's goal adjustment) is counted in its
    current field: every GoalSet fact of the goal takes the field of its latest one (by time, so
    the order in which revisions are applied does not matter)."""
    f = store.facts
    goal = sa.and_(f.c.case_id == case_id, f.c.kind == "GoalSet", f.c.subject_id == goal_id)  # the case's index narrows it
    latest = (await conn.execute(sa.select(f.c.field_of_action).where(goal).order_by(f.c.occurred_at.desc()).limit(1))).scalar_one_or_none()
    if latest is not None:
        await conn.execute(f.update().where(goal, f.c.field_of_action != latest).values(field_of_action=latest))


async def on_event(rt: Runtime, event: Event, delivery: Delivery) -> None:
    """Live projection: the event and its inbox record are committed in a group commit with the
    events that arrive meanwhile (services/reporting/group_commit.py); returns once committed."""
    from services.reporting.group_commit import GroupCommit

    committer = rt.extras.get("group_commit")
    if committer is None:
        tz = rt.settings.time_zone

        async def apply(conn: AsyncConnection, events: list[Event]) -> None:
            await project_batch(conn, events, tz)

        committer = rt.extras["group_commit"] = GroupCommit(rt.db, rt.tables, apply)
    await committer.submit(event, delivery.consumer)


async def reset_projections(conn: AsyncConnection) -> None:
    """Empties the projections and forgets which events they applied (before a rebuild)."""
    for table in store.PROJECTION_TABLES:
        await conn.execute(sa.delete(table))
    inbox = store.kit.inbox
    await conn.execute(sa.delete(inbox).where(inbox.c.consumer == PROJECTION_CONSUMER))


# ---- measures catalogue ---------------------------------------------------------------------------


async def load_catalogue(rt: Runtime) -> int:
    """Upserts the 48 measures of the data file at start; measures edited or added through the API keep their edits."""
    from services.reporting.domain import load_measures

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
            await upsert(conn, store.measures, {"number": m.number, "data": m.model_dump(mode="json")}, keys=["number"])
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


async def add_measure(rt: Runtime, principal: Principal, fields: dict[str, Any]) -> MeasureOut:
    """Adds a measure to the catalogue under the next free number (audited)."""
    async with rt.db.begin() as conn:
        number = next_measure_number(await store.measure_numbers(conn))
        m = _valid({**fields, "number": number})
        await store.insert_measure(conn, number, m.model_dump(mode="json"), principal.username, utc_now())
        await rt.audit(conn, principal, ("reporting_officer",), "create", "measure", number)
        return await read_measure(conn, number)


async def edit_measure(rt: Runtime, principal: Principal, number: int, patch: dict[str, Any]) -> MeasureOut:
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


def may_report(principal: Principal, measure: MeasureIn) -> bool:
    """Providers report for their own measures only; the reporting officer may enter or correct
    figures for any measure (e.g. for "diverse Träger", 000 §7, where no single provider account exists)."""
    if principal.has(Role.REPORTING_OFFICER.value):
        return True
    return principal.has(Role.MEASURE_PROVIDER.value) and provides(measure, principal.provider)


async def submit_figures(rt: Runtime, principal: Principal, number: int, period_key: str, values: dict[str, Any]) -> dict[str, Any]:
    """Validates and stores a provider's figures for a measure and quarter as a new version (nothing
    is stored when any value is wrong; a repeated submission with the same values changes nothing);
    every change is audited."""
    from zoneinfo import ZoneInfo

    today = utc_now().astimezone(ZoneInfo(rt.settings.time_zone)).date()
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


# ---- reports --------------------------------------------------------------------------------------


async def generate_report(rt: Runtime, kind: str, funder_key: str | None, period_key: str, by: str) -> tuple[uuid.UUID, bool]:
    """Builds, renders and freezes a report (model, files and the projections' watermark in one
    transaction, with ReportGenerated through the outbox). The report id is the business key of kind,
    funder and period: asking again returns the frozen report (created=False)."""
    from services.reporting import render, reports
    from services.reporting.domain import load_funders, parse_period, report_id_for

    s = rt.settings
    try:
        period = parse_period(period_key)
    except ValueError as exc:
        raise Invalid(str(exc), field="period") from exc
    tenant = rt.platform.tenant
    config = load_funders(s.funders_file)
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
    report_id = report_id_for(tenant, kind, funder_key, period.key)
    async with rt.db.read() as conn:
        if (await conn.execute(sa.select(store.reports.c.report_id).where(store.reports.c.report_id == report_id))).first():
            return report_id, False
        marks = await store.current_watermark(conn)
        mark = reports.watermark_text(marks)
        common = dict(tz=s.time_zone, threshold=s.suppression_threshold, tenant=tenant, now=utc_now().replace(microsecond=0), watermark=mark)
        if kind == "funder":
            model = await reports.funder_report(conn, report_id, funder, period, await read_measures(conn), dialect=rt.db.dialect, **common)
        elif kind == "monthly_statistics":
            model = await reports.monthly_statistics(conn, report_id, period, **common)
        else:
            model = await reports.im_kpi_quarterly(conn, report_id, period, await read_measures(conn), dialect=rt.db.dialect, **common)
    files = {fmt: render.render(model, fmt) for fmt in render.FORMATS}
    async with rt.outbox.transaction() as tx:
        if (await tx.conn.execute(sa.select(store.reports.c.report_id).where(store.reports.c.report_id == report_id))).first():
            return report_id, False
        await tx.conn.execute(store.reports.insert().values(
            report_id=report_id, kind=kind, funder=funder_key, period=period.key, watermark=mark,
            model=model.model_dump_json(), generated_at=model.generated_at, generated_by=by,
        ))
        for fmt, content in files.items():
            await tx.conn.execute(store.report_files.insert().values(report_id=report_id, format=fmt, content=content, sha256=hashlib.sha256(content).hexdigest()))
        await tx.emit(ReportGenerated(
            tenant=tenant, correlation_id=report_id, report_id=report_id, kind=kind, funder=funder_key, period=period.key, watermark=mark,
        ))
    telemetry.mark(report_id=str(report_id))
    return report_id, True


def recipients_for(config, kind: str, funder_key: str | None) -> list[str]:  # type: ignore[no-untyped-def]
    if kind == "funder":
        f = config.funder(funder_key)
        return list(f.contacts) if f else []
    return list(config.distribution_lists.get(kind, []))
