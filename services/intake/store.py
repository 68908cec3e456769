"""Intake's tables and queries. Personal fields live only in `sealed` blobs (crypto.py); plain columns
hold pseudonymous ids and coarse derived facts for queries."""

from __future__ import annotations

import uuid
from datetime import date, datetime

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


async def record_referral(conn: AsyncConnection, referral_id: uuid.UUID, *, at: datetime, person_id: uuid.UUID | None = None,
                          partner: str | None = None, made: bool = False, handed_to: str | None = None, closed: bool = False) -> None:
    """Follows a referral's events in any order: a close stays closed, a handover's partner is kept
    against a later-arriving ReferralMade, the person is filled in when first known."""
    t = referral_handovers
    row = (await conn.execute(sa.select(t).where(t.c.referral_id == referral_id))).first()
    if row is None:
        await conn.execute(t.insert().values(referral_id=referral_id, person_id=person_id, partner=handed_to or partner, open=not closed, updated_at=at))
        return
    values: dict = {"updated_at": at}
    if person_id is not None and row.person_id is None:
        values["person_id"] = person_id
    if handed_to is not None:
        values["partner"] = handed_to
    elif made and row.partner is None:
        values["partner"] = partner
    if closed:
        values["open"] = False
    await conn.execute(t.update().where(t.c.referral_id == referral_id).values(**values))


async def record_consent_state(conn: AsyncConnection, person_id: uuid.UUID, partner: str, purpose: str, given_on: date, withdrawn: bool, at: datetime) -> None:
    """Keeps the newest announced state of one consent (an older event arriving late changes nothing)."""
    t = partner_consents
    key = (t.c.person_id == person_id, t.c.partner == partner, t.c.purpose == purpose)
    row = (await conn.execute(sa.select(t.c.changed_at).where(*key))).first()
    if row is None:
        await conn.execute(t.insert().values(person_id=person_id, partner=partner, purpose=purpose, given_on=given_on, withdrawn=withdrawn, changed_at=at))
    elif row.changed_at <= at:
        await conn.execute(t.update().where(*key).values(given_on=given_on, withdrawn=withdrawn, changed_at=at))


async def handover_referral(conn: AsyncConnection, referral_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(referral_handovers).where(referral_handovers.c.referral_id == referral_id))).first()


async def active_partner_consents(conn: AsyncConnection, person_id: uuid.UUID) -> set[tuple[str, str]]:
    t = partner_consents
    rows = await conn.execute(sa.select(t.c.partner, t.c.purpose).where(t.c.person_id == person_id, t.c.withdrawn.is_(False)))
    return {(r.partner, r.purpose) for r in rows}


async def person_row(conn: AsyncConnection, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(persons).where(persons.c.id == person_id))).first()


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
    await conn.execute(data_keys.insert().values(subject_id=subject_id, wrapped_key=wrapped, created_at=at))


async def household(conn: AsyncConnection, household_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(households).where(households.c.id == household_id))).first()


async def clearing(conn: AsyncConnection, clearing_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(clearings).where(clearings.c.id == clearing_id))).first()


async def clearing_of_person(conn: AsyncConnection, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(clearings).where(clearings.c.person_id == person_id))).first()


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
