"""ABRA pre-registration clearing on intake's side (DOMAIN.md flow 2; 000 "Projekt ABRA"): the slot
calendar, the workflow's activities (idempotent: a retried activity books, reminds and announces once),
the coach's actions (stored encrypted, then sent to the workflow as updates) and the registration gate."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from services.contracts.activities import TaskQueues
from services.contracts.events import (
    ClearingAppointmentBooked,
    ClearingClosed,
    ClearingCompleted,
    ClearingNoShow,
    ClearingStarted,
    PersonRegistered,
    RegistrationDeadlineMissed,
)
from services.contracts.intake_workflows import (
    BOOK_APPOINTMENT,
    CLEARING_WORKFLOW,
    CLOSE_CLEARING,
    COMPLETE_CLEARING,
    MARK_DEADLINE_MISSED,
    NEEDS_FOUND,
    RAISE_NO_SLOT_ALERT,
    RECORD_NO_SHOW,
    SEND_REMINDER,
    Attendance,
    Booking,
    BookInput,
    ClearingInput,
    ClearingState,
    ClearingStep,
    CloseInput,
    CloseRequest,
    CompleteInput,
    InterviewFacts,
    MoveInCorrection,
    clearing_workflow_id,
)
from services.contracts.vocab import Route
from services.contracts.workdays import BERLIN, add_working_days, closed_day_reason, closed_days_between, end_of_working_day
from services.intake import store
from services.intake.domain import RegistrationOut, check_registration, may_register, registration_missed
from services.intake.handlers import CLEARING_PENDING, WRITE_ROLES, keyring, open_person, registration_deadline
from services.kit import telemetry
from services.kit.alerts import raise_alert, resolve_alerts
from services.kit.auth import Principal
from services.kit.broker import Delivery
from services.kit.db import utc_now
from services.kit.errors import Conflict, Invalid, NotFound
from services.kit.service import Runtime
from services.kit.temporal import execute_update_or_start

COACH_ROLES = ("abra_coach",)


# ---- API models ----------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SlotIn(_In):
    starts_at: AwareDatetime
    capacity: int = Field(default=1, ge=1, le=20)
    coach: str | None = Field(default=None, max_length=200, description="Username of the coach; default: the caller.")


class SlotOut(BaseModel):
    slot_id: uuid.UUID
    starts_at: datetime
    coach: str
    capacity: int
    booked: int


class ClearingInterviewIn(_In):
    """The clearing interview (000 "Projekt ABRA": living situation in the home country, circumstances of
    migration, information about requirements and support; needs found)."""

    living_situation: str = Field(min_length=1, max_length=4000)
    migration_circumstances: str = Field(min_length=1, max_length=4000)
    information_given: str = Field(min_length=1, max_length=4000)
    needs_found: list[str] = Field(default_factory=list, description=f"Subset of {', '.join(NEEDS_FOUND)}.")
    long_term_coaching: bool = Field(default=False, description="Recommend long-term ABRA coaching (opens a casework case, programme ABRA).")
    notes: str | None = Field(default=None, max_length=4000)

    @field_validator("needs_found")
    @classmethod
    def _known_needs(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(NEEDS_FOUND)
        if unknown:
            raise ValueError(f"unknown values {sorted(unknown)}; allowed: {', '.join(NEEDS_FOUND)}")
        return sorted(set(value))


class CloseIn(_In):
    outcome: str = Field(pattern="^(not_appeared|cancelled)$")


class ClearingOut(BaseModel):
    clearing_id: uuid.UUID
    person_id: uuid.UUID
    household_id: uuid.UUID
    status: str
    attempt: int
    appointment_at: datetime | None
    registration_deadline: date
    deadline_missed: bool
    long_term_coaching: bool


class ClearingDetail(ClearingOut):
    """A clearing with the person's name for the coach's appointment list (an audited read)."""

    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    languages: list[str]


class PersonRegistration(BaseModel):
    person_id: uuid.UUID
    given_name: str | None
    family_name: str | None
    allowed: bool
    reason: str = Field(description="For the front desk (German).")
    appointment_at: datetime | None = None
    registration_deadline: date | None = None
    clearing_status: str | None = None
    registered_on: date | None = Field(default=None, description="Registration of residence recorded by the front desk.")
    deadline_missed: bool = Field(default=False, description="The §17 BMG deadline passed without a registration before it.")


class RegistrationStatus(BaseModel):
    household_id: uuid.UUID
    persons: list[PersonRegistration]


def clearing_out(row: sa.Row) -> ClearingOut:
    return ClearingOut(
        clearing_id=row.id, person_id=row.person_id, household_id=row.household_id, status=row.status, attempt=row.attempt,
        appointment_at=row.appointment_at, registration_deadline=row.registration_deadline,
        deadline_missed=bool(row.deadline_missed), long_term_coaching=bool(row.long_term_coaching),
    )


# ---- slots ---------------------------------------------------------------------------------------


async def publish_slots(rt: Runtime, principal: Principal, slots: list[SlotIn]) -> list[SlotOut]:
    """Publishes clearing slots, on working days only: a slot on a weekend or an NRW public holiday is
    422 at its `starts_at` with the reason (`closed_day_reason`), and nothing is published."""
    problems = [
        (f"slots.{i}.starts_at", reason) for i, s in enumerate(slots) if (reason := closed_day_reason(s.starts_at.astimezone(BERLIN).date()))
    ]
    if problems:
        raise Invalid(problems[0][1], field=problems[0][0], errors=problems)
    now = utc_now()
    rows = [
        dict(id=uuid.uuid4(), starts_at=s.starts_at, coach=s.coach or principal.username, capacity=s.capacity, booked=0, created_at=now)
        for s in slots
    ]
    async with rt.db.begin() as conn:
        if rows:
            await conn.execute(store.abra_slots.insert(), rows)
    return [SlotOut(slot_id=r["id"], starts_at=r["starts_at"], coach=r["coach"], capacity=r["capacity"], booked=0) for r in rows]


async def list_slots(rt: Runtime, start: datetime, end: datetime) -> list[SlotOut]:
    t = store.abra_slots
    async with rt.db.read() as conn:
        rows = (await conn.execute(sa.select(t).where(t.c.starts_at >= start, t.c.starts_at < end).order_by(t.c.starts_at))).all()
    return [SlotOut(slot_id=r.id, starts_at=r.starts_at, coach=r.coach, capacity=r.capacity, booked=r.booked) for r in rows]


# ---- starting the workflow (consumer of ClearingStarted) -----------------------------------------


async def start_clearing_workflow(rt: Runtime, event: ClearingStarted, delivery: Delivery) -> None:
    """Starts `clearing-<person id>` (business key, USE_EXISTING) for a clearing intake committed; a
    redelivered event finds the running workflow."""
    telemetry.mark(clearing_id=event.clearing_id, person_id=event.person_id)
    if await delivery.already_handled():
        return
    async with rt.db.read() as conn:
        row = await store.clearing(conn, event.clearing_id)
    if row is not None and row.status == CLEARING_PENDING:
        await ensure_clearing_workflow(rt, row)
    async with delivery.transaction():
        pass


async def cancel_clearings_after_correction(rt: Runtime, event: Any, delivery: Delivery) -> None:
    """A correction that removes a person's ABRA route (or the person) cancels the pending clearing; a
    pending clearing that stays gets the dates of a corrected move-in date (update `correct_move_in`,
    once per correction number, so a redelivered correction changes nothing)."""
    if await delivery.already_handled():
        return
    keep = {p.person_id for p in event.persons if Route.ABRA_CLEARING in p.routes}
    async with rt.db.read() as conn:
        rows = await store.pending_clearings_of_household(conn, event.household_id)
    for row in rows:
        if row.person_id in keep:
            if row.dates_correction_no is not None and row.dates_correction_no >= event.correction_no:
                await _send_move_in(rt, row)
            continue
        try:
            await _update(rt, row.person_id, "close", CloseRequest(outcome="cancelled", by_correction=True))
        except Conflict:
            async with rt.db.read() as conn:
                now_row = await store.clearing(conn, row.id)
            if now_row is not None and now_row.status == CLEARING_PENDING:
                raise  # a coach decision was being recorded: the redelivery tries again
        except NotFound:  # the workflow never started (or ended): close the record directly
            await close_clearing(rt, CloseInput(clearing_id=row.id, outcome="cancelled", at=utc_now()))
    async with delivery.transaction():
        pass


async def _send_move_in(rt: Runtime, row: sa.Row) -> None:
    """The clearing's current move-in date to its workflow, under the correction that set it. A workflow
    not started yet is started with the corrected date; one that closed meanwhile needs nothing."""
    try:
        await _update(rt, row.person_id, "correct_move_in", MoveInCorrection(correction_no=row.dates_correction_no, move_in_date=row.move_in_date), pending=row)
    except (Conflict, NotFound):
        async with rt.db.read() as conn:
            now_row = await store.clearing(conn, row.id)
        if now_row is not None and now_row.status == CLEARING_PENDING:
            raise


async def ensure_clearing_workflow(rt: Runtime, row: sa.Row) -> None:
    """Starts the pending clearing's workflow, or joins it if it runs (business key, USE_EXISTING)."""
    s = rt.settings
    assert rt.temporal is not None
    await rt.temporal.start_workflow(
        CLEARING_WORKFLOW,
        ClearingInput(
            clearing_id=row.id, person_id=row.person_id, tenant=rt.platform.tenant, move_in_date=row.move_in_date,
            booking_working_days=s.clearing_booking_working_days, reminder_days=s.clearing_reminder_days,
            deadline_days=s.registration_deadline_days, max_rebookings=s.clearing_max_rebookings,
            slot_retry_minutes=s.clearing_slot_retry_minutes, correction_no=row.dates_correction_no or 0,
        ),
        id=clearing_workflow_id(row.person_id),
        task_queue=TaskQueues.INTAKE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


# ---- coach actions (workflow updates) ------------------------------------------------------------


async def _start_if_pending(rt: Runtime, clearing_id: uuid.UUID) -> None:
    async with rt.db.read() as conn:
        row = await store.clearing(conn, clearing_id)
    if row is not None and row.status == CLEARING_PENDING:
        await ensure_clearing_workflow(rt, row)


async def _update(rt: Runtime, person_id: uuid.UUID, name: str, arg: BaseModel, pending: sa.Row | None = None) -> ClearingState:
    """A coach's record as a workflow update. The clearing is visible once intake commits it, and its
    workflow starts just after (consumer of ClearingStarted): given the `pending` row, a record made
    in that window starts the workflow itself, if the clearing is still pending, and is sent once more."""
    assert rt.temporal is not None
    starter = None if pending is None else (lambda: _start_if_pending(rt, pending.id))
    try:
        return await execute_update_or_start(rt.temporal, clearing_workflow_id(person_id), name, arg, starter, result_type=ClearingState)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise Conflict(getattr(cause, "message", None) or str(cause)) from exc
    except RPCError as exc:
        if "not found" in str(exc).lower() or "already completed" in str(exc).lower():
            raise NotFound("the clearing is not running") from exc
        raise


async def _pending_clearing(rt: Runtime, clearing_id: uuid.UUID) -> sa.Row:
    async with rt.db.read() as conn:
        row = await store.clearing(conn, clearing_id)
    if row is None:
        raise NotFound("no such clearing")
    if row.status != CLEARING_PENDING:
        raise Conflict(f"the clearing is closed ({row.status})")
    return row


async def record_attendance(rt: Runtime, principal: Principal, clearing_id: uuid.UUID, attended: bool) -> ClearingOut:
    row = await _pending_clearing(rt, clearing_id)
    telemetry.mark(clearing_id=clearing_id)
    await _update(rt, row.person_id, "record_attendance", Attendance(attended=attended), pending=row)
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, COACH_ROLES, "attendance" if attended else "no_show", "clearing", clearing_id)
        row = await store.clearing(conn, clearing_id)
    return clearing_out(row)


