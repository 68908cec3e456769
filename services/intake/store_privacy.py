"""Intake's queries for the data protection officer (services/kit/privacy.py): the ids of a person's
records and everything intake holds on the person."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.store import (
    clearing_records,
    clearings,
    data_keys,
    household_letters,
    households,
    intakes,
    partner_consents,
    persons,
    referral_handovers,
    registrations,
    reminder_contacts,
)


async def _rows(conn: AsyncConnection, table: sa.Table, column: str, values: list[Any]) -> list[sa.Row]:
    if not values:
        return []
    return list((await conn.execute(sa.select(table).where(table.c[column].in_(values)))).all())


async def person_records(conn: AsyncConnection, person_id: uuid.UUID) -> list[str]:
    """The person's household, that household's intakes, the person's clearings and handovers."""
    household = (await conn.execute(sa.select(persons.c.household_id).where(persons.c.id == person_id))).scalar_one_or_none()
    ids: list[Any] = [household] if household else []
    ids += (await conn.execute(sa.select(intakes.c.id).where(intakes.c.household_id == household))).scalars().all() if household else []
    ids += (await conn.execute(sa.select(clearings.c.id).where(clearings.c.person_id == person_id))).scalars().all()
    ids += (await conn.execute(sa.select(referral_handovers.c.referral_id).where(referral_handovers.c.person_id == person_id))).scalars().all()
    return [str(i) for i in ids]


async def subject_rows(conn: AsyncConnection, person_id: uuid.UUID) -> dict[str, Any]:
    """Rows of every table that holds something on the person (sealed columns decrypted by the caller)."""
    person = (await conn.execute(sa.select(persons).where(persons.c.id == person_id))).first()
    household_id = person.household_id if person else None
    clearing_rows = await _rows(conn, clearings, "person_id", [person_id])
    return {
        "person": person,
        "wrapped_key": (await conn.execute(sa.select(data_keys.c.wrapped_key).where(data_keys.c.subject_id == person_id))).scalar_one_or_none(),
        "household": (await _rows(conn, households, "id", [household_id]) or [None])[0],
        "intakes": await _rows(conn, intakes, "household_id", [household_id]),
        "letters": await _rows(conn, household_letters, "household_id", [household_id]),
        "consents": await _rows(conn, partner_consents, "person_id", [person_id]),
        "registration": await _rows(conn, registrations, "person_id", [person_id]),
        "clearings": clearing_rows,
        "clearing_records": await _rows(conn, clearing_records, "clearing_id", [c.id for c in clearing_rows]),
        "reminder_contact": await _rows(conn, reminder_contacts, "person_id", [person_id]),
        "referral_handovers": await _rows(conn, referral_handovers, "person_id", [person_id]),
    }
