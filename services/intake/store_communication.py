"""Queries of newcomer communication (issue 14): a household's letter language, reminder contacts and the
claims of the reminder e-mails (one per appointment)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.store import clearing_reminders, clearings, household_letters, reminder_contacts


async def letter_language(conn: AsyncConnection, household_id: uuid.UUID) -> str | None:
    row = (await conn.execute(sa.select(household_letters.c.language).where(household_letters.c.household_id == household_id))).first()
    return row.language if row else None


async def put_letter_language(conn: AsyncConnection, household_id: uuid.UUID, language: str, by: str, at: datetime) -> None:
    t = household_letters
    updated = await conn.execute(t.update().where(t.c.household_id == household_id).values(language=language, updated_by=by, updated_at=at))
    if updated.rowcount == 0:
        await conn.execute(t.insert().values(household_id=household_id, language=language, updated_by=by, updated_at=at))


async def reminder_contacts_of(conn: AsyncConnection, household_id: uuid.UUID) -> dict[uuid.UUID, sa.Row]:
    rows = await conn.execute(sa.select(reminder_contacts).where(reminder_contacts.c.household_id == household_id))
    return {r.person_id: r for r in rows}


async def put_reminder_contact(conn: AsyncConnection, person_id: uuid.UUID, household_id: uuid.UUID, sealed: bytes, by: str, at: datetime) -> None:
    t = reminder_contacts
    await conn.execute(t.delete().where(t.c.person_id == person_id))
    await conn.execute(t.insert().values(person_id=person_id, household_id=household_id, sealed=sealed, consent_at=at, recorded_by=by))


async def delete_reminder_contact(conn: AsyncConnection, person_id: uuid.UUID) -> None:
    await conn.execute(reminder_contacts.delete().where(reminder_contacts.c.person_id == person_id))


async def reminder_candidates(conn: AsyncConnection, appointments_from: datetime, appointments_to: datetime) -> list[sa.Row]:
    """Pending clearings with an appointment in the window whose person consents to reminders, with the
    reminder row of that appointment if one exists (claimed or sent)."""
    c, rc, r, hl = clearings, reminder_contacts, clearing_reminders, household_letters
    q = (
        sa.select(c.c.id.label("clearing_id"), c.c.person_id, c.c.household_id, c.c.status, c.c.appointment_at, rc.c.sealed,
                  hl.c.language, r.c.status.label("reminder_status"), r.c.claimed_at)
        .join(rc, rc.c.person_id == c.c.person_id)
        .outerjoin(hl, hl.c.household_id == c.c.household_id)
        .outerjoin(r, sa.and_(r.c.clearing_id == c.c.id, r.c.appointment_at == c.c.appointment_at))
        .where(c.c.status == "pending", c.c.appointment_at.is_not(None),
               c.c.appointment_at >= appointments_from, c.c.appointment_at < appointments_to)
        .order_by(c.c.appointment_at)
    )
    return list((await conn.execute(q)).all())


async def claim_reminder(conn: AsyncConnection, clearing_id: uuid.UUID, appointment_at: datetime, now: datetime, stale_before: datetime) -> bool:
    """Claims the reminder of one appointment; False if it was sent or another run holds a fresh claim
    (a concurrent first claim raises IntegrityError on the primary key: the caller counts it as taken)."""
    r = clearing_reminders
    row = (await conn.execute(sa.select(r).where(r.c.clearing_id == clearing_id, r.c.appointment_at == appointment_at))).first()
    if row is None:
        await conn.execute(r.insert().values(clearing_id=clearing_id, appointment_at=appointment_at, status="claimed", claimed_at=now))
        return True
    taken = await conn.execute(
        r.update().where(r.c.clearing_id == clearing_id, r.c.appointment_at == appointment_at, r.c.status == "claimed",
                         r.c.claimed_at < stale_before).values(claimed_at=now)
    )
    return taken.rowcount == 1


async def mark_reminder_sent(conn: AsyncConnection, clearing_id: uuid.UUID, appointment_at: datetime, at: datetime) -> None:
    r = clearing_reminders
    await conn.execute(r.update().where(r.c.clearing_id == clearing_id, r.c.appointment_at == appointment_at).values(status="sent", sent_at=at))


async def reminder_state(conn: AsyncConnection, clearing_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(clearing_reminders).where(clearing_reminders.c.clearing_id == clearing_id))).all())


async def release_reminder(conn: AsyncConnection, clearing_id: uuid.UUID, appointment_at: datetime) -> None:
    """Gives a claim back after a failed hand-over to the relay, so the next run tries again."""
    r = clearing_reminders
    await conn.execute(r.delete().where(r.c.clearing_id == clearing_id, r.c.appointment_at == appointment_at, r.c.status == "claimed"))