async def record_interview(rt: Runtime, principal: Principal, clearing_id: uuid.UUID, body: ClearingInterviewIn) -> ClearingOut:
    """Stores the interview sealed under the person's data key, then completes the workflow with the
    non-personal facts; a rejected update withdraws the stored record."""
    row = await _pending_clearing(rt, clearing_id)
    telemetry.mark(clearing_id=clearing_id)
    record_id = uuid.uuid4()
    ring = keyring(rt)
    async with rt.db.begin() as conn:
        wrapped = (await store.wrapped_keys(conn, [row.person_id])).get(row.person_id)
        if wrapped is None:
            raise Conflict("this person's data was erased")
        sealed = ring.seal(ring.unwrap(wrapped), row.person_id, body.model_dump(mode="json"))
        await conn.execute(
            store.clearing_records.insert().values(
                id=record_id, clearing_id=clearing_id, sealed=sealed, recorded_by=principal.username, recorded_at=utc_now(), status="submitted"
            )
        )
        await rt.audit(conn, principal, COACH_ROLES, "create", "clearing_record", record_id)
    try:
        await _update(rt, row.person_id, "record_interview", InterviewFacts(record_id=record_id, needs_found=body.needs_found, long_term_coaching=body.long_term_coaching), pending=row)
    except Exception:
        async with rt.db.begin() as conn:
            await conn.execute(store.clearing_records.delete().where(store.clearing_records.c.id == record_id, store.clearing_records.c.status == "submitted"))
        raise
    async with rt.db.read() as conn:
        return clearing_out(await store.clearing(conn, clearing_id))


