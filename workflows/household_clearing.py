"""ABRA pre-registration clearing, one workflow per household (v3; 000 "Projekt ABRA"; DOMAIN.md flow 2).

Id `clearing-intake-<intake id>` for the clearings an intake starts (`-correction-<n>` for those a
correction starts). Every person keeps their own clearing, as in `workflows/clearing.py` (v1/v2, one
workflow per person, which runs on for clearings started before): the earliest free slot within N working
days (no free slot: the ABRA team lead is alerted and booking is retried on a timer), the reminder on day
10 after moving in, the registration deadline marked missed on day 14 (§17 BMG), and the coach's decisions
as updates with validators (attendance with rebooking, the interview, close), each addressed to one person
by clearing id. What the household shares is the workflow: one start, one history and one timer for all,
and one booking transaction for everyone waiting for a slot. The workflow ends when every person's
clearing has an outcome. Inputs and histories carry ids, dates and coarse facts only.
"""

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.contracts.intake_activities import (
        book_appointments,
        close_clearing,
        complete_clearing,
        mark_deadline_missed,
        raise_no_slot_alert,
        record_no_show,
        send_reminder,
    )
    from services.contracts.intake_workflows import (
        HOUSEHOLD_CLEARING_WORKFLOW,
        NEEDS_FOUND,
        BookAll,
        BookInput,
        ClearingMember,
        ClearingState,
        ClearingStep,
        CloseInput,
        CompleteInput,
        HouseholdClearingInput,
        MemberAttendance,
        MemberClose,
        MemberInterview,
        MemberMoveIn,
    )
    from services.contracts.refusals import NON_RETRYABLE
    from services.contracts.workdays import BERLIN

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
    non_retryable_error_types=NON_RETRYABLE,
)
TIMEOUT = timedelta(seconds=30)
A = TypeVar("A")
R = TypeVar("R")


class Member:
    """One person's clearing: its state and the dates of its reminder and deadline."""

    def __init__(self, inp: HouseholdClearingInput, m: ClearingMember) -> None:
        self.id, self.inp = m.clearing_id, inp
        self.status = "booking"  # booking, booked, busy (a coach action runs); the outcome ends it
        self.attempt = 1
        self.appointment: datetime | None = None
        self.retry_at: datetime | None = None
        self.reminded = self.missed = False
        self.outcome: str | None = None
        self.correction_no = m.correction_no
        self.move_in = m.move_in_date
        self.reminder_at, self.deadline_at = self.dates(m.move_in_date)

    def dates(self, move_in_date: date) -> tuple[datetime, datetime]:
        """(reminder, deadline): day `reminder_days` and day `deadline_days` after moving in, at 00:00 Berlin."""
        move_in = datetime.combine(move_in_date, time(0), tzinfo=BERLIN)
        return move_in + timedelta(days=self.inp.reminder_days), move_in + timedelta(days=self.inp.deadline_days)

    def wants_booking(self, now: datetime) -> bool:
        return self.outcome is None and self.status == "booking" and (self.retry_at is None or now >= self.retry_at)

    def wake_times(self) -> list[datetime]:
        """When this clearing needs the workflow next, without a decision: reminder, deadline, booking retry."""
        if self.outcome is not None:
            return []
        timers = ((self.reminder_at, not self.reminded), (self.deadline_at, not self.missed), (self.retry_at, self.status == "booking"))
        return [t for t, pending in timers if pending and t is not None]

    def refuse_unless_open(self) -> None:
        if self.outcome is not None:
            raise ValueError(f"the clearing is closed ({self.outcome})")
        if self.status == "busy":
            raise ValueError("another decision on this clearing is being recorded")

    def state(self) -> ClearingState:
        return ClearingState(
            status=self.outcome or self.status, attempt=self.attempt, appointment_at=self.appointment,
            reminded=self.reminded, deadline_missed=self.missed, move_in_date=self.move_in, correction_no=self.correction_no,
        )


