"""Queries of the front desk's intake drafts (sealed under a data key of their own)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.store import data_keys, drafts, households, intakes, persons


async def drafts_page(
    conn: AsyncConnection, *, created_by: str | None, state: str, updated_since: datetime | None, limit: int, offset: int
) -> tuple[list[sa.Row], int]:
    """Drafts newest first (`state`: open | completed | any), with the completed ones' household id,
    who completed them, district and person count (plain columns of the household the completion stored), and the total."""
    d = drafts
    where: list[sa.ColumnElement[bool]] = []
    if created_by is not None:
        where.append(d.c.created_by == created_by)
    if state == "open":
        where.append(d.c.completed_intake_id.is_(None))
    elif state == "completed":
        where.append(d.c.completed_intake_id.is_not(None))
    if updated_since is not None:
        where.append(d.c.updated_at >= updated_since)
    total = (await conn.execute(sa.select(sa.func.count()).select_from(d).where(*where))).scalar_one()
    counted = (
        sa.select(sa.func.count())
        .where(persons.c.household_id == intakes.c.household_id, persons.c.removed_at.is_(None))
        .scalar_subquery()
    )
    q = (
        sa.select(d, intakes.c.household_id, intakes.c.completed_by, households.c.district, counted.label("person_count"))
        .select_from(d.outerjoin(intakes, intakes.c.id == d.c.completed_intake_id).outerjoin(households, households.c.id == intakes.c.household_id))
        .where(*where)
        .order_by(d.c.updated_at.desc(), d.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await conn.execute(q)).all()), total


async def draft(conn: AsyncConnection, draft_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(drafts).where(drafts.c.id == draft_id))).first()


async def insert_draft(conn: AsyncConnection, draft_id: uuid.UUID, sealed: bytes, by: str, at: datetime) -> None:
    await conn.execute(drafts.insert().values(id=draft_id, sealed=sealed, created_by=by, created_at=at, updated_at=at))


async def update_draft(conn: AsyncConnection, draft_id: uuid.UUID, sealed: bytes, at: datetime) -> None:
    await conn.execute(drafts.update().where(drafts.c.id == draft_id).values(sealed=sealed, updated_at=at))


async def complete_draft(conn: AsyncConnection, draft_id: uuid.UUID, intake_id: uuid.UUID, at: datetime) -> None:
    """The draft became an intake: its content and its data key are dropped."""
    await conn.execute(drafts.update().where(drafts.c.id == draft_id).values(completed_intake_id=intake_id, sealed=None, updated_at=at))
    await conn.execute(data_keys.delete().where(data_keys.c.subject_id == draft_id))