async def close_by_coach(rt: Runtime, principal: Principal, clearing_id: uuid.UUID, outcome: str) -> ClearingOut:
    row = await _pending_clearing(rt, clearing_id)
    await _update(rt, row.person_id, "close", CloseRequest(outcome=outcome), pending=row)
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, COACH_ROLES, f"close_{outcome}", "clearing", clearing_id)
        return clearing_out(await store.clearing(conn, clearing_id))


async def read_interview(rt: Runtime, principal: Principal, clearing_id: uuid.UUID) -> list[dict[str, Any]]:
    ring = keyring(rt)
    async with rt.db.begin() as conn:
        row = await store.clearing(conn, clearing_id)
        if row is None:
            raise NotFound("no such clearing")
        records = (await conn.execute(sa.select(store.clearing_records).where(store.clearing_records.c.clearing_id == clearing_id))).all()
        wrapped = (await store.wrapped_keys(conn, [row.person_id])).get(row.person_id)
        await rt.audit(conn, principal, COACH_ROLES, "read", "clearing_record", clearing_id)
    out = []
    for r in records:
        content = None
        if r.sealed is not None and wrapped is not None:
            content = ring.open(ring.unwrap(wrapped), row.person_id, r.sealed)
        out.append({"record_id": r.id, "status": r.status, "recorded_by": r.recorded_by, "recorded_at": r.recorded_at, "content": content})
    return out


