"""Casework's workflow and activity contracts: case onboarding, the review (extends the review cycle
of `activities.py`) and referrals (DOMAIN.md flows 3 and 4).

Workflow inputs and histories carry pseudonymous ids, dates and closed vocabularies only; notes and
free texts stay in casework's database. The pure referral step rules live here so that the workflow
(validators) and the service (API checks) apply the same table.
"""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.contracts.vocab import Partner


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- case onboarding (seed 001 phase 1 "Einstieg") ---------------------------------------------------

CASE_ONBOARDING_WORKFLOW = "CaseOnboarding"
ONBOARDING_REMIND = "casework.onboarding_remind"
ONBOARDING_ESCALATE = "casework.onboarding_escalate"
RECORD_FIRST_CONTACT = "casework.record_first_contact"


def case_onboarding_workflow_id(case_id: uuid.UUID) -> str:
    return f"case-onboarding-{case_id}"


class CaseOnboardingInput(_Model):
    case_id: uuid.UUID
    tenant: str
    first_contact_days: int = Field(14, ge=1, description="First contact due this many days after opening (DOMAIN.md flow 3 default).")
    reminder_days: int = Field(10, ge=1, description="Reminder to the caseworker this many days after opening.")


class FirstContactUpdate(_Model):
    """The caseworker's record of the welcome visit (human input: a workflow update with a validator)."""

    contact_on: date
    starter_pack: bool
    recorded_by: str


class CaseDeadlineInput(_Model):
    """A reminder or escalation about a case deadline (`kind`, e.g. first_contact_overdue)."""

    case_id: uuid.UUID
    tenant: str
    kind: str
    due_on: date
    cycle: int | None = None


class RecordFirstContactInput(_Model):
    case_id: uuid.UUID
    tenant: str
    contact_on: date
    starter_pack: bool
    recorded_by: str


class StepResult(_Model):
    ok: bool = True
    detail: str = ""


# --- review (seed 001 phase 4) -------------------------------------------------------------------------

REVIEW_ESCALATE = "casework.review_escalate"
RECORD_REVIEW = "casework.record_review"
GOAL_RESULTS = ("achieved", "partly", "not_achieved", "dropped")


class GoalResult(_Model):
    goal_id: uuid.UUID
    result: str = Field(pattern="^(achieved|partly|not_achieved|dropped)$")


class MeasureRating(_Model):
    """The effect of a measure rated 1 (none) .. 5 (strong) from the caseworker's and the client's view (001 phase 4)."""

    measure: str = Field(min_length=1, max_length=100, description="A measure key or a referral id.")
    caseworker_rating: int = Field(ge=1, le=5)
    client_rating: int = Field(ge=1, le=5)


class ReviewUpdate(_Model):
    cycle: int = Field(ge=1)
    goals: list[GoalResult] = Field(default_factory=list)
    measures: list[MeasureRating] = Field(default_factory=list)
    recorded_by: str


class RecordReviewInput(_Model):
    case_id: uuid.UUID
    tenant: str
    cycle: int
    due_on: date
    reviewed_on: date
    review: ReviewUpdate


# --- referrals (DOMAIN.md flow 4) ----------------------------------------------------------------------

REFERRAL_WORKFLOW = "Referral"
REFERRAL_ESCALATE = "casework.referral_escalate"
RECORD_REFERRAL_STEP = "casework.record_referral_step"

MEASURES = ("job_language_course", "eq_plus_language", "qualification")
STEPS = ("acknowledged", "appointment_booked", "profiled", "measure_offered", "placed_training", "placed_employment", "declined", "no_show")
TERMINAL_STEPS = ("placed_training", "placed_employment", "declined")


def referral_workflow_id(referral_id: uuid.UUID) -> str:
    return f"referral-{referral_id}"


class ReferralState(_Model):
    acknowledged: bool = False
    appointment: bool = False
    profiled: bool = False
    closed: bool = False


def referral_step_error(state: ReferralState, step: str, measure: str | None = None) -> str | None:
    """Why a partner step is not allowed now (None if it is): acknowledge first, an appointment
    needs the acknowledgement, profiling, offers, placements and no-shows need a booked appointment;
    a closed referral takes no more steps."""
    if step not in STEPS:
        return f"unknown step {step}"
    if state.closed:
        return "the referral is closed"
    if step == "acknowledged":
        return "already acknowledged" if state.acknowledged else None
    if not state.acknowledged:
        return "the referral must be acknowledged first"
    if step == "appointment_booked" or step == "declined":
        return None
    if not state.appointment:
        return "no appointment has been booked"
    if step == "measure_offered" and measure not in MEASURES:
        return f"measure must be one of {', '.join(MEASURES)}"
    return None


def apply_referral_step(state: ReferralState, step: str) -> ReferralState:
    update: dict[str, bool] = {}
    if step == "acknowledged":
        update["acknowledged"] = True
    elif step == "appointment_booked":
        update["appointment"] = True
    elif step == "profiled":
        update["profiled"] = True
    elif step == "no_show":
        update["appointment"] = False  # a new appointment has to be booked
    if step in TERMINAL_STEPS:
        update["closed"] = True
    return state.model_copy(update=update)


class ReferralInput(_Model):
    referral_id: uuid.UUID
    case_id: uuid.UUID
    tenant: str
    partner: Partner
    made_on: date
    acknowledgement_working_days: int = Field(5, ge=1)
    first_appointment_working_days: int = Field(20, ge=1)


class ReferralStepUpdate(_Model):
    step: str
    on: date | None = Field(default=None, description="Date of the appointment (appointment_booked).")
    measure: str | None = None
    recorded_by: str


class RecordReferralStepInput(_Model):
    referral_id: uuid.UUID
    tenant: str
    step: str
    measure: str | None = None
    appointment_on: date | None = None
    recorded_on: date
    recorded_by: str


class ReferralEscalateInput(_Model):
    referral_id: uuid.UUID
    tenant: str
    breach: str
    due_on: date
