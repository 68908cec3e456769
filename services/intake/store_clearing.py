"""Queries of the ABRA pre-registration clearing (DOMAIN.md flow 2): clearings, the slot calendar and its
bookings, the interview's sealed records, and the registration of residence (§17 BMG)."""

from __future__ import annotations

import functools
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts.workdays import BERLIN
from services.intake.store import abra_slots, clearing_records, clearings, registrations, slot_bookings

# statements of the clearing's hot path, built once (services/kit/db.py: why)
_CLEARING = sa.select(clearings).where(clearings.c.id == sa.bindparam("b_id"))
_MARKED = (
    sa.select(clearings).where(clearings.c.workflow_pending.is_(True)).order_by(clearings.c.started_at, clearings.c.id).limit(sa.bindparam("b_limit"))
)
_UNMARK = clearings.update().where(clearings.c.id.in_(sa.bindparam("b_ids", expanding=True))).values(workflow_pending=False)
_BOOKING_OF = sa.select(slot_bookings).where(slot_bookings.c.clearing_id == sa.bindparam("b_clearing"), slot_bookings.c.attempt == sa.bindparam("b_attempt"))
_TAKE_PLACE = (
    abra_slots.update().where(abra_slots.c.id == sa.bindparam("b_id"), abra_slots.c.booked < abra_slots.c.capacity).values(booked=abra_slots.c.booked + 1)
)
_BOOKED = clearings.update().where(clearings.c.id == sa.bindparam("b_id"))
_REGISTRATION_OF = sa.select(registrations).where(registrations.c.person_id == sa.bindparam("b_person"))


async def clearing(conn: AsyncConnection, clearing_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(_CLEARING, {"b_id": clearing_id})).first()


async def clearing_of_person(conn: AsyncConnection, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(clearings).where(clearings.c.person_id == person_id))).first()


async def pending_clearings_of_household(conn: AsyncConnection, household_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(clearings).where(clearings.c.household_id == household_id, clearings.c.status == "pending"))).all())


async def pending_clearings_of_workflow(conn: AsyncConnection, workflow_id: str) -> list[sa.Row]:
    """The pending clearings of a household's workflow (v3), in the order they were written."""
    q = sa.select(clearings).where(clearings.c.workflow_id == workflow_id, clearings.c.status == "pending").order_by(clearings.c.started_at, clearings.c.id)
    return list((await conn.execute(q)).all())


async def clear_start_marks(conn: AsyncConnection, clearing_ids: list[uuid.UUID]) -> None:
    """The clearings' workflow runs: their start marks are cleared."""
    await conn.execute(_UNMARK, {"b_ids": clearing_ids})


async def marked_clearings(conn: AsyncConnection, limit: int) -> list[sa.Row]:
    """Clearings still marked for their workflow's start, oldest first (a household's in the order written)."""
    return list((await conn.execute(_MARKED, {"b_limit": limit})).all())


async def move_clearing_dates(
    conn: AsyncConnection, clearing_id: uuid.UUID, *, move_in: date, deadline: date, correction_no: int, missed: bool | None = None
) -> None:
    """A corrected move-in date: the clearing's dates (and, if given, its missed flag) follow."""
    values: dict[str, object] = dict(move_in_date=move_in, registration_deadline=deadline, dates_correction_no=correction_no)
    if missed is not None:
        values["deadline_missed"] = missed
    await conn.execute(clearings.update().where(clearings.c.id == clearing_id).values(**values))


async def insert_clearing(conn: AsyncConnection, *, replaces: uuid.UUID | None = None, **values: Any) -> None:
    """A new clearing row; `replaces`: the person's earlier (cancelled) clearing, deleted first (one per person)."""
    if replaces is not None:
        await conn.execute(clearings.delete().where(clearings.c.id == replaces))
    await conn.execute(clearings.insert(), values)


