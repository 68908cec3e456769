"""Intake's tables and queries."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UTCDateTime, Uuid, add_kit_tables

metadata = sa.MetaData()
kit = add_kit_tables(metadata)

households = sa.Table(
    "households",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("household_id", Uuid, sa.ForeignKey("households.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("given_name", sa.String(100), nullable=False),
    sa.Column("family_name", sa.String(100), nullable=False),
    sa.Column("date_of_birth", sa.Date, nullable=False),
    sa.Column("nationality", sa.String(2), nullable=False),
    sa.Column("residence_status", sa.String(40), nullable=False),
    sa.Column("move_in_date", sa.Date, nullable=False),
)

intakes = sa.Table(
    "intakes",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("household_id", Uuid, sa.ForeignKey("households.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("idempotency_key", sa.String(100), nullable=True, unique=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    sa.Column("completed_by", sa.String(200), nullable=False),
    sa.Column("completed_at", UTCDateTime, nullable=False),
)


async def intake_by_key(conn: AsyncConnection, key: str) -> sa.Row | None:
    return (await conn.execute(sa.select(intakes).where(intakes.c.idempotency_key == key))).first()


async def person_ids(conn: AsyncConnection, household_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.execute(
        sa.select(persons.c.id).where(persons.c.household_id == household_id).order_by(persons.c.position)
    )
    return [r.id for r in rows]


async def insert_intake(
    conn: AsyncConnection,
    *,
    intake_id: uuid.UUID,
    household_id: uuid.UUID,
    district: str,
    people: list[dict],
    key: str | None,
    request_hash: str | None,
    by: str,
    at: datetime,
) -> None:
    await conn.execute(households.insert().values(id=household_id, district=district, created_at=at))
    await conn.execute(persons.insert(), [{**p, "household_id": household_id} for p in people])
    await conn.execute(
        intakes.insert().values(
            id=intake_id, household_id=household_id, status="completed", idempotency_key=key,
            request_hash=request_hash, completed_by=by, completed_at=at,
        )
    )


async def load_intake(conn: AsyncConnection, intake_id: uuid.UUID) -> tuple[sa.Row, sa.Row, list[sa.Row]] | None:
    intake = (await conn.execute(sa.select(intakes).where(intakes.c.id == intake_id))).first()
    if intake is None:
        return None
    household = (await conn.execute(sa.select(households).where(households.c.id == intake.household_id))).one()
    people = (
        await conn.execute(sa.select(persons).where(persons.c.household_id == intake.household_id).order_by(persons.c.position))
    ).all()
    return intake, household, list(people)
