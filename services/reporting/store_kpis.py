"""The KPI queries over the projections (one SQL statement per KPI definition, data/kpis.yaml, each
explainable), and the monthly statistics' queries (002 §4.1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.domain import Period
from services.reporting.models import KpiDefinition
from services.reporting.store import arrivals, cases, facts

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
    return (datetime(period.start.year, period.start.month, 1, 12, tzinfo=UTC), datetime(period.end.year, period.end.month, 1, 12, tzinfo=UTC))


async def kpi_explain(conn: AsyncConnection, kpi: KpiDefinition, period: Period, tz: str, dialect: str) -> dict[str, Any]:
    """How a KPI is computed for a period: its SQL, the number of events it rests on, the time window."""
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


# ---- monthly statistics (002 §4.1) ------------------------------------------------------------------


async def arrivals_of_months(conn: AsyncConnection, months: list[str]) -> list[Any]:
    """Nationality, residence status, sex and age group of every arrival (not retracted) in these months."""
    a = arrivals
    q = sa.select(a.c.nationality, a.c.residence_status, a.c.sex, a.c.age_group).where(a.c.retracted.is_(False), a.c.month.in_(months))
    return list((await conn.execute(q)).all())


async def referral_outcomes(conn: AsyncConnection, start: datetime, end: datetime) -> dict[str | None, int]:
    """Referrals closed in [start, end) by outcome."""
    f = facts
    q = sa.select(f.c.category, sa.func.count()).where(f.c.kind == "ReferralClosed", f.c.occurred_at >= start, f.c.occurred_at < end).group_by(f.c.category)
    return {r[0]: int(r[1]) for r in (await conn.execute(q)).all()}