async def read_clearing(rt: Runtime, principal: Principal, clearing_id: uuid.UUID, allowed_roles: tuple[str, ...]) -> ClearingDetail:
    async with rt.db.begin() as conn:
        row = await store.clearing(conn, clearing_id)
        await rt.audit(conn, principal, allowed_roles, "read", "clearing", clearing_id, "ok" if row else "not_found")
        if row is None:
            raise NotFound("no such clearing")
        person = (await conn.execute(sa.select(store.persons).where(store.persons.c.id == row.person_id))).first()
        wrapped = (await store.wrapped_keys(conn, [row.person_id])).get(row.person_id)
    fields = (open_person(rt, person, wrapped) if person is not None else None) or {}
    return ClearingDetail(
        **clearing_out(row).model_dump(), given_name=fields.get("given_name"), family_name=fields.get("family_name"),
        date_of_birth=fields.get("date_of_birth"), languages=[lang["code"] for lang in fields.get("languages", [])],
    )


# ---- the registration gate -----------------------------------------------------------------------


def _fmt(at: datetime) -> str:
    return at.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


def _de(day: date) -> str:
    return day.strftime("%d.%m.%Y")


async def registration_status(rt: Runtime, principal: Principal, household_id: uuid.UUID, allowed_roles: tuple[str, ...]) -> RegistrationStatus:
    """Per person: may registration of residence proceed now (000 "Projekt ABRA": BG/RO only after the
    clearing, `may_register`), and if not, why and until when (§17 BMG deadline); a registration the
    front desk recorded is shown with its date, and the deadline counts as missed only without a
    registration before it (`registration_missed`)."""
    today = utc_now().astimezone(BERLIN).date()
    async with rt.db.begin() as conn:
        rows = await store.household_persons(conn, household_id)
        await rt.audit(conn, principal, allowed_roles, "read", "registration_status", household_id, "ok" if rows else "not_found")
        if not rows:
            raise NotFound("no such household")
        keys = await store.wrapped_keys(conn, [r.id for r in rows])
        clearings = {
            c.person_id: c for c in (await conn.execute(sa.select(store.clearings).where(store.clearings.c.household_id == household_id))).all()
        }
        registered = await store.registrations_of_household(conn, household_id)
    out = []
    for row in rows:
        fields = open_person(rt, row, keys.get(row.id)) or {}
        c = clearings.get(row.id)
        reg = registered.get(row.id)
        base: dict[str, Any] = dict(person_id=row.id, given_name=fields.get("given_name"), family_name=fields.get("family_name"))
        if c is not None and c.status != "cancelled":
            base.update(appointment_at=c.appointment_at, registration_deadline=c.registration_deadline, clearing_status=c.status)
        elif fields.get("move_in_date") and fields.get("wants_registration", True):
            base["registration_deadline"] = registration_deadline(rt, date.fromisoformat(fields["move_in_date"]))
        deadline: date | None = base.get("registration_deadline")
        missed = deadline is not None and registration_missed(deadline, reg.registered_on if reg else None, today)
        base.update(registered_on=reg.registered_on if reg else None, deadline_missed=bool(missed or (c is not None and c.deadline_missed and reg is None)))
        late = " (nach Ablauf der Anmeldefrist)" if base["deadline_missed"] else ""
        frist = f" Anmeldefrist {_de(deadline)}{' (Frist versäumt)' if base['deadline_missed'] else ''}." if deadline else ""
        allowed = reg is not None or may_register(c.status if c is not None else None)
        if reg is not None:
            out.append(PersonRegistration(**base, allowed=allowed, reason=f"Anmeldung erfolgt am {_de(reg.registered_on)}{late}."))
        elif c is None or c.status == "cancelled":
            out.append(PersonRegistration(**base, allowed=allowed, reason=f"Anmeldung möglich: keine Voranmeldung (ABRA-Clearing) erforderlich.{frist}"))
        elif c.status == "cleared":
            out.append(PersonRegistration(**base, allowed=allowed, reason=f"Anmeldung möglich: ABRA-Clearing abgeschlossen.{frist}"))
        elif c.status == "not_appeared":
            out.append(PersonRegistration(**base, allowed=allowed, reason=f"Keine Anmeldung: ABRA-Clearing geschlossen, Termine nicht wahrgenommen. Bitte neuen Clearing-Termin bei ABRA vereinbaren (Anmeldefrist {_de(c.registration_deadline)})."))
        else:
            appointment = f"Termin {_fmt(c.appointment_at)}" if c.appointment_at else "Termin wird vergeben"
            flag = " (Frist versäumt)" if base["deadline_missed"] else ""
            out.append(PersonRegistration(**base, allowed=allowed, reason=f"Keine Anmeldung: ABRA-Clearing ausstehend, {appointment}, Anmeldefrist {_de(c.registration_deadline)}{flag}."))
    return RegistrationStatus(household_id=household_id, persons=out)


