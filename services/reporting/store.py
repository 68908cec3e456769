"""Reporting's tables, and the statements on the catalogue, the reported figures, the reports and
their deliveries. Projections (facts, cases, arrivals, watermark) are built only from events and can
be rebuilt from the streams (their writes: store_projections.py, the KPI queries over them:
store_kpis.py); catalogue, reports and deliveries are reporting's own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UTCDateTime, Uuid, add_kit_tables
from services.kit.on_conflict import upsert

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

# ---- the projections' watermark --------------------------------------------------------------------


async def current_watermark(conn: AsyncConnection) -> dict[str, int]:
    """Events applied per stream (what a report and the KPI screen say they rest on)."""
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


async def upsert_measure(conn: AsyncConnection, number: int, data: dict[str, Any]) -> None:
    """The data file's version of a measure (edits through the API are not overwritten: the caller skips those)."""
    await upsert(conn, measures, {"number": number, "data": data}, keys=["number"])


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


# ---- reports and deliveries -------------------------------------------------------------------------


async def report_exists(conn: AsyncConnection, report_id: uuid.UUID) -> bool:
    return (await conn.execute(sa.select(reports.c.report_id).where(reports.c.report_id == report_id))).first() is not None


async def report_row(conn: AsyncConnection, report_id: uuid.UUID) -> Any:
    """The frozen report (kind, funder, period, watermark, model JSON, ...) or None."""
    return (await conn.execute(sa.select(reports).where(reports.c.report_id == report_id))).first()


async def report_ids(conn: AsyncConnection) -> list[uuid.UUID]:
    """Every frozen report, oldest first."""
    return [r.report_id for r in (await conn.execute(sa.select(reports.c.report_id).order_by(reports.c.generated_at))).all()]


async def report_file_hashes(conn: AsyncConnection, report_id: uuid.UUID) -> dict[str, str]:
    """format -> sha256 of the report's stored files."""
    f = report_files
    return dict((await conn.execute(sa.select(f.c.format, f.c.sha256).where(f.c.report_id == report_id))).all())  # type: ignore[arg-type]


async def report_file_contents(conn: AsyncConnection, report_id: uuid.UUID) -> dict[str, bytes]:
    """format -> content of the report's stored files."""
    f = report_files
    return {r.format: r.content for r in (await conn.execute(sa.select(f.c.format, f.c.content).where(f.c.report_id == report_id))).all()}


async def report_file(conn: AsyncConnection, report_id: uuid.UUID, fmt: str) -> bytes | None:
    f = report_files
    row = (await conn.execute(sa.select(f.c.content).where(f.c.report_id == report_id, f.c.format == fmt))).first()
    return None if row is None else row.content


async def insert_report(
    conn: AsyncConnection, report_id: uuid.UUID, *, kind: str, funder: str | None, period: str, watermark: str, model: str,
    generated_at: datetime, generated_by: str, files: dict[str, tuple[bytes, str]],
) -> None:
    """Freezes a report: its model JSON and its files (format -> (content, sha256))."""
    await conn.execute(reports.insert().values(
        report_id=report_id, kind=kind, funder=funder, period=period, watermark=watermark,
        model=model, generated_at=generated_at, generated_by=generated_by,
    ))
    for fmt, (content, sha256) in files.items():
        await conn.execute(report_files.insert().values(report_id=report_id, format=fmt, content=content, sha256=sha256))


async def delivery_row(conn: AsyncConnection, report_id: uuid.UUID) -> Any:
    """The report's delivery (recipients, attempts, delivered_at) or None while undelivered."""
    return (await conn.execute(sa.select(deliveries).where(deliveries.c.report_id == report_id))).first()


async def record_delivery(conn: AsyncConnection, report_id: uuid.UUID, recipients: int, attempts: int, at: datetime) -> bool:
    """Records a delivery unless one is recorded already; True when this call recorded it."""
    if await delivery_row(conn, report_id) is not None:
        return False
    await conn.execute(deliveries.insert().values(report_id=report_id, recipients=recipients, attempts=attempts, delivered_at=at))
    return True
