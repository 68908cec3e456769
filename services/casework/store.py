"""Casework's tables and queries."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UTCDateTime, Uuid, add_kit_tables

metadata = sa.MetaData()
kit = add_kit_tables(metadata)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("household_id", Uuid, nullable=False, index=True),
    sa.Column("intake_id", Uuid, nullable=True, unique=True),
    sa.Column("programme", sa.String(64), nullable=False),
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("phase", sa.String(40), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
)

reviews_due = sa.Table(
    "reviews_due",
    metadata,
    sa.Column("case_id", Uuid, sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("cycle", sa.Integer, primary_key=True),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)


async def get_case(conn: AsyncConnection, case_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(cases).where(cases.c.id == case_id))).first()


async def list_cases(conn: AsyncConnection, *, intake_id: uuid.UUID | None, limit: int, offset: int) -> tuple[list[sa.Row], int]:
    where = [cases.c.intake_id == intake_id] if intake_id else []
    rows = (await conn.execute(sa.select(cases).where(*where).order_by(cases.c.opened_at, cases.c.id).limit(limit).offset(offset))).all()
    total = (await conn.execute(sa.select(sa.func.count()).select_from(cases).where(*where))).scalar_one()
    return list(rows), int(total)