async def record_registration(rt: Runtime, principal: Principal, person_id: uuid.UUID, registered_on: date) -> tuple[RegistrationOut, bool]:
    """The front desk registered the person's residence (Anmeldung, §17 BMG), for every route. Checked by
    `check_registration` (not before moving in; a clearing person only after the completed clearing).
    Publishes PersonRegistered (pseudonymous) once; the same date again answers with the first record
    (created False), another date is 409. Audited. Returns (record, created)."""
    telemetry.mark(person_id=person_id)
    async with rt.outbox.transaction() as tx:
        person = await store.person_row(tx.conn, person_id)
        if person is None:
            await rt.audit(tx.conn, principal, WRITE_ROLES, "register", "person", person_id, "not_found")
            raise NotFound("no such person")
        fields = open_person(rt, person, (await store.wrapped_keys(tx.conn, [person_id])).get(person_id))
        if fields is None:
            raise Conflict("this person's data was erased")
        move_in = date.fromisoformat(fields["move_in_date"]) if fields.get("move_in_date") else None
        c = await store.clearing_of_person(tx.conn, person_id)
        deadline = c.registration_deadline if c is not None else (registration_deadline(rt, move_in) if move_in else None)
        existing = await store.registration_of(tx.conn, person_id)
        if existing is not None:
            if existing.registered_on != registered_on:
                raise Conflict(f"a registration on {existing.registered_on.isoformat()} is recorded already", field="registered_on")
            await rt.audit(tx.conn, principal, WRITE_ROLES, "register", "person", person_id, "already_recorded")
            return _registration_out(existing, deadline), False
        cleared_on = c.closed_at.astimezone(BERLIN).date() if c is not None and c.status == "cleared" and c.closed_at else None
        check_registration(registered_on, move_in, c.status if c is not None else None, cleared_on)
        now = utc_now()
        await store.add_registration(tx.conn, person_id=person_id, household_id=person.household_id, registered_on=registered_on, by=principal.username, at=now)
        await rt.audit(tx.conn, principal, WRITE_ROLES, "register", "person", person_id)
        if c is not None:
            await resolve_alerts(tx.conn, rt.tables, subject_id=c.household_id, by="system", kinds=("registration_deadline_missed",))
        within = deadline is None or not registration_missed(deadline, registered_on, registered_on)
        intake_id = await store.intake_of_household(tx.conn, person.household_id)
        await tx.emit(
            PersonRegistered(
                tenant=rt.platform.tenant, correlation_id=intake_id, person_id=person_id, household_id=person.household_id,
                registered_on=registered_on, within_deadline=within,
                days_after_move_in=(registered_on - move_in).days if move_in else None,
            )
        )
        row = await store.registration_of(tx.conn, person_id)
        assert row is not None
    return _registration_out(row, deadline), True


