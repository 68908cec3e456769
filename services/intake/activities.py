"""Intake's Temporal activities: the effects of the clearing workflow (workflows/clearing.py) and of the
reminders workflow (workflows/clearing_reminders.py) on intake's database and outbox. Each is idempotent:
a retried activity books, reminds and announces once. Names are the contracts' (committed histories
replay against them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from services.contracts.events import ClearingAppointmentBooked, ClearingClosed, ClearingCompleted, ClearingNoShow, RegistrationDeadlineMissed
from services.contracts.intake_reminders import SEND_DUE_CLEARING_REMINDERS, RemindersInput, RemindersResult
from services.contracts.intake_workflows import (
    BOOK_APPOINTMENT,
    BOOK_APPOINTMENTS,
    CLOSE_CLEARING,
    COMPLETE_CLEARING,
    MARK_DEADLINE_MISSED,
    RAISE_NO_SLOT_ALERT,
    RECORD_NO_SHOW,
    SEND_REMINDER,
    BookAll,
    Booking,
    Bookings,
    BookInput,
    ClearingStep,
    CloseInput,
    CompleteInput,
)
from services.contracts.workdays import BERLIN, end_of_working_day
from services.intake import store_clearing
from services.intake.domain import CLEARING_PENDING, booking_window, registration_missed, reminder_alert_key
from services.intake.handlers_clearing import close_clearing
from services.intake.handlers_communication import send_due_reminders
from services.intake.runtime import IntakeRuntime
from services.kit import telemetry
from services.kit.alerts import raise_alert, resolve_alerts
from services.kit.db import utc_now
from services.kit.errors import NotFound
from services.kit.outbox import Tx


class IntakeActivities:
    """The activities, bound to the service's runtime; `all()` is what the worker registers."""

    def __init__(self, rt: IntakeRuntime) -> None:
        self.rt = rt

    def all(self) -> list[Callable[..., Any]]:
        return [self.book, self.book_all, self.no_slot, self.reminder, self.deadline_missed, self.no_show, self.complete, self.close, self.send_due_reminders]

    @activity.defn(name=BOOK_APPOINTMENT)
    async def book(self, inp: BookInput) -> Booking:
        """Books the earliest free slot from `not_before` up to the end of the N-th working day (NRW), never
        one on a weekend or holiday (published before slots were checked), once per (clearing, attempt): a
        retried activity finds its booking. The slot's capacity is taken by a conditional update, so two
        clearings never share the last place."""
        telemetry.mark(clearing_id=inp.clearing_id)
        async with self.rt.outbox.transaction() as tx:
            return await self._book(tx, inp)

    @activity.defn(name=BOOK_APPOINTMENTS)
    async def book_all(self, inp: BookAll) -> Bookings:
        """`book` for each person of a household waiting for a slot, in order, in one transaction (v3)."""
        telemetry.mark(clearings=len(inp.items))
        async with self.rt.outbox.transaction() as tx:
            # a clearing gone meanwhile (a cancelled one reopened by a correction) is closed for this
            # workflow, so it cannot hold up the others' bookings
            return Bookings(items=[await self._book(tx, item, missing_is_closed=True) for item in inp.items])

    async def _book(self, tx: Tx, inp: BookInput, *, missing_is_closed: bool = False) -> Booking:
        rt = self.rt
        row = await store_clearing.clearing(tx.conn, inp.clearing_id)
        if row is None and not missing_is_closed:
            raise NotFound("no such clearing")
        if row is None or row.status != CLEARING_PENDING:
            return Booking(booked=False, clearing_open=False)
        done = await store_clearing.booking_of(tx.conn, inp.clearing_id, inp.attempt)
        if done is not None:
            return Booking(booked=True, slot_id=done.slot_id, appointment_at=done.appointment_at)
        until, closed = booking_window(inp.not_before, inp.working_days)
        for slot in await store_clearing.free_slots(tx.conn, inp.not_before, until, closed):
            if not await store_clearing.take_place(tx.conn, slot.id):
                continue
            await store_clearing.record_booking(tx.conn, inp.clearing_id, inp.attempt, slot.id, slot.starts_at, utc_now())
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
    async def no_slot(self, step: ClearingStep) -> None:
        """No free ABRA slot within the booking window: the ABRA team lead is alerted (once per attempt)."""
        async with self.rt.db.begin() as conn:
            await raise_alert(
                conn, self.rt.tables, key=f"clearing-no-slot-{step.clearing_id}-{step.attempt}", kind="clearing_no_slot", role="abra_lead",
                subject_type="clearing", subject_id=step.clearing_id,
                message=f"Kein freier ABRA-Termin für Clearing {step.clearing_id} (Versuch {step.attempt}); bitte Termine freigeben.",
            )

    @activity.defn(name=SEND_REMINDER)
    async def reminder(self, step: ClearingStep) -> None:
        """Day 10 after moving in and not cleared: reminder to the ABRA team (once per clearing and
        deadline: a corrected move-in date reminds again, naming the new deadline)."""
        async with self.rt.db.begin() as conn:
            row = await store_clearing.clearing(conn, step.clearing_id)
            if row is None or row.status != CLEARING_PENDING:
                return
            await raise_alert(
                conn, self.rt.tables, key=reminder_alert_key(step.clearing_id, row.dates_correction_no, row.registration_deadline),
                kind="clearing_reminder", role="abra_coach",
                subject_type="clearing", subject_id=step.clearing_id, due_at=end_of_working_day(row.registration_deadline),
                message=f"Clearing {step.clearing_id} noch offen; Anmeldefrist {row.registration_deadline:%d.%m.%Y}.",
            )

    @activity.defn(name=MARK_DEADLINE_MISSED)
    async def deadline_missed(self, step: ClearingStep) -> None:
        """Day 14: the registration deadline is marked missed (§17 BMG), the front desk is told; the
        clearing goes on. Announced once. A mark for a deadline a correction has moved since is stale (the
        workflow gets the new date and marks that); a person registered before the deadline is never marked."""
        rt = self.rt
        async with rt.outbox.transaction() as tx:
            row = await store_clearing.clearing(tx.conn, step.clearing_id)
            if row is None or row.status != CLEARING_PENDING or row.deadline_missed:
                return
            if step.on is not None and step.on != row.registration_deadline:
                return
            registered = await store_clearing.registration_of(tx.conn, row.person_id)
            if not registration_missed(row.registration_deadline, registered.registered_on if registered else None, row.registration_deadline):
                return
            await store_clearing.mark_deadline_missed(tx.conn, row.id)
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
    async def no_show(self, step: ClearingStep) -> None:
        """The person did not come (once per attempt: ClearingNoShow); the workflow rebooks or closes."""
        rt = self.rt
        async with rt.outbox.transaction() as tx:
            row = await store_clearing.clearing(tx.conn, step.clearing_id)
            if row is None:
                raise NotFound("no such clearing")
            if row.no_shows >= step.attempt:
                return
            await store_clearing.record_no_show(tx.conn, row.id, step.attempt)
            await tx.emit(
                ClearingNoShow(tenant=rt.platform.tenant, correlation_id=row.intake_id, clearing_id=row.id, person_id=row.person_id, attempt=step.attempt)
            )

    @activity.defn(name=COMPLETE_CLEARING)
    async def complete(self, inp: CompleteInput) -> None:
        """The interview was held: ClearingCompleted and ClearingClosed (outcome cleared) once."""
        rt = self.rt
        async with rt.outbox.transaction() as tx:
            row = await store_clearing.clearing(tx.conn, inp.clearing_id)
            if row is None:
                raise NotFound("no such clearing")
            if row.status != CLEARING_PENDING:
                return
            facts = inp.facts
            await store_clearing.complete_clearing(
                tx.conn, row.id, facts.record_id, inp.at, long_term_coaching=facts.long_term_coaching, needs_found=facts.needs_found
            )
            await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by="system")
            await resolve_alerts(tx.conn, rt.tables, subject_id=row.household_id, by="system", kinds=("registration_deadline_missed",))
            base = dict(
                tenant=rt.platform.tenant, correlation_id=row.intake_id, clearing_id=row.id, intake_id=row.intake_id,
                household_id=row.household_id, person_id=row.person_id, district=row.district,
            )
            await tx.emit(
                ClearingCompleted(
                    **base, completed_at=inp.at, days_after_move_in=(inp.at.astimezone(BERLIN).date() - row.move_in_date).days,
                    needs_found=facts.needs_found, long_term_coaching=facts.long_term_coaching,
                )
            )
            await tx.emit(ClearingClosed(**base, outcome="cleared", long_term_coaching=facts.long_term_coaching, closed_at=inp.at))

    @activity.defn(name=CLOSE_CLEARING)
    async def close(self, inp: CloseInput) -> None:
        await close_clearing(self.rt, inp)

    @activity.defn(name=SEND_DUE_CLEARING_REMINDERS)
    async def send_due_reminders(self, inp: RemindersInput) -> RemindersResult:
        """Every appointment reminder e-mail due now (issue 14); counts only in the result and the span."""
        result = await send_due_reminders(self.rt, utc_now())
        telemetry.mark(reminders_sent=result.sent, reminders_failed=result.failed)
        return result
