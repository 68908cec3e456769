"""Intake's tables and the queries of intakes, households, persons and data keys. Personal fields live only in `sealed` blobs (crypto.py); plain columns
hold pseudonymous ids and coarse derived facts for queries. The other queries: `store_drafts.py`, `store_clearing.py`
(clearings, slots, registrations), `store_communication.py`, `store_search.py`, `store_handover.py`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

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
    sa.Column("sealed", sa.LargeBinary, nullable=True),
    sa.Column("adult", sa.Boolean, nullable=True),
    sa.Column("age_group", sa.String(10), nullable=True),
    sa.Column("sex", sa.String(20), nullable=True),
    sa.Column("residence_status", sa.String(40), nullable=True),
    sa.Column("prospect", sa.String(10), nullable=True),
    sa.Column("employable", sa.Boolean, nullable=True),
    sa.Column("needs", sa.String(200), nullable=True),  # comma separated Need values
    sa.Column("routes", sa.String(200), nullable=True),  # comma separated Route values
    sa.Column("arrival_record_id", Uuid, nullable=True),  # the statistics record (ArrivalRecorded) to retract on correction
    sa.Column("removed_at", UTCDateTime, nullable=True),
    sa.Column("erased_at", UTCDateTime, nullable=True),
)

#: One wrapped data key per data subject (a person or a draft); deleting the row erases the subject.
data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("subject_id", Uuid, primary_key=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
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
    sa.Column("correction_no", sa.Integer, nullable=False, server_default="0"),
    sa.Column("draft_id", Uuid, nullable=True),
    sa.UniqueConstraint("draft_id", name="uq_intakes_draft_id"),
)

drafts = sa.Table(
    "intake_drafts",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("sealed", sa.LargeBinary, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=True),  # null only for drafts saved before migration 0004
    sa.Column("updated_at", UTCDateTime, nullable=False, index=True),
    sa.Column("completed_intake_id", Uuid, nullable=True),
)

clearings = sa.Table(
    "clearings",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("person_id", Uuid, nullable=False, unique=True),
    sa.Column("intake_id", Uuid, nullable=False),
    sa.Column("household_id", Uuid, nullable=False, index=True),
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("move_in_date", sa.Date, nullable=False),
    sa.Column("registration_deadline", sa.Date, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending, cleared, not_appeared, cancelled
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("slot_id", Uuid, nullable=True),
    sa.Column("appointment_at", UTCDateTime, nullable=True),
    sa.Column("no_shows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deadline_missed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("long_term_coaching", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("needs_found", sa.String(200), nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    # the intake correction that last moved move_in_date (null: the intake's own date); the correction's
    # consumer sends the new dates to the workflow under this number (once per number)
    sa.Column("dates_correction_no", sa.Integer, nullable=True),
    # v3: the household's workflow the clearing belongs to (null: started before, its own per-person
    # workflow), and the mark of a clearing whose workflow is still to be started (handlers_clearing_starts.py)
    sa.Column("workflow_id", sa.String(100), nullable=True, index=True),
    sa.Column("workflow_pending", sa.Boolean, nullable=False, server_default=sa.false(), index=True),
)

abra_slots = sa.Table(
    "abra_slots",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("starts_at", UTCDateTime, nullable=False, index=True),
    sa.Column("coach", sa.String(200), nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("booked", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

#: Registration of residence done at the front desk (§17 BMG), one per person, any route.
registrations = sa.Table(
    "registrations",
    metadata,
    sa.Column("person_id", Uuid, sa.ForeignKey("persons.id"), primary_key=True),
    sa.Column("household_id", Uuid, nullable=False, index=True),
    sa.Column("registered_on", sa.Date, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

#: One booking per (clearing, attempt): a retried booking activity finds it instead of booking twice.
slot_bookings = sa.Table(
    "slot_bookings",
    metadata,
    sa.Column("clearing_id", Uuid, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("slot_id", Uuid, sa.ForeignKey("abra_slots.id"), nullable=False),
    sa.Column("appointment_at", UTCDateTime, nullable=False),
    sa.Column("booked_at", UTCDateTime, nullable=False),
)

#: The clearing interview's record (living situation, migration circumstances, information given,
#: needs found, notes), sealed under the person's data key.
clearing_records = sa.Table(
    "clearing_records",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("clearing_id", Uuid, nullable=False, index=True),
    sa.Column("sealed", sa.LargeBinary, nullable=True),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # submitted, accepted
)


#: Casework's referrals as far as intake needs them to hand a person's details to a partner: which
#: person, which partner, still open (from ReferralMade, ReferralHandedOver, ReferralClosed).
referral_handovers = sa.Table(
    "referral_handovers",
    metadata,
    sa.Column("referral_id", Uuid, primary_key=True),
    sa.Column("person_id", Uuid, nullable=True, index=True),  # null until ReferralMade arrives (a close may come first)
    sa.Column("partner", sa.String(40), nullable=True),
    sa.Column("open", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: Casework's consent register as ConsentChanged announces it: the latest state per person, partner, purpose.
partner_consents = sa.Table(
    "partner_consents",
    metadata,
    sa.Column("person_id", Uuid, primary_key=True),
    sa.Column("partner", sa.String(40), primary_key=True),
    sa.Column("purpose", sa.String(40), primary_key=True),
    sa.Column("given_on", sa.Date, nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
)


#: The language a household's letters and reminders are printed in (issue 14; default German).
household_letters = sa.Table(
    "household_letters",
    metadata,
    sa.Column("household_id", Uuid, primary_key=True),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: A newcomer's e-mail address for appointment reminders, sealed under the person's data key (erasing
#: the person shreds it). A row exists only while the person consents to reminders by e-mail.
reminder_contacts = sa.Table(
    "reminder_contacts",
    metadata,
    sa.Column("person_id", Uuid, primary_key=True),
    sa.Column("household_id", Uuid, nullable=False, index=True),
    sa.Column("sealed", sa.LargeBinary, nullable=True),
    sa.Column("consent_at", UTCDateTime, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
)

#: One reminder per clearing appointment: the row is claimed before the mail goes out and marked sent
#: after, so a second run, replica or retry sends nothing twice (a claim older than the retry interval of
#: a crashed run is taken over; the mail's fixed Message-ID lets a receiver drop that rare duplicate).
clearing_reminders = sa.Table(
    "clearing_reminders",
    metadata,
    sa.Column("clearing_id", Uuid, primary_key=True),
    sa.Column("appointment_at", UTCDateTime, primary_key=True),
    sa.Column("status", sa.String(10), nullable=False),  # claimed, sent
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=True),
)

#: The search shows a person's household by its intake (migration 0005_search_index).
sa.Index("ix_intakes_household_id", intakes.c.household_id)

#: The person search's blind index (matching.py, crypto.BlindIndex): one row per person and keyed hash of
#: a name part, phonetic key or birth date. No name is stored here; erasing or removing a person deletes
#: their rows.
search_tokens = sa.Table(
    "person_search_tokens",
    metadata,
    sa.Column("token", sa.String(32), primary_key=True),
    sa.Column("person_id", Uuid, primary_key=True),
    sa.Column("household_id", Uuid, nullable=False),
    sa.Index("ix_person_search_tokens_person_id", "person_id"),
)


async def intake_by_key(conn: AsyncConnection, key: str) -> sa.Row | None:
    return (await conn.execute(sa.select(intakes).where(intakes.c.idempotency_key == key))).first()


async def intake_by_id(conn: AsyncConnection, intake_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(intakes).where(intakes.c.id == intake_id))).first()


async def person_ids(conn: AsyncConnection, household_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.execute(
        sa.select(persons.c.id).where(persons.c.household_id == household_id, persons.c.removed_at.is_(None)).order_by(persons.c.position)
    )
    return [r.id for r in rows]


async def household_persons(conn: AsyncConnection, household_id: uuid.UUID, *, include_removed: bool = False) -> list[sa.Row]:
    q = sa.select(persons).where(persons.c.household_id == household_id).order_by(persons.c.position)
    if not include_removed:
        q = q.where(persons.c.removed_at.is_(None))
    return list((await conn.execute(q)).all())


async def wrapped_keys(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, bytes]:
    if not ids:
        return {}
    rows = await conn.execute(sa.select(data_keys).where(data_keys.c.subject_id.in_(ids)))
    return {r.subject_id: r.wrapped_key for r in rows}


async def put_key(conn: AsyncConnection, subject_id: uuid.UUID, wrapped: bytes, at: datetime) -> None:
    await conn.execute(data_keys.insert(), dict(subject_id=subject_id, wrapped_key=wrapped, created_at=at))


async def household(conn: AsyncConnection, household_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(households).where(households.c.id == household_id))).first()


async def person_row(conn: AsyncConnection, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(persons).where(persons.c.id == person_id, persons.c.removed_at.is_(None)))).first()


async def intake_of_household(conn: AsyncConnection, household_id: uuid.UUID) -> uuid.UUID:
    return (await conn.execute(sa.select(intakes.c.id).where(intakes.c.household_id == household_id))).scalar_one()


async def person_any(conn: AsyncConnection, person_id: uuid.UUID) -> sa.Row | None:
    """The person's row, also after removal from the household (erasure, a clearing's person)."""
    return (await conn.execute(sa.select(persons).where(persons.c.id == person_id))).first()


async def insert_household(conn: AsyncConnection, household_id: uuid.UUID, district: str, at: datetime) -> None:
    await conn.execute(households.insert(), dict(id=household_id, district=district, created_at=at))


async def set_household_district(conn: AsyncConnection, household_id: uuid.UUID, district: str) -> None:
    await conn.execute(households.update().where(households.c.id == household_id).values(district=district))


async def insert_intake(conn: AsyncConnection, **values: Any) -> None:
    """An intake row (id, household_id, status, idempotency_key, request_hash, completed_by, completed_at, correction_no, draft_id)."""
    await conn.execute(intakes.insert(), values)


async def set_correction_no(conn: AsyncConnection, intake_id: uuid.UUID, number: int) -> None:
    await conn.execute(intakes.update().where(intakes.c.id == intake_id).values(correction_no=number))


async def insert_persons(conn: AsyncConnection, keys: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """New persons' wrapped data keys and rows, one statement each."""
    if keys:
        await conn.execute(data_keys.insert(), keys)
    if rows:
        await conn.execute(persons.insert(), rows)


_UPDATE_PERSON = persons.update().where(persons.c.id == sa.bindparam("b_id"))  # built once (services/kit/db.py: why)


async def update_person(conn: AsyncConnection, person_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(_UPDATE_PERSON, {"b_id": person_id, **values})  # the SET columns are the parameters' names


async def erase_person_data(conn: AsyncConnection, person_id: uuid.UUID, at: datetime) -> None:
    """Crypto-shredding's second half: with the data key gone (`delete_key`), the unreadable blob is dropped too."""
    await conn.execute(persons.update().where(persons.c.id == person_id).values(sealed=None, erased_at=at))


async def delete_key(conn: AsyncConnection, subject_id: uuid.UUID) -> None:
    await conn.execute(data_keys.delete().where(data_keys.c.subject_id == subject_id))