async def clearings_of_household(conn: AsyncConnection, household_id: uuid.UUID) -> dict[uuid.UUID, sa.Row]:
    """The household's clearings by person id."""
    return {c.person_id: c for c in (await conn.execute(sa.select(clearings).where(clearings.c.household_id == household_id))).all()}


async def list_clearings(
    conn: AsyncConnection, *, household_id: uuid.UUID | None, person_id: uuid.UUID | None, status: str | None,
    appointment_from: datetime | None, appointment_to: datetime | None, booked: bool | None, limit: int = 1000,
) -> list[sa.Row]:
    """The coaches' work list: filtered, by appointment when a date range is given, else by start."""
    t = clearings
    dated = appointment_from is not None or appointment_to is not None
    q = sa.select(t).order_by(t.c.appointment_at if dated else t.c.started_at).limit(limit)
    if household_id:
        q = q.where(t.c.household_id == household_id)
    if person_id:
        q = q.where(t.c.person_id == person_id)
    if status:
        q = q.where(t.c.status == status)
    if appointment_from is not None:
        q = q.where(t.c.appointment_at >= appointment_from)
    if appointment_to is not None:
        q = q.where(t.c.appointment_at < appointment_to)
    if booked is not None:
        q = q.where(t.c.appointment_at.is_not(None) if booked else t.c.appointment_at.is_(None))
    return list((await conn.execute(q)).all())


async def close_clearing(conn: AsyncConnection, row: sa.Row, outcome: str, at: datetime, *, give_back_slot: bool) -> None:
    """The clearing closes with `outcome`; `give_back_slot`: its booked place is freed again."""
    await conn.execute(clearings.update().where(clearings.c.id == row.id).values(status=outcome, closed_at=at))
    if give_back_slot and row.slot_id is not None:
        await conn.execute(abra_slots.update().where(abra_slots.c.id == row.slot_id).values(booked=abra_slots.c.booked - 1))


async def complete_clearing(conn: AsyncConnection, clearing_id: uuid.UUID, record_id: uuid.UUID, at: datetime, *, long_term_coaching: bool,
                            needs_found: list[str]) -> None:
    """The interview was held: the clearing is cleared with its coarse facts, its record accepted."""
    await conn.execute(
        clearings.update().where(clearings.c.id == clearing_id).values(
            status="cleared", closed_at=at, long_term_coaching=long_term_coaching, needs_found=",".join(needs_found)
        )
    )
    await conn.execute(clearing_records.update().where(clearing_records.c.id == record_id).values(status="accepted"))


async def mark_deadline_missed(conn: AsyncConnection, clearing_id: uuid.UUID) -> None:
    await conn.execute(clearings.update().where(clearings.c.id == clearing_id).values(deadline_missed=True))


async def record_no_show(conn: AsyncConnection, clearing_id: uuid.UUID, attempt: int) -> None:
    """The person did not come to the attempt's appointment: the appointment is dropped for a rebooking."""
    await conn.execute(clearings.update().where(clearings.c.id == clearing_id).values(no_shows=attempt, appointment_at=None, slot_id=None))


# ---- the slot calendar and bookings --------------------------------------------------------------


