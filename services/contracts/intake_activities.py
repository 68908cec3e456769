"""Intake's activity interfaces: each declared once here, called by the workflows in `workflows/`
(clearing, clearing_reminders) by reference and implemented by intake's `IntakeActivities`
(services/intake/activities.py) under the same names."""

from __future__ import annotations

from temporalio import activity

from services.contracts.intake_reminders import (
    SEND_DUE_CLEARING_REMINDERS,
    RemindersInput,
    RemindersResult,
)
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


@activity.defn(name=BOOK_APPOINTMENT)
async def book_appointment(inp: BookInput) -> Booking:
    """The earliest free slot within the booking window, once per (clearing, attempt)."""
    raise NotImplementedError


@activity.defn(name=BOOK_APPOINTMENTS)
async def book_appointments(inp: BookAll) -> Bookings:
    """`book_appointment` for each of a household's persons waiting for a slot, in one transaction."""
    raise NotImplementedError


@activity.defn(name=RAISE_NO_SLOT_ALERT)
async def raise_no_slot_alert(step: ClearingStep) -> None:
    """No free slot: the ABRA team lead is alerted (once per attempt)."""
    raise NotImplementedError


@activity.defn(name=SEND_REMINDER)
async def send_reminder(step: ClearingStep) -> None:
    """Day 10 after moving in and not cleared: the ABRA team is reminded (once per deadline)."""
    raise NotImplementedError


@activity.defn(name=MARK_DEADLINE_MISSED)
async def mark_deadline_missed(step: ClearingStep) -> None:
    """Day 14: the registration deadline is marked missed (§17 BMG), once."""
    raise NotImplementedError


@activity.defn(name=RECORD_NO_SHOW)
async def record_no_show(step: ClearingStep) -> None:
    """The person did not come to the attempt's appointment (once per attempt)."""
    raise NotImplementedError


@activity.defn(name=COMPLETE_CLEARING)
async def complete_clearing(inp: CompleteInput) -> None:
    """The interview was held: the clearing is cleared (ClearingCompleted, ClearingClosed), once."""
    raise NotImplementedError


@activity.defn(name=CLOSE_CLEARING)
async def close_clearing(inp: CloseInput) -> None:
    """The clearing closes as not appeared or cancelled (ClearingClosed), once."""
    raise NotImplementedError


@activity.defn(name=SEND_DUE_CLEARING_REMINDERS)
async def send_due_clearing_reminders(inp: RemindersInput) -> RemindersResult:
    """Sends every reminder due now; the workflow's interface, implemented by intake (same name)."""
    raise NotImplementedError
