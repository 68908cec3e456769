"""Reporting's tables and queries. Projections (facts, cases, arrivals, watermark) are built only
from events and can be rebuilt from the streams; catalogue, reports and deliveries are reporting's own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UTCDateTime, Uuid, add_kit_tables
from services.reporting.domain import KpiDefinition, Period

metadata = sa.MetaData()
kit = add_kit_tables(metadata)

# ---- projections ------------------------------------------------------------------------------------

facts = sa.Table(
    "facts",
    metadata,
    sa.Column("event_id", Uuid, primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("quarter", sa.String(7), nullable=False),
    sa.Column("district", sa.String(64), nullable=True),
    sa.Column("programme", sa.String(64), nullable=True),
    sa.Column("field_of_action", sa.Integer, nullable=True),
    sa.Column("case_id", sa.String(36), nullable=True),
    sa.Column("subject_id", sa.String(36), nullable=False),
    sa.Column("category", sa.String(64), nullable=True),
    sa.Column("partner", sa.String(64), nullable=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.Index("ix_facts_kind_time", "kind", "occurred_at"),
    sa.Index("ix_facts_case", "case_id"),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", sa.String(36), primary_key=True),
    sa.Column("programme", sa.String(64), nullable=True),
    sa.Column("district", sa.String(64), nullable=True),
    sa.Column("members", sa.Integer, nullable=False, server_default="0"),
    sa.Column("opened_at", UTCDateTime, nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
)

arrivals = sa.Table(
    "arrivals",
    metadata,
    sa.Column("record_id", Uuid, primary_key=True),
    sa.Column("month", sa.String(7), nullable=True),
    sa.Column("district", sa.String(64), nullable=True),
    sa.Column("nationality", sa.String(3), nullable=True),  # ISO alpha-2, or XXA/XXX (services/contracts/codes.py)
    sa.Column("residence_status", sa.String(64), nullable=True),
    sa.Column("sex", sa.String(32), nullable=True),
    sa.Column("age_group", sa.String(16), nullable=True),
    sa.Column("retracted", sa.Boolean, nullable=False, server_default=sa.false()),
)

watermark = sa.Table(
    "projection_watermark",
    metadata,
    sa.Column("stream", sa.String(200), primary_key=True),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("last_occurred_at", UTCDateTime, nullable=True),
)

PROJECTION_TABLES = (facts, cases, arrivals, watermark)

# ---- catalogue, reports, deliveries -----------------------------------------------------------------

measures = sa.Table(
    "measures",
    metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("edited_by", sa.String(200), nullable=True),
    sa.Column("edited_at", UTCDateTime, nullable=True),
)

#: Figures providers report per measure and quarter. Append-only: a correction is a new version of
#: (measure, period, key); the current figure is the highest version, earlier ones stay as history.
measure_figures = sa.Table(
    "measure_figures",
    metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("key", sa.String(48), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("submitted_by", sa.String(200), nullable=False),
    sa.Column("submitted_at", UTCDateTime, nullable=False),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("report_id", Uuid, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("funder", sa.String(64), nullable=True),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("watermark", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("generated_at", UTCDateTime, nullable=False),
    sa.Column("generated_by", sa.String(200), nullable=False),
)

report_files = sa.Table(
    "report_files",
    metadata,
    sa.Column("report_id", Uuid, primary_key=True),
    sa.Column("format", sa.String(8), primary_key=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)

deliveries = sa.Table(
    "report_deliveries",
    metadata,
    sa.Column("report_id", Uuid, primary_key=True),
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=False),
)

# ---- KPI queries ------------------------------------------------------------------------------------


def _filters(kpi: KpiDefinition, district: sa.ColumnElement, programme: sa.ColumnElement) -> list[sa.ColumnElement[bool]]:
    cols = {"category": facts.c.category, "partner": facts.c.partner, "district": district, "programme": programme, "field_of_action": facts.c.field_of_action}
    out = []
    for name, wanted in kpi.where.items():
        out.append(cols[name].in_(wanted) if isinstance(wanted, list) else cols[name] == wanted)
    return out


def kpi_query(kpi: KpiDefinition, start: datetime, end: datetime, group_by: str | None) -> tuple[sa.Select, sa.Select]:
    """The SQL of one KPI over [start, end), optionally grouped by district, programme, partner or
    field of action; and the query counting the events it rests on. District and programme of events
    that carry only a case id come from the case projection."""
    if kpi.measure in ("active_cases", "active_members"):
        agg = sa.func.count() if kpi.measure == "active_cases" else sa.func.coalesce(sa.func.sum(cases.c.members), 0)
        cond = [cases.c.opened_at < end, sa.or_(cases.c.closed_at.is_(None), cases.c.closed_at >= start)]
        for name, wanted in kpi.where.items():
            col = cases.c[name]
            cond.append(col.in_(wanted) if isinstance(wanted, list) else col == wanted)
        key = cases.c[group_by] if group_by in ("district", "programme") else sa.literal("")
        q = sa.select(key.label("key"), agg.label("value")).where(*cond).group_by(key)
        return q, sa.select(sa.func.count()).select_from(cases).where(*cond)
    if kpi.measure == "arrivals":
        start_m, end_m = start.strftime("%Y-%m"), end.strftime("%Y-%m")  # month bounds at noon UTC, see _month_bounds
        cond = [arrivals.c.retracted.is_(False), arrivals.c.month.is_not(None), arrivals.c.month >= start_m, arrivals.c.month < end_m]
        key = arrivals.c.district if group_by == "district" else sa.literal("")
        q = sa.select(key.label("key"), sa.func.count().label("value")).where(*cond).group_by(key)
        return q, sa.select(sa.func.count()).select_from(arrivals).where(*cond)
    joined = facts.outerjoin(cases, facts.c.case_id == cases.c.case_id)
    district = sa.func.coalesce(facts.c.district, cases.c.district)
    programme = sa.func.coalesce(facts.c.programme, cases.c.programme)
    cond = [facts.c.kind.in_(kpi.source_events), facts.c.occurred_at >= start, facts.c.occurred_at < end, *_filters(kpi, district, programme)]
    agg = {
        "count": sa.func.count(),
        "sum_n": sa.func.coalesce(sa.func.sum(facts.c.n), 0),
        "sum_value": sa.func.coalesce(sa.func.sum(facts.c.value), 0),
        "distinct_subject": sa.func.count(sa.distinct(facts.c.subject_id)),
    }[kpi.measure]
    keys = {"district": district, "programme": programme, "partner": facts.c.partner, "field_of_action": facts.c.field_of_action}
    key = keys[group_by] if group_by in keys else sa.literal("")
    q = sa.select(key.label("key"), agg.label("value")).select_from(joined).where(*cond).group_by(key)
    return q, sa.select(sa.func.count()).select_from(joined).where(*cond)


def sql_text(query: sa.Select, dialect: str) -> str:
    from sqlalchemy.dialects import postgresql, sqlite

    d = postgresql.dialect() if dialect == "postgresql" else sqlite.dialect()
    return str(query.compile(dialect=d, compile_kwargs={"literal_binds": True}))


async def kpi_value(conn: AsyncConnection, kpi: KpiDefinition, period: Period, tz: str, group_by: str | None = None) -> dict[str, int]:
    """Figures by group key ("" when ungrouped); month and quarter groupings run once per sub-period."""
    if group_by in ("month", "quarter"):
        subs = period.months() if group_by == "month" else period.quarters()
        out = {}
        for sub in subs:
            out[sub.key] = (await kpi_value(conn, kpi, sub, tz)).get("", 0)
        return out
    start, end = period.window(tz)
    if kpi.measure == "arrivals":
        start, end = _month_bounds(period)
    q, _ = kpi_query(kpi, start, end, group_by)
    rows = (await conn.execute(q)).all()
    result = {("" if r.key is None else str(r.key)): int(r.value or 0) for r in rows}
    if group_by is None:
        result.setdefault("", 0)
    return result


def _month_bounds(period: Period) -> tuple[datetime, datetime]:
    """Arrivals carry a month, not a time: compare months (naive boundaries, month strings)."""
    from datetime import UTC

    return (datetime(period.start.year, period.start.month, 1, 12, tzinfo=UTC), datetime(period.end.year, period.end.month, 1, 12, tzinfo=UTC))


async def kpi_explain(conn: AsyncConnection, kpi: KpiDefinition, period: Period, tz: str, dialect: str) -> dict[str, Any]:
    start, end = _month_bounds(period) if kpi.measure == "arrivals" else period.window(tz)
    q, count_q = kpi_query(kpi, start, end, None)
    events = int((await conn.execute(count_q)).scalar_one())
    return {
        "query": sql_text(q, dialect),
        "events": events,
        "window": {"period": period.key, "from": start.isoformat(), "to": end.isoformat(), "time_zone": tz, "end_exclusive": True},
        "source_events": kpi.source_events,
        "measure": kpi.measure,
        "where": kpi.where,
    }


async def current_watermark(conn: AsyncConnection) -> dict[str, int]:
    rows = (await conn.execute(sa.select(watermark.c.stream, watermark.c.events).order_by(watermark.c.stream))).all()
    return {r.stream: int(r.events) for r in rows}


# ---- measures catalogue -----------------------------------------------------------------------------


async def measure_rows(conn: AsyncConnection) -> list[Any]:
    t = measures
    return list((await conn.execute(sa.select(t).order_by(t.c.number))).all())


async def measure_row(conn: AsyncConnection, number: int) -> Any:
    return (await conn.execute(sa.select(measures).where(measures.c.number == number))).first()


async def edited_measure_numbers(conn: AsyncConnection) -> set[int]:
    t = measures
    return {r.number for r in (await conn.execute(sa.select(t.c.number).where(t.c.edited_by.is_not(None)))).all()}


async def measure_numbers(conn: AsyncConnection) -> list[int]:
    return [r.number for r in (await conn.execute(sa.select(measures.c.number))).all()]


async def insert_measure(conn: AsyncConnection, number: int, data: dict[str, Any], by: str, at: datetime) -> None:
    await conn.execute(measures.insert().values(number=number, data=data, edited_by=by, edited_at=at))


async def update_measure(conn: AsyncConnection, number: int, data: dict[str, Any], by: str, at: datetime) -> None:
    await conn.execute(measures.update().where(measures.c.number == number).values(data=data, edited_by=by, edited_at=at))


# ---- reported figures -------------------------------------------------------------------------------


def _latest(period: str) -> sa.Select:
    f = measure_figures
    return (
        sa.select(f.c.number, f.c.key, sa.func.max(f.c.version).label("version"))
        .where(f.c.period == period).group_by(f.c.number, f.c.key).subquery()
    )


async def current_figures(conn: AsyncConnection, period: str) -> dict[int, dict[str, Any]]:
    """The current (highest-version) figures of a period: measure -> {values, version, submitted_by,
    submitted_at} (version, author and time of the latest change of any of its figures)."""
    f = measure_figures
    latest = _latest(period)
    q = (
        sa.select(f.c.number, f.c.key, f.c.value, f.c.version, f.c.submitted_by, f.c.submitted_at)
        .join(latest, sa.and_(f.c.number == latest.c.number, f.c.key == latest.c.key, f.c.version == latest.c.version))
        .where(f.c.period == period).order_by(f.c.number, f.c.key)
    )
    out: dict[int, dict[str, Any]] = {}
    for r in (await conn.execute(q)).all():
        m = out.setdefault(r.number, {"values": {}, "version": 0, "submitted_by": None, "submitted_at": None})
        m["values"][r.key] = int(r.value)
        if r.version >= m["version"]:
            m["version"], m["submitted_by"], m["submitted_at"] = int(r.version), r.submitted_by, r.submitted_at
    return out


async def figure_history(conn: AsyncConnection, number: int, period: str) -> list[Any]:
    f = measure_figures
    q = sa.select(f).where(f.c.number == number, f.c.period == period).order_by(f.c.version, f.c.key)
    return list((await conn.execute(q)).all())


async def append_figures(conn: AsyncConnection, number: int, period: str, values: dict[str, int], by: str, at: datetime) -> int:
    """Writes the figures that differ from the current ones as the next version (one version number
    for the whole submission); returns that version, or 0 when nothing changed (a repeated submission
    changes nothing)."""
    current = (await current_figures(conn, period)).get(number, {"values": {}})["values"]
    changed = {k: v for k, v in values.items() if current.get(k) != v}
    if not changed:
        return 0
    f = measure_figures
    top = (await conn.execute(sa.select(sa.func.coalesce(sa.func.max(f.c.version), 0)).where(f.c.number == number, f.c.period == period))).scalar_one()
    version = int(top) + 1
    await conn.execute(f.insert(), [
        {"number": number, "period": period, "key": k, "version": version, "value": v, "submitted_by": by, "submitted_at": at}
        for k, v in sorted(changed.items())
    ])
    return version