def _registration_out(row: sa.Row, deadline: date | None) -> RegistrationOut:
    return RegistrationOut(
        person_id=row.person_id, household_id=row.household_id, registered_on=row.registered_on, registration_deadline=deadline,
        within_deadline=deadline is None or not registration_missed(deadline, row.registered_on, row.registered_on),
        recorded_by=row.recorded_by, recorded_at=row.recorded_at,
    )


# ---- activities ----------------------------------------------------------------------------------


async def close_clearing(rt: Runtime, inp: CloseInput) -> None:
    async with rt.outbox.transaction() as tx:
        row = await store.clearing(tx.conn, inp.clearing_id)
        if row is None:
            raise NotFound("no such clearing")
        if row.status != CLEARING_PENDING:
            return
        await tx.conn.execute(store.clearings.update().where(store.clearings.c.id == row.id).values(status=inp.outcome, closed_at=inp.at))
        if row.slot_id is not None and inp.outcome == "cancelled" and row.appointment_at and row.appointment_at > inp.at:
            await tx.conn.execute(store.abra_slots.update().where(store.abra_slots.c.id == row.slot_id).values(booked=store.abra_slots.c.booked - 1))
        await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by="system")
        await tx.emit(
            ClearingClosed(
                tenant=rt.platform.tenant, correlation_id=row.intake_id, clearing_id=row.id, intake_id=row.intake_id,
                household_id=row.household_id, person_id=row.person_id, district=row.district, outcome=inp.outcome,
                long_term_coaching=False, closed_at=inp.at,
            )
        )


def _reminder_key(clearing_id: uuid.UUID, row: sa.Row) -> str:
    first = f"clearing-reminder-day10-{clearing_id}"
    return first if row.dates_correction_no is None else f"{first}-{row.registration_deadline.isoformat()}"


