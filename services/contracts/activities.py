"""Activity names, workflow names and their input/output models.

Workflows in `workflows/` call activities by these names with these models; each service registers
its activity implementations under the same names. Task queues are the owning service's name.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskQueues:
    INTAKE = "intake"
    CASEWORK = "casework"
    FUNDING = "funding"
    REPORTING = "reporting"


# --- casework: review cycle -------------------------------------------------------------------

REVIEW_CYCLE_WORKFLOW = "ReviewCycle"
RECORD_REVIEW_DUE = "casework.record_review_due"


def review_cycle_workflow_id(case_id: uuid.UUID) -> str:
    """Business key: one review cycle per case (ARCHITECTURE.md "Where workflows sit")."""
    return f"review-cycle-{case_id}"


class OnboardingState(_Model):
    """The first contact of a case (seed 001 phase 1 "Einstieg"), run by the case's review-cycle workflow
    since v3 (cases opened before run it in their own CaseOnboarding workflow): due `first_contact_days`
    after opening, a reminder at `reminder_days`. Carried from cycle to cycle with what has happened."""

    first_contact_days: int = Field(14, ge=1, description="First contact due this many days after opening (DOMAIN.md flow 3 default).")
    reminder_days: int = Field(10, ge=1, description="Reminder to the caseworker this many days after opening.")
    opened_at: datetime | None = Field(default=None, description="When the workflow started; set by its first run.")
    reminded: bool = False
    escalated: bool = False
    contacted: bool = False


class ReviewCycleInput(_Model):
    case_id: uuid.UUID
    tenant: str
    interval_days: int = Field(ge=1, description="Days between two reviews (default 90, a setting).")
    cycle: int = Field(default=1, ge=1)
    anchor_on: date | None = Field(default=None, description="Due date of the previous review; the next one is due interval_days later (v2).")
    escalate_after_days: int = Field(default=14, ge=1, description="An unrecorded review escalates to the team lead this many days after its due date (v2).")
    onboarding: OnboardingState | None = Field(
        default=None, description="v3: the case's first contact runs in this workflow, one workflow per case instead of two.",
    )


class RecordReviewDueInput(_Model):
    case_id: uuid.UUID
    tenant: str
    cycle: int
    due_on: date


class RecordReviewDueResult(_Model):
    case_open: bool
