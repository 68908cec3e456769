"""Funding's queries for the data protection officer (services/kit/privacy.py): the person's hardship
applications with decisions and payments (ledger entries)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.funding.store import hardship, hardship_decisions, ledger


async def _rows(conn: AsyncConnection, table: sa.Table, column: str, values: list[Any]) -> list[sa.Row]:
    if not values:
        return []
    return list((await conn.execute(sa.select(table).where(table.c[column].in_(values)))).all())


async def person_records(conn: AsyncConnection, person_id: uuid.UUID) -> list[str]:
    return [str(i) for i in (await conn.execute(sa.select(hardship.c.id).where(hardship.c.person_id == person_id))).scalars().all()]


async def subject_rows(conn: AsyncConnection, person_id: uuid.UUID) -> dict[str, list[sa.Row]]:
    applications = await _rows(conn, hardship, "person_id", [person_id])
    ids = [a.id for a in applications]
    return {
        "hardship_applications": applications,
        "decisions": await _rows(conn, hardship_decisions, "application_id", ids),
        "payments": await _rows(conn, ledger, "application_id", ids),
    }