def activities(rt: Runtime) -> list:
    @activity.defn(name=BOOK_APPOINTMENT)
    async def book(inp: BookInput) -> Booking:
        """Books the earliest free slot from `not_before` up to the end of the N-th working day (NRW), never
        one on a weekend or holiday (published before slots were checked), once per (clearing, attempt): a retried activity finds its booking. The slot's capacity is taken by
        a conditional update, so two clearings never share the last place."""
        telemetry.mark(clearing_id=inp.clearing_id)
        t, b = store.abra_slots, store.slot_bookings
        async with rt.outbox.transaction() as tx:
            row = await store.clearing(tx.conn, inp.clearing_id)
            if row is None:
                raise NotFound("no such clearing")
            if row.status != CLEARING_PENDING:
                return Booking(booked=False, clearing_open=False)
            done = (await tx.conn.execute(sa.select(b).where(b.c.clearing_id == inp.clearing_id, b.c.attempt == inp.attempt))).first()
            if done is not None:
                return Booking(booked=True, slot_id=done.slot_id, appointment_at=done.appointment_at)
            last_day = add_working_days(inp.not_before.astimezone(BERLIN).date(), inp.working_days)
            until = end_of_working_day(last_day)
            closed = closed_days_between(inp.not_before.astimezone(BERLIN).date(), last_day)
            candidates = await store.free_slots(tx.conn, inp.not_before, until, closed)
            for slot in candidates:
                taken = await tx.conn.execute(t.update().where(t.c.id == slot.id, t.c.booked < t.c.capacity).values(booked=t.c.booked + 1))
                if taken.rowcount != 1:
                    continue
                now = utc_now()
                await tx.conn.execute(b.insert().values(clearing_id=inp.clearing_id, attempt=inp.attempt, slot_id=slot.id, appointment_at=slot.starts_at, booked_at=now))
                await tx.conn.execute(
                    store.clearings.update().where(store.clearings.c.id == inp.clearing_id).values(slot_id=slot.id, appointment_at=slot.starts_at, attempt=inp.attempt)
                )
                await resolve_alerts(tx.conn, rt.tables, subject_id=inp.clearing_id, by="system", kinds=("clearing_no_slot",))
                await tx.emit(
                    ClearingAppointmentBooked(
                        tenant=rt.platform.tenant, correlation_id=row.intake_id, clearing_id=inp.clearing_id, person_id=row.person_id,
                        slot_id=slot.id, appointment_at=slot.starts_at, attempt=inp.attempt,
                    )
                )
                return Booking(booked=True, slot_id=slot.id, appointment_at=slot.starts_at)
        return Booking(booked=False)

    @activity.defn(name=RAISE_NO_SLOT_ALERT)
    async def no_slot(step: ClearingStep) -> None:
        """No free ABRA slot within the booking window: the ABRA team lead is alerted (once per attempt)."""
        async with rt.db.begin() as conn:
            await raise_alert(
                conn, rt.tables, key=f"clearing-no-slot-{step.clearing_id}-{step.attempt}", kind="clearing_no_slot", role="abra_lead",
                subject_type="clearing", subject_id=step.clearing_id,
                message=f"Kein freier ABRA-Termin für Clearing {step.clearing_id} (Versuch {step.attempt}); bitte Termine freigeben.",
            )

    @activity.defn(name=SEND_REMINDER)
    async def reminder(step: ClearingStep) -> None:
        """Day 10 after moving in and not cleared: reminder to the ABRA team (once per clearing and
        deadline: a corrected move-in date reminds again, naming the new deadline)."""
        async with rt.db.begin() as conn:
            row = await store.clearing(conn, step.clearing_id)
            if row is None or row.status != CLEARING_PENDING:
                return
            await raise_alert(
                conn, rt.tables, key=_reminder_key(step.clearing_id, row), kind="clearing_reminder", role="abra_coach",
                subject_type="clearing", subject_id=step.clearing_id, due_at=end_of_working_day(row.registration_deadline),
                message=f"Clearing {step.clearing_id} noch offen; Anmeldefrist {row.registration_deadline:%d.%m.%Y}.",
            )

    @activity.defn(name=MARK_DEADLINE_MISSED)
    async def deadline_missed(step: ClearingStep) -> None:
        """Day 14: the registration deadline is marked missed (§17 BMG), the front desk is told; the
        clearing goes on. Announced once. A mark for a deadline a correction has moved since is stale (the
        workflow gets the new date and marks that); a person registered before the deadline is never marked."""
        async with rt.outbox.transaction() as tx:
            row = await store.clearing(tx.conn, step.clearing_id)
            if row is None or row.status != CLEARING_PENDING or row.deadline_missed:
                return
            if step.on is not None and step.on != row.registration_deadline:
                return
            registered = await store.registration_of(tx.conn, row.person_id)
            if not registration_missed(row.registration_deadline, registered.registered_on if registered else None, row.registration_deadline):
                return
            await tx.conn.execute(store.clearings.update().where(store.clearings.c.id == row.id).values(deadline_missed=True))
            await raise_alert(
                tx.conn, rt.tables, key=f"registration-deadline-missed-{row.id}", kind="registration_deadline_missed", role="front_desk",
                subject_type="household", subject_id=row.household_id,
                message=f"Anmeldefrist {row.registration_deadline:%d.%m.%Y} versäumt (ABRA-Clearing {row.id} noch offen).",
            )
            await tx.emit(
                RegistrationDeadlineMissed(
                    tenant=rt.platform.tenant, correlation_id=row.intake_id, clearing_id=row.id, person_id=row.person_id, deadline=row.registration_deadline
                )
            )

    @activity.defn(name=RECORD_NO_SHOW)
    async def no_show(step: ClearingStep) -> None:
        async with rt.outbox.transaction() as tx:
            row = await store.clearing(tx.conn, step.clearing_id)
            if row is None:
                raise NotFound("no such clearing")
            if row.no_shows >= step.attempt:
                return
            await tx.conn.execute(store.clearings.update().where(store.clearings.c.id == row.id).values(no_shows=step.attempt, appointment_at=None, slot_id=None))
            await tx.emit(ClearingNoShow(tenant=rt.platform.tenant, correlation_id=row.intake_id, clearing_id=row.id, person_id=row.person_id, attempt=step.attempt))

    @activity.defn(name=COMPLETE_CLEARING)
    async def complete(inp: CompleteInput) -> None:
        """The interview was held: ClearingCompleted and ClearingClosed (outcome cleared) once."""
        async with rt.outbox.transaction() as tx:
            row = await store.clearing(tx.conn, inp.clearing_id)
            if row is None:
                raise NotFound("no such clearing")
            if row.status != CLEARING_PENDING:
                return
            facts = inp.facts
            await tx.conn.execute(
                store.clearings.update().where(store.clearings.c.id == row.id).values(
                    status="cleared", closed_at=inp.at, long_term_coaching=facts.long_term_coaching, needs_found=",".join(facts.needs_found)
                )
            )
            await tx.conn.execute(store.clearing_records.update().where(store.clearing_records.c.id == facts.record_id).values(status="accepted"))
            await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by="system")
            await resolve_alerts(tx.conn, rt.tables, subject_id=row.household_id, by="system", kinds=("registration_deadline_missed",))
            base = dict(tenant=rt.platform.tenant, correlation_id=row.intake_id, clearing_id=row.id, intake_id=row.intake_id, household_id=row.household_id, person_id=row.person_id, district=row.district)
            await tx.emit(
                ClearingCompleted(
                    **base, completed_at=inp.at, days_after_move_in=(inp.at.astimezone(BERLIN).date() - row.move_in_date).days,
                    needs_found=facts.needs_found, long_term_coaching=facts.long_term_coaching,
                )
            )
            await tx.emit(ClearingClosed(**base, outcome="cleared", long_term_coaching=facts.long_term_coaching, closed_at=inp.at))

    @activity.defn(name=CLOSE_CLEARING)
    async def close(inp: CloseInput) -> None:
        await close_clearing(rt, inp)

    return [book, no_slot, reminder, deadline_missed, no_show, complete, close]
