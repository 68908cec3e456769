"""Intake's tables and queries. Personal fields live only in `sealed` blobs (crypto.py); plain columns
hold pseudonymous ids and coarse derived facts for queries."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts.workdays import BERLIN
from services.kit.db import UTCDateTime, Uuid, add_kit_tables, insert_ignoring_conflicts

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


# ---- newcomer communication (issue 14) -----------------------------------------------------------


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


async def person_row(conn: AsyncConnection, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(persons).where(persons.c.id == person_id, persons.c.removed_at.is_(None)))).first()


async def release_reminder(conn: AsyncConnection, clearing_id: uuid.UUID, appointment_at: datetime) -> None:
    """Gives a claim back after a failed hand-over to the relay, so the next run tries again."""
    r = clearing_reminders
    await conn.execute(r.delete().where(r.c.clearing_id == clearing_id, r.c.appointment_at == appointment_at, r.c.status == "claimed"))

# ---- ABRA clearing: dates, slots ------------------------------------------------------------------


async def move_clearing_dates(
    conn: AsyncConnection, clearing_id: uuid.UUID, *, move_in: date, deadline: date, correction_no: int, missed: bool | None = None
) -> None:
    """A corrected move-in date: the clearing's dates (and, if given, its missed flag) follow."""
    values: dict[str, object] = dict(move_in_date=move_in, registration_deadline=deadline, dates_correction_no=correction_no)
    if missed is not None:
        values["deadline_missed"] = missed
    await conn.execute(clearings.update().where(clearings.c.id == clearing_id).values(**values))


async def pending_clearings_of_household(conn: AsyncConnection, household_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(clearings).where(clearings.c.household_id == household_id, clearings.c.status == "pending"))).all())


async def free_slots(conn: AsyncConnection, not_before: datetime, until: datetime, closed_days: list[date], limit: int = 20) -> list[sa.Row]:
    """Slots with a free place from `not_before` up to `until`, earliest first, none on `closed_days`
    (Berlin calendar days: weekends and NRW holidays, for slots published before the rule)."""
    t = abra_slots
    q = sa.select(t.c.id, t.c.starts_at).where(t.c.starts_at >= not_before, t.c.starts_at <= until, t.c.booked < t.c.capacity)
    for day in closed_days:
        start = datetime.combine(day, time(0), tzinfo=BERLIN)
        q = q.where(sa.not_(sa.and_(t.c.starts_at >= start, t.c.starts_at < start + timedelta(days=1))))
    return list((await conn.execute(q.order_by(t.c.starts_at, t.c.id).limit(limit))).all())


# ---- registration of residence --------------------------------------------------------------------


async def registration_of(conn: AsyncConnection, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(registrations).where(registrations.c.person_id == person_id))).first()


async def registrations_of_household(conn: AsyncConnection, household_id: uuid.UUID) -> dict[uuid.UUID, sa.Row]:
    rows = await conn.execute(sa.select(registrations).where(registrations.c.household_id == household_id))
    return {r.person_id: r for r in rows}


async def add_registration(conn: AsyncConnection, *, person_id: uuid.UUID, household_id: uuid.UUID, registered_on: date, by: str, at: datetime) -> None:
    await conn.execute(registrations.insert().values(person_id=person_id, household_id=household_id, registered_on=registered_on, recorded_by=by, recorded_at=at))


async def intake_of_household(conn: AsyncConnection, household_id: uuid.UUID) -> uuid.UUID:
    return (await conn.execute(sa.select(intakes.c.id).where(intakes.c.household_id == household_id))).scalar_one()


# ---- person search (blind index) ------------------------------------------------------------------


async def put_search_tokens(conn: AsyncConnection, rows: list[dict]) -> None:
    """Index rows (token, person_id, household_id); a row already there is kept (a backfill that runs twice,
    two replicas starting at once). A person's rows are replaced with `drop_search_tokens` first."""
    if rows:
        await conn.execute(insert_ignoring_conflicts(conn, search_tokens, ["token", "person_id"]), rows)


async def drop_search_tokens(conn: AsyncConnection, person_ids: list[uuid.UUID]) -> None:
    if person_ids:
        await conn.execute(search_tokens.delete().where(search_tokens.c.person_id.in_(person_ids)))