async def insert_slots(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(abra_slots.insert(), rows)


async def slots_between(conn: AsyncConnection, start: datetime, end: datetime) -> list[sa.Row]:
    t = abra_slots
    return list((await conn.execute(sa.select(t).where(t.c.starts_at >= start, t.c.starts_at < end).order_by(t.c.starts_at))).all())


async def booking_of(conn: AsyncConnection, clearing_id: uuid.UUID, attempt: int) -> sa.Row | None:
    return (await conn.execute(_BOOKING_OF, {"b_clearing": clearing_id, "b_attempt": attempt})).first()


async def take_place(conn: AsyncConnection, slot_id: uuid.UUID) -> bool:
    """Takes one place of the slot if one is free (a conditional update: two clearings never share the last place)."""
    taken = await conn.execute(_TAKE_PLACE, {"b_id": slot_id})
    return taken.rowcount == 1


async def record_booking(conn: AsyncConnection, clearing_id: uuid.UUID, attempt: int, slot_id: uuid.UUID, appointment_at: datetime, at: datetime) -> None:
    """The booking of (clearing, attempt), and the clearing's appointment."""
    await conn.execute(slot_bookings.insert(), dict(clearing_id=clearing_id, attempt=attempt, slot_id=slot_id, appointment_at=appointment_at, booked_at=at))
    await conn.execute(_BOOKED, {"b_id": clearing_id, "slot_id": slot_id, "appointment_at": appointment_at, "attempt": attempt})


# ---- the clearing interview's records ------------------------------------------------------------


async def add_clearing_record(conn: AsyncConnection, record_id: uuid.UUID, clearing_id: uuid.UUID, sealed: bytes, by: str, at: datetime) -> None:
    await conn.execute(
        clearing_records.insert().values(id=record_id, clearing_id=clearing_id, sealed=sealed, recorded_by=by, recorded_at=at, status="submitted")
    )


async def withdraw_clearing_record(conn: AsyncConnection, record_id: uuid.UUID) -> None:
    """A submitted record the workflow refused is withdrawn (an accepted one stays)."""
    r = clearing_records
    await conn.execute(r.delete().where(r.c.id == record_id, r.c.status == "submitted"))


async def clearing_records_of(conn: AsyncConnection, clearing_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(clearing_records).where(clearing_records.c.clearing_id == clearing_id))).all())


async def shred_clearing_records(conn: AsyncConnection, clearing_id: uuid.UUID) -> None:
    await conn.execute(clearing_records.update().where(clearing_records.c.clearing_id == clearing_id).values(sealed=None))


async def free_slots(conn: AsyncConnection, not_before: datetime, until: datetime, closed_days: list[date], limit: int = 20) -> list[sa.Row]:
    """Slots with a free place from `not_before` up to `until`, earliest first, none on `closed_days`
    (Berlin calendar days: weekends and NRW holidays, for slots published before the rule)."""
    params: dict[str, object] = {"b_from": not_before, "b_until": until, "b_limit": limit}
    for i, day in enumerate(closed_days):
        start = datetime.combine(day, time(0), tzinfo=BERLIN)
        params[f"b_day{i}"], params[f"b_next{i}"] = start, start + timedelta(days=1)
    return list((await conn.execute(_free_slots(len(closed_days)), params)).all())


@functools.cache
def _free_slots(closed_days: int) -> sa.Select:
    """The query of `free_slots` for a window with `closed_days` closed days, built once per count."""
    t = abra_slots
    q = sa.select(t.c.id, t.c.starts_at).where(t.c.starts_at >= sa.bindparam("b_from"), t.c.starts_at <= sa.bindparam("b_until"), t.c.booked < t.c.capacity)
    for i in range(closed_days):
        q = q.where(sa.not_(sa.and_(t.c.starts_at >= sa.bindparam(f"b_day{i}"), t.c.starts_at < sa.bindparam(f"b_next{i}"))))
    return q.order_by(t.c.starts_at, t.c.id).limit(sa.bindparam("b_limit"))


# ---- registration of residence --------------------------------------------------------------------


async def registration_of(conn: AsyncConnection, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(_REGISTRATION_OF, {"b_person": person_id})).first()


async def registrations_of_household(conn: AsyncConnection, household_id: uuid.UUID) -> dict[uuid.UUID, sa.Row]:
    rows = await conn.execute(sa.select(registrations).where(registrations.c.household_id == household_id))
    return {r.person_id: r for r in rows}


async def add_registration(conn: AsyncConnection, *, person_id: uuid.UUID, household_id: uuid.UUID, registered_on: date, by: str, at: datetime) -> None:
    await conn.execute(
        registrations.insert().values(person_id=person_id, household_id=household_id, registered_on=registered_on, recorded_by=by, recorded_at=at)
    )
