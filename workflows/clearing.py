"""ABRA pre-registration clearing (Kommunales Voranmeldeverfahren; 000 "Projekt ABRA"; DOMAIN.md flow 2).

One workflow per person routed to ABRA, id `clearing-<person id>`: clearings started before v3. Since v3 a
household's clearings share one workflow (`workflows/household_clearing.py`), with the same steps per
person; this one runs on for the clearings started before, and their histories replay. It books the earliest free slot in the
ABRA calendar within N working days (no free slot: the ABRA team lead is alerted and booking is retried on
a timer), reminds the ABRA team on day 10 after moving in if not cleared, marks the registration deadline
missed on day 14 (§17 BMG; the clearing goes on), and waits for the coach's decisions, which are updates
with validators: attendance (a no-show is rebooked up to `max_rebookings` times, then the clearing closes
as not appeared), the clearing interview (completes it) and close (not appeared / cancelled). All
durations come from the input (intake's settings). A corrected move-in date (intake correction, update
`correct_move_in`, once per correction number) moves the reminder and the deadline: a date already passed
fires at once, a reminder or mark made for the old date is made again for the new one. Inputs and histories
carry ids, dates and coarse facts only.
"""

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.contracts.intake_activities import (
        book_appointment,
        close_clearing,
        complete_clearing,
        mark_deadline_missed,
        raise_no_slot_alert,
        record_no_show,
        send_reminder,
    )
    from services.contracts.intake_workflows import (
        CLEARING_WORKFLOW,
        MOVE_IN_CORRECTION_PATCH,
        NEEDS_FOUND,
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
#: patch: the booking runs as a local activity in the workflow task that starts the clearing (no activity
#: task through the server, no second workflow task: about half the Temporal work of a new clearing);
#: histories from before keep their (remote) booking activity when they replay
LOCAL_BOOKING = "clearing-local-booking"
A = TypeVar("A")
R = TypeVar("R")


@workflow.defn(name=CLEARING_WORKFLOW)
class PreRegistrationClearing:
    @workflow.init
    def __init__(self, inp: ClearingInput) -> None:
        # set before any update runs: a coach's record can arrive with the workflow's first task (it is
        # started on demand when a coach acts before intake's consumer started it)
        self._inp: ClearingInput | None = inp
        self._status = "booking"  # booking, booked, busy (a coach action runs), then the outcome
        self._attempt = 1
        self._appointment: datetime | None = None
        self._reminded = False
        self._missed = False
        self._outcome: str | None = None
        self._changed = False
        self._move_in = inp.move_in_date
        self._correction_no = inp.correction_no
        self._reminder_at, self._deadline_at = self._dates(inp, inp.move_in_date)

    @staticmethod
    def _dates(inp: ClearingInput, move_in_date: date) -> tuple[datetime, datetime]:
        """(reminder, deadline): day `reminder_days` and day `deadline_days` after moving in, at 00:00 Berlin."""
        move_in = datetime.combine(move_in_date, time(0), tzinfo=BERLIN)
        return move_in + timedelta(days=inp.reminder_days), move_in + timedelta(days=inp.deadline_days)

    async def _act(self, activity: Callable[[A], Awaitable[R]], arg: A) -> R:
        """An activity by its contracts stub (the name and the result type come from it)."""
        return await workflow.execute_activity(activity, arg, start_to_close_timeout=TIMEOUT, retry_policy=RETRY)

    @workflow.run
    async def run(self, inp: ClearingInput) -> str:
        self._inp = inp
        retry_at: datetime | None = None
        while self._outcome is None:
            try:
                retry_at = await self._step(inp, retry_at)
            except (ActivityError, ApplicationError):
                # an activity gave up after its retries (e.g. a long database outage): the clearing is not
                # lost, the step is tried again after the retry interval (a local activity's failure arrives
                # as the ApplicationError itself, not wrapped in an ActivityError)
                self._changed = False
                try:
                    await workflow.wait_condition(lambda: self._outcome is not None, timeout=timedelta(minutes=inp.slot_retry_minutes))
                except TimeoutError:
                    pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._outcome or "closed"

    async def _step(self, inp: ClearingInput, retry_at: datetime | None) -> datetime | None:
        """One turn of the loop: book, remind, mark the deadline, or wait for the next of these, a decision
        or a corrected move-in date."""
        now = workflow.now()
        reminder_at, deadline_at = self._reminder_at, self._deadline_at
        if self._status == "booking" and (retry_at is None or now >= retry_at):
            book = BookInput(clearing_id=inp.clearing_id, attempt=self._attempt, not_before=now, working_days=inp.booking_working_days)
            booking: Booking
            if workflow.patched(LOCAL_BOOKING):
                booking = await workflow.execute_local_activity(book_appointment, book, start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
            else:
                booking = await self._act(book_appointment, book)
            if not booking.clearing_open:
                self._outcome = self._outcome or "closed"
                return None
            if booking.booked and self._status == "booking":
                self._status, self._appointment, retry_at = "booked", booking.appointment_at, None
            elif not booking.booked:
                await self._act(raise_no_slot_alert, ClearingStep(clearing_id=inp.clearing_id, attempt=self._attempt))
                retry_at = workflow.now() + timedelta(minutes=inp.slot_retry_minutes)
            return retry_at
        if not self._reminded and now >= reminder_at:
            await self._act(send_reminder, ClearingStep(clearing_id=inp.clearing_id, on=reminder_at.date()))
            self._reminded = True
            return retry_at
        if not self._missed and now >= deadline_at:
            await self._act(mark_deadline_missed, ClearingStep(clearing_id=inp.clearing_id, on=deadline_at.date()))
            self._missed = True
            return retry_at
        timers = ((reminder_at, not self._reminded), (deadline_at, not self._missed), (retry_at, self._status == "booking"))
        wake = [t for t, pending in timers if pending and t]
        self._changed = False
        try:
            await workflow.wait_condition(
                lambda: self._changed or self._outcome is not None,
                timeout=(min(wake) - now) if wake else None,  # type: ignore[type-var]
            )
        except TimeoutError:
            pass
        return retry_at

    # ---- a corrected move-in date (intake's consumer of IntakeCorrected) ---------------------------

    @workflow.update
    async def correct_move_in(self, correction: MoveInCorrection) -> ClearingState:
        """The front desk corrected the move-in date: the day-10 reminder and the day-14 deadline (§17 BMG)
        follow the new date. Once per correction number: a redelivered or older correction changes nothing.
        A reminder or missed mark already made is made again for the new dates (at once if they passed)."""
        assert self._inp is not None
        if workflow.patched(MOVE_IN_CORRECTION_PATCH) and correction.correction_no > self._correction_no:
            self._correction_no = correction.correction_no
            if correction.move_in_date != self._move_in:
                self._move_in = correction.move_in_date
                self._reminder_at, self._deadline_at = self._dates(self._inp, correction.move_in_date)
                self._reminded = self._missed = False
                self._changed = True
        return self.state()

    @correct_move_in.validator
    def _validate_move_in(self, correction: MoveInCorrection) -> None:
        if self._outcome is not None:
            raise ValueError(f"the clearing is closed ({self._outcome})")

    # ---- coach decisions (updates with validators) ----------------------------------------------

    def _open_with_appointment(self) -> None:
        if self._outcome is not None:
            raise ValueError(f"the clearing is closed ({self._outcome})")
        if self._status == "busy":
            raise ValueError("another decision on this clearing is being recorded")
        if self._status != "booked":
            raise ValueError("no appointment is booked yet")

    @workflow.update
    async def record_attendance(self, attendance: Attendance) -> ClearingState:
        """A no-show is recorded and rebooked; after `max_rebookings` rebookings the clearing closes as
        not appeared (DOMAIN.md flow 2 default)."""
        assert self._inp is not None
        if attendance.attended:
            return self.state()
        self._status = "busy"
        attempt = self._attempt
        await self._act(record_no_show, ClearingStep(clearing_id=self._inp.clearing_id, attempt=attempt))
        if attempt > self._inp.max_rebookings:
            await self._act(close_clearing, CloseInput(clearing_id=self._inp.clearing_id, outcome="not_appeared", at=workflow.now()))
            self._outcome = "not_appeared"
        else:
            self._attempt, self._status, self._appointment = attempt + 1, "booking", None
        self._changed = True
        return self.state()

    @record_attendance.validator
    def _validate_attendance(self, attendance: Attendance) -> None:
        self._open_with_appointment()

    @workflow.update
    async def record_interview(self, facts: InterviewFacts) -> ClearingState:
        """The clearing interview was held: the clearing completes and registration may proceed."""
        assert self._inp is not None
        self._status = "busy"
        await self._act(complete_clearing, CompleteInput(clearing_id=self._inp.clearing_id, facts=facts, at=workflow.now()))
        self._outcome = "cleared"
        self._changed = True
        return self.state()

    @record_interview.validator
    def _validate_interview(self, facts: InterviewFacts) -> None:
        self._open_with_appointment()
        unknown = set(facts.needs_found) - set(NEEDS_FOUND)
        if unknown:
            raise ValueError(f"needs_found: unknown values {sorted(unknown)}")

    @workflow.update
    async def close(self, request: CloseRequest) -> ClearingState:
        assert self._inp is not None
        self._status = "busy"
        await self._act(close_clearing, CloseInput(clearing_id=self._inp.clearing_id, outcome=request.outcome, at=workflow.now()))
        self._outcome = request.outcome
        self._changed = True
        return self.state()

    @close.validator
    def _validate_close(self, request: CloseRequest) -> None:
        if self._outcome is not None:
            raise ValueError(f"the clearing is closed ({self._outcome})")
        if self._status == "busy":
            raise ValueError("another decision on this clearing is being recorded")
        if request.outcome not in ("not_appeared", "cancelled"):
            raise ValueError("outcome must be not_appeared or cancelled (a clearing is cleared by its interview)")

    @workflow.query
    def state(self) -> ClearingState:
        return ClearingState(
            status=self._outcome or self._status, attempt=self._attempt, appointment_at=self._appointment,
            reminded=self._reminded, deadline_missed=self._missed, move_in_date=self._move_in, correction_no=self._correction_no,
        )
