"""Workflow and activity contracts of intake's ABRA pre-registration clearing (DOMAIN.md flow 2).

Workflow inputs and activity payloads carry pseudonymous ids, dates and coarse facts only; the
clearing interview's content stays encrypted in intake's database.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CLEARING_WORKFLOW = "PreRegistrationClearing"
#: v3: one workflow for the clearings an intake (or one of its corrections) starts, a household's
HOUSEHOLD_CLEARING_WORKFLOW = "HouseholdClearing"

BOOK_APPOINTMENT = "intake.clearing_book_appointment"
BOOK_APPOINTMENTS = "intake.clearing_book_appointments"
RAISE_NO_SLOT_ALERT = "intake.clearing_no_slot_alert"
SEND_REMINDER = "intake.clearing_reminder"
MARK_DEADLINE_MISSED = "intake.clearing_deadline_missed"
RECORD_NO_SHOW = "intake.clearing_no_show"
COMPLETE_CLEARING = "intake.clearing_complete"
CLOSE_CLEARING = "intake.clearing_close"

#: workflow.patched id of the move-in correction (clearing v2): dates follow a corrected move-in date
MOVE_IN_CORRECTION_PATCH = "clearing-move-in-correction"

NEEDS_FOUND = ("work", "housing", "health_insurance", "schooling")


def clearing_workflow_id(person_id: uuid.UUID) -> str:
    """Business key of a clearing started before v3: one workflow per person."""
    return f"clearing-{person_id}"


def household_clearing_workflow_id(intake_id: uuid.UUID, correction_no: int = 0) -> str:
    """Business key since v3: one workflow for the clearings the intake started (`correction_no` 0) or
    one of its corrections started (a person newly routed to ABRA). Ids only."""
    return f"clearing-intake-{intake_id}" + (f"-correction-{correction_no}" if correction_no else "")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClearingInput(_Model):
    clearing_id: uuid.UUID
    person_id: uuid.UUID
    tenant: str
    move_in_date: date
    booking_working_days: int = Field(ge=0)
    reminder_days: int = Field(ge=1)
    deadline_days: int = Field(ge=1)
    max_rebookings: int = Field(ge=0)
    slot_retry_minutes: int = Field(ge=1)
    correction_no: int = Field(default=0, ge=0, description="The intake correction that set move_in_date (0: the intake itself).")


class MoveInCorrection(_Model):
    """A corrected move-in date for a running clearing: its reminder and deadline follow. Applied once
    per correction number; an older or repeated number changes nothing."""

    correction_no: int = Field(ge=1)
    move_in_date: date


class BookInput(_Model):
    clearing_id: uuid.UUID
    attempt: int = Field(ge=1)
    not_before: AwareDatetime
    working_days: int = Field(ge=0)


class Booking(_Model):
    booked: bool
    slot_id: uuid.UUID | None = None
    appointment_at: AwareDatetime | None = None
    clearing_open: bool = True


class ClearingStep(_Model):
    """Input of the alert/reminder/deadline/no-show activities."""

    clearing_id: uuid.UUID
    attempt: int = Field(default=1, ge=1)
    on: date | None = None


class InterviewFacts(_Model):
    """What the coach's clearing interview tells the workflow: non-personal facts only (the record
    itself is stored encrypted by intake's API before the update)."""

    record_id: uuid.UUID
    needs_found: list[str] = Field(default_factory=list)
    long_term_coaching: bool = False


class Attendance(_Model):
    attended: bool


class CloseRequest(_Model):
    outcome: str = Field(description="not_appeared or cancelled (cleared comes from the interview).")
    by_correction: bool = False


class CompleteInput(_Model):
    clearing_id: uuid.UUID
    facts: InterviewFacts
    at: AwareDatetime


class CloseInput(_Model):
    clearing_id: uuid.UUID
    outcome: str
    at: AwareDatetime


class ClearingState(_Model):
    status: str = Field(description="booking, booked, cleared, not_appeared, cancelled")
    attempt: int
    appointment_at: datetime | None = None
    reminded: bool = False
    deadline_missed: bool = False
    move_in_date: date | None = None
    correction_no: int = 0


# ---- v3: one workflow per household (HouseholdClearing) -----------------------------------------


class ClearingMember(_Model):
    """One person's clearing in a household's workflow."""

    clearing_id: uuid.UUID
    person_id: uuid.UUID
    move_in_date: date
    correction_no: int = Field(default=0, ge=0, description="The intake correction that set move_in_date (0: the intake itself).")


class HouseholdClearingInput(_Model):
    """The clearings an intake (or a correction) started, with intake's settings. The persons' steps
    (booking, reminder, deadline, the coach's decisions) stay per person, as in `ClearingInput`."""

    tenant: str
    members: list[ClearingMember] = Field(min_length=1)
    booking_working_days: int = Field(ge=0)
    reminder_days: int = Field(ge=1)
    deadline_days: int = Field(ge=1)
    max_rebookings: int = Field(ge=0)
    slot_retry_minutes: int = Field(ge=1)


class BookAll(_Model):
    """The household's persons who wait for a slot: booked in one transaction, in this order."""

    items: list[BookInput] = Field(min_length=1)


class Bookings(_Model):
    items: list[Booking]


class ForMember(_Model):
    """A coach's decision or a correction for one person of a household's workflow."""

    clearing_id: uuid.UUID


class MemberAttendance(ForMember):
    attendance: Attendance


class MemberInterview(ForMember):
    facts: InterviewFacts


class MemberClose(ForMember):
    request: CloseRequest


class MemberMoveIn(ForMember):
    correction: MoveInCorrection