async def search_hits(conn: AsyncConnection, tokens: list[str]) -> list[sa.Row]:
    """(person_id, household_id, token) of every index row holding one of `tokens`."""
    if not tokens:
        return []
    t = search_tokens
    return list((await conn.execute(sa.select(t.c.person_id, t.c.household_id, t.c.token).where(t.c.token.in_(tokens)))).all())


async def ranked_candidates(conn: AsyncConnection, plan: Any, limit: int, *, same_birth_date: bool = False) -> tuple[list[sa.Row], int]:
    """matching.rank evaluated in the database (`plan`: matching.ScoringPlan): per person the best weight
    per query part and whether the birth date matches, best first (most parts matched, then the score,
    then the person id), at most `limit` rows (person_id, parts_matched, score,
    birth_date_matches) and the number of all candidates; `same_birth_date`: only persons born on the plan's date."""
    t = search_tokens
    if not plan.tokens:
        return [], 0
    part_cols = [
        sa.func.max(sa.case(*[(t.c.token == token, weight) for token, weight in sorted(weights.items())], else_=0)).label(f"p{i}")
        if weights else sa.literal(0).label(f"p{i}")
        for i, weights in enumerate(plan.parts)
    ]
    birth_col = sa.func.max(sa.case((t.c.token == plan.birth_token, 1), else_=0)) if plan.birth_token else sa.literal(0)
    inner = (  # read from the primary key (token, person_id) alone
        sa.select(t.c.person_id, *part_cols, birth_col.label("birth"))
        .where(t.c.token.in_(plan.tokens))
        .group_by(t.c.person_id)
        .subquery()
    )
    parts = [inner.c[f"p{i}"] for i in range(len(plan.parts))]
    matched = sum((sa.case((p > 0, 1), else_=0) for p in parts), sa.literal(0))
    score = sum(parts, sa.literal(0)) + inner.c.birth * plan.birth_weight
    q = sa.select(
        inner.c.person_id, matched.label("parts_matched"), score.label("score"),
        inner.c.birth.label("birth_date_matches"), sa.func.count().over().label("total"),
    )
    q = q.where(matched > 0) if plan.parts else q.where(score > 0)
    if same_birth_date:
        q = q.where(inner.c.birth == 1)
    rows = list((await conn.execute(q.order_by(matched.desc(), score.desc(), inner.c.person_id).limit(limit))).all())
    return rows, rows[0].total if rows else 0


async def search_tokens_of(conn: AsyncConnection, person_id: uuid.UUID) -> list[str]:
    rows = await conn.execute(sa.select(search_tokens.c.token).where(search_tokens.c.person_id == person_id))
    return [r.token for r in rows]


async def persons_with_intake(conn: AsyncConnection, ids: list[uuid.UUID]) -> list[sa.Row]:
    """The persons (still in their household, not erased) with their wrapped data key, their household's
    intake id and district, in one query."""
    if not ids:
        return []
    q = (
        sa.select(persons.c.id, persons.c.household_id, persons.c.sealed, data_keys.c.wrapped_key, intakes.c.id.label("intake_id"),
                  households.c.district, households.c.created_at.label("household_created_at"))
        .select_from(
            persons.join(households, households.c.id == persons.c.household_id).join(intakes, intakes.c.household_id == persons.c.household_id)
            .join(data_keys, data_keys.c.subject_id == persons.c.id)
        )
        .where(persons.c.id.in_(ids), persons.c.removed_at.is_(None), persons.c.sealed.is_not(None))
    )
    return list((await conn.execute(q)).all())


async def unindexed_persons(conn: AsyncConnection, limit: int) -> list[sa.Row]:
    """Persons (readable, in a household) without any index row: stored before the index existed."""
    has_tokens = sa.select(search_tokens.c.person_id).where(search_tokens.c.person_id == persons.c.id).exists()
    q = (
        sa.select(persons.c.id, persons.c.household_id, persons.c.sealed)
        .where(persons.c.sealed.is_not(None), persons.c.removed_at.is_(None), ~has_tokens)
        .order_by(persons.c.id)
        .limit(limit)
    )
    return list((await conn.execute(q)).all())