@workflow.defn(name=HOUSEHOLD_CLEARING_WORKFLOW)
class HouseholdClearing:
    @workflow.init
    def __init__(self, inp: HouseholdClearingInput) -> None:
        # set before any update runs: a coach's record can arrive with the workflow's first task
        self._inp = inp
        self._members = {m.clearing_id: Member(inp, m) for m in inp.members}
        self._changed = False

    def _open(self) -> list[Member]:
        return [m for m in self._members.values() if m.outcome is None]

    async def _act(self, activity: Callable[[A], Awaitable[R]], arg: A) -> R:
        """An activity by its contracts stub (the name and the result type come from it)."""
        return await workflow.execute_activity(activity, arg, start_to_close_timeout=TIMEOUT, retry_policy=RETRY)

    @workflow.run
    async def run(self, inp: HouseholdClearingInput) -> dict[str, str]:
        """Every person's outcome by clearing id, once all are closed."""
        while self._open():
            try:
                await self._step(inp)
            except (ActivityError, ApplicationError):
                # an activity gave up after its retries (e.g. a long database outage): nothing is lost, the
                # step is tried again after the retry interval (a local activity's failure arrives as the
                # ApplicationError itself)
                self._changed = False
                try:
                    await workflow.wait_condition(lambda: not self._open(), timeout=timedelta(minutes=inp.slot_retry_minutes))
                except TimeoutError:
                    pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        return {str(k): m.outcome or "closed" for k, m in self._members.items()}

    async def _step(self, inp: HouseholdClearingInput) -> None:
        """One turn: book whoever waits for a slot, remind, mark a deadline, or wait for the next of these,
        a decision or a corrected move-in date."""
        now = workflow.now()
        waiting = [m for m in self._open() if m.wants_booking(now)]
        if waiting:
            await self._book(inp, waiting, now)
            return
        for m in self._open():
            if not m.reminded and now >= m.reminder_at:
                await self._act(send_reminder, ClearingStep(clearing_id=m.id, on=m.reminder_at.date()))
                m.reminded = True
                return
            if not m.missed and now >= m.deadline_at:
                await self._act(mark_deadline_missed, ClearingStep(clearing_id=m.id, on=m.deadline_at.date()))
                m.missed = True
                return
        wake = [t for m in self._open() for t in m.wake_times()]
        self._changed = False
        try:
            await workflow.wait_condition(lambda: self._changed or not self._open(), timeout=(min(wake) - now) if wake else None)
        except TimeoutError:
            pass

    async def _book(self, inp: HouseholdClearingInput, waiting: list[Member], now: datetime) -> None:
        """One local activity (in the workflow task that asks for it: no activity task through the server)
        books everyone waiting; a person without a slot alerts the team lead and waits for the retry."""
        books = [BookInput(clearing_id=m.id, attempt=m.attempt, not_before=now, working_days=inp.booking_working_days) for m in waiting]
        result = await workflow.execute_local_activity(book_appointments, BookAll(items=books), start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
        for m, booking in zip(waiting, result.items, strict=True):
            if not booking.clearing_open:
                m.outcome = m.outcome or "closed"
            elif booking.booked and m.status == "booking":
                m.status, m.appointment, m.retry_at = "booked", booking.appointment_at, None
            elif not booking.booked:
                await self._act(raise_no_slot_alert, ClearingStep(clearing_id=m.id, attempt=m.attempt))
                m.retry_at = workflow.now() + timedelta(minutes=inp.slot_retry_minutes)

    def _member(self, clearing_id: UUID) -> Member:
        m = self._members.get(clearing_id)
        if m is None:
            raise ValueError("this clearing is not one of this workflow's")
        return m

    def _with_appointment(self, clearing_id: UUID) -> Member:
        m = self._member(clearing_id)
        m.refuse_unless_open()
        if m.status != "booked":
            raise ValueError("no appointment is booked yet")
        return m

    # ---- a corrected move-in date (intake's consumer of IntakeCorrected) ---------------------------

    @workflow.update
    async def correct_move_in(self, d: MemberMoveIn) -> ClearingState:
        """The front desk corrected a person's move-in date: the reminder and the deadline follow. Once
        per correction number; a reminder or mark made for the old date is made again for the new one."""
        m = self._members[d.clearing_id]
        if d.correction.correction_no > m.correction_no:
            m.correction_no = d.correction.correction_no
            if d.correction.move_in_date != m.move_in:
                m.move_in = d.correction.move_in_date
                m.reminder_at, m.deadline_at = m.dates(m.move_in)
                m.reminded = m.missed = False
                self._changed = True
        return m.state()

    @correct_move_in.validator
    def _validate_move_in(self, d: MemberMoveIn) -> None:
        m = self._member(d.clearing_id)
        if m.outcome is not None:
            raise ValueError(f"the clearing is closed ({m.outcome})")

    # ---- coach decisions (updates with validators) ----------------------------------------------

    @workflow.update
    async def record_attendance(self, d: MemberAttendance) -> ClearingState:
        """A no-show is recorded and rebooked; after `max_rebookings` rebookings the clearing closes as
        not appeared (DOMAIN.md flow 2 default)."""
        m = self._members[d.clearing_id]
        if d.attendance.attended:
            return m.state()
        m.status = "busy"
        attempt = m.attempt
        await self._act(record_no_show, ClearingStep(clearing_id=m.id, attempt=attempt))
        if attempt > self._inp.max_rebookings:
            await self._act(close_clearing, CloseInput(clearing_id=m.id, outcome="not_appeared", at=workflow.now()))
            m.outcome = "not_appeared"
        else:
            m.attempt, m.status, m.appointment = attempt + 1, "booking", None
        self._changed = True
        return m.state()

    @record_attendance.validator
    def _validate_attendance(self, d: MemberAttendance) -> None:
        self._with_appointment(d.clearing_id)

    @workflow.update
    async def record_interview(self, d: MemberInterview) -> ClearingState:
        """The clearing interview was held: this person's clearing completes, registration may proceed."""
        m = self._members[d.clearing_id]
        m.status = "busy"
        await self._act(complete_clearing, CompleteInput(clearing_id=m.id, facts=d.facts, at=workflow.now()))
        m.outcome = "cleared"
        self._changed = True
        return m.state()

    @record_interview.validator
    def _validate_interview(self, d: MemberInterview) -> None:
        self._with_appointment(d.clearing_id)
        unknown = set(d.facts.needs_found) - set(NEEDS_FOUND)
        if unknown:
            raise ValueError(f"needs_found: unknown values {sorted(unknown)}")

    @workflow.update
    async def close(self, d: MemberClose) -> ClearingState:
        m = self._members[d.clearing_id]
        m.status = "busy"
        await self._act(close_clearing, CloseInput(clearing_id=m.id, outcome=d.request.outcome, at=workflow.now()))
        m.outcome = d.request.outcome
        self._changed = True
        return m.state()

    @close.validator
    def _validate_close(self, d: MemberClose) -> None:
        self._member(d.clearing_id).refuse_unless_open()
        if d.request.outcome not in ("not_appeared", "cancelled"):
            raise ValueError("outcome must be not_appeared or cancelled (a clearing is cleared by its interview)")

    @workflow.query
    def state(self, clearing_id: UUID) -> ClearingState:
        return self._member(clearing_id).state()
