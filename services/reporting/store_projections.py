"""The statements that write the projections (facts, cases, arrivals, watermark) and the inbox
records of the events they applied: live (handlers.project_batch in a group commit) and in a rebuild."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.on_conflict import insert_ignoring_conflicts, upsert
from services.reporting.store import PROJECTION_TABLES, arrivals, cases, facts, kit, watermark

# ---- facts and entities -----------------------------------------------------------------------------


async def insert_facts(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """One multi-row insert; a fact already there (same event id) stays as it is."""
    await insert_ignoring_conflicts(conn, facts, ["event_id"], rows)


async def upsert_case(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Creates or updates a case of the case projection (keyed by case_id)."""
    await upsert(conn, cases, values, keys=["case_id"])


async def upsert_arrival(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Creates or updates an arrival of the arrival projection (keyed by record_id)."""
    await upsert(conn, arrivals, values, keys=["record_id"])


async def goal_follows_latest_field(conn: AsyncConnection, case_id: str, goal_id: str) -> None:
    """Every GoalSet fact of the goal takes the field of action of its latest one (by time)."""
    f = facts
    goal = sa.and_(f.c.case_id == case_id, f.c.kind == "GoalSet", f.c.subject_id == goal_id)  # the case's index narrows it
    latest = (await conn.execute(sa.select(f.c.field_of_action).where(goal).order_by(f.c.occurred_at.desc()).limit(1))).scalar_one_or_none()
    if latest is not None:
        await conn.execute(f.update().where(goal, f.c.field_of_action != latest).values(field_of_action=latest))


async def advance_watermark(conn: AsyncConnection, stream: str, count: int, last: datetime) -> None:
    """Adds `count` applied events to a stream's watermark; its last time only moves forward."""
    await upsert(conn, watermark, {"stream": stream, "events": count, "last_occurred_at": last}, keys=["stream"], increment={"events": count})
    w = watermark
    await conn.execute(w.update().where(w.c.stream == stream, w.c.last_occurred_at < last).values(last_occurred_at=last))


async def reset_projections(conn: AsyncConnection, consumer: str) -> None:
    """Empties the projections and forgets which events the consumer applied (before a rebuild)."""
    for table in PROJECTION_TABLES:
        await conn.execute(sa.delete(table))
    inbox = kit.inbox
    await conn.execute(sa.delete(inbox).where(inbox.c.consumer == consumer))


# ---- inbox records of a batch -----------------------------------------------------------------------


async def handled_events(conn: AsyncConnection, inbox: sa.Table, keys: Iterable[tuple[str, uuid.UUID]]) -> set[tuple[str, uuid.UUID]]:
    """Which (consumer, event id) of the keys the inbox already holds."""
    keys = list(keys)
    q = sa.select(inbox.c.consumer, inbox.c.event_id).where(inbox.c.consumer.in_({c for c, _ in keys}), inbox.c.event_id.in_([e for _, e in keys]))
    return {(r.consumer, r.event_id) for r in (await conn.execute(q)).all()}


async def record_handled(conn: AsyncConnection, inbox: sa.Table, keys: Iterable[tuple[str, uuid.UUID]], at: datetime) -> None:
    """Inbox records for (consumer, event id) pairs, in one statement."""
    await conn.execute(inbox.insert(), [{"consumer": c, "event_id": e, "processed_at": at} for c, e in keys])
