"""Events the casework service publishes: cases and assignment (flow 3), plans, reviews and
referrals (flows 3 and 4). Staff appear by user name (they are not clients); clients only by
pseudonymous ids."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field

from services.contracts.envelope import Event
from services.contracts.vocab import Partner, Purpose


class CaseOpened(Event):
    """Soziales Fallmanagement (or ABRA coaching) opened a case for a household (001, phase 1 "Einstieg")."""

    producer = "casework"

    case_id: uuid.UUID
    household_id: uuid.UUID
    intake_id: uuid.UUID | None = None
    programme: str = Field(description="'Soziales Fallmanagement' or 'ABRA'.")
    district: str
    member_ids: list[uuid.UUID] = Field(default_factory=list, description="Pseudonymous person ids of the household members in the case.")


class CaseAssigned(Event):
    """A caseworker became responsible for a case (initial assignment, from the queue, reassignment or substitution)."""

    producer = "casework"

    case_id: uuid.UUID
    caseworker: str = Field(description="User name of the responsible caseworker.")
    previous_caseworker: str | None = None
    reason: str = Field(description="initial, from_queue, reassignment, substitution or substitution_ended.")


class CaseQueued(Event):
    """Every caseworker of the case's district was at their caseload cap; the case waits."""

    producer = "casework"

    case_id: uuid.UUID
    district: str


class CasePhaseChanged(Event):
    """The case moved between the phases of seed 001 (entry, planning, integration, implementation_review, closed)."""

    producer = "casework"

    case_id: uuid.UUID
    from_phase: str
    to_phase: str


class FirstContactRecorded(Event):
    producer = "casework"

    case_id: uuid.UUID
    contact_on: date
    days_after_opening: int
    starter_pack: bool


class CaseClosed(Event):
    producer = "casework"

    case_id: uuid.UUID
    programme: str
    district: str
    reason: str = Field(description="goals_achieved, moved_away, no_longer_eligible or no_contact.")


class GoalSet(Event):
    """A goal was added to or changed in an integration plan (each change is kept)."""

    producer = "casework"

    case_id: uuid.UUID
    goal_id: uuid.UUID
    person_id: uuid.UUID | None = None
    field_of_action: int = Field(ge=1, le=18)
    responsible: str = Field(description="client, caseworker or partner.")
    target_date: date
    revision: int = Field(ge=1)
    status: str = Field(default="open", description="open, achieved, partly, not_achieved or dropped.")


class PlanAgreed(Event):
    """Client and caseworker agreed the integration agreement (Integrationsvereinbarung)."""

    producer = "casework"

    case_id: uuid.UUID
    plan_version: int = Field(ge=1)
    goal_count: int = Field(ge=0)
    fields_of_action: list[int] = Field(default_factory=list)


class ReviewDue(Event):
    """A case's periodic review of its integration goals came due (001, phase 4; default every 90 days)."""

    producer = "casework"

    case_id: uuid.UUID
    cycle: int = Field(ge=1)
    due_on: date


class ReviewCompleted(Event):
    """A review of the plan was recorded (per-goal results and effect ratings are counted, not described)."""

    producer = "casework"

    case_id: uuid.UUID
    cycle: int = Field(ge=1)
    achieved: int = Field(ge=0)
    partly: int = Field(ge=0)
    not_achieved: int = Field(ge=0)
    dropped: int = Field(ge=0)
    days_overdue: int = Field(ge=0)


class CaseEscalated(Event):
    """A deadline of a case was breached and the team lead was alerted."""

    producer = "casework"

    case_id: uuid.UUID
    kind: str = Field(description="first_contact_overdue, review_overdue, caseload_full, ...")
    referral_id: uuid.UUID | None = None


class ConsentChanged(Event):
    """A consent in casework's register was recorded, imported from the intake or withdrawn: the
    person's state for this partner and purpose (SGB X §67b). Intake keeps these to check, before it
    hands a person's details to a partner, that the person agreed (flow 4 handover)."""

    producer = "casework"

    person_id: uuid.UUID
    partner: Partner
    purpose: Purpose
    given_on: date
    withdrawn: bool = False


class ReferralMade(Event):
    """A client was referred to a partner with documented consent (flow 4)."""

    producer = "casework"

    referral_id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID
    partner: Partner
    purpose: Purpose
    programme: str
    district: str


class ReferralStepRecorded(Event):
    """The partner acted on a referral. `step` is one of the partner's steps
    (services.contracts.casework_workflows.PARTNER_PROCESSES: acknowledged, appointment_booked,
    profiled, measure_offered, placed_training, placed_employment for the Integration Point;
    place_offered, waiting_list for a Kita; school_place_assigned; enrolled; counselling_started;
    appointment_kept; coaching_started; declined, no_show) or handed_over."""

    producer = "casework"

    referral_id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID
    partner: Partner
    step: str
    measure: str | None = Field(default=None, description="For measure_offered: job_language_course, eq_plus_language or qualification.")
    working_days_since_referral: int = Field(ge=0)


class ReferralEscalated(Event):
    """The partner missed the acknowledgement (5 working days) or first-appointment (20) deadline."""

    producer = "casework"

    referral_id: uuid.UUID
    case_id: uuid.UUID
    partner: Partner
    breach: str = Field(description="acknowledgement or first_appointment.")


class ReferralHandedOver(Event):
    """Change of legal regime (asylum recognised): SGB III employment agency -> SGB II job centre,
    with the history handed over and running measures kept."""

    producer = "casework"

    referral_id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID
    from_partner: Partner
    to_partner: Partner


class ReferralClosed(Event):
    producer = "casework"

    referral_id: uuid.UUID
    case_id: uuid.UUID
    partner: Partner
    outcome: str = Field(
        description="A terminal step of the partner (placed_training, placed_employment, place_offered, school_place_assigned, enrolled, "
        "counselling_started, appointment_kept, coaching_started, declined), consent_withdrawn or case_closed."
    )


class PersonRetentionElapsed(Event):
    """The retention period after a person's last case closed has elapsed (casework's retention sweep,
    CASEWORK_RETENTION_DAYS): intake erases the person (GDPR Art. 17(1)(a), Art. 5(1)(e)). The id only."""

    producer = "casework"

    person_id: uuid.UUID
    retention_days: int = Field(ge=1)
