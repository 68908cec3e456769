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

from services.contracts.vocab import Partner, Purpose


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


def first_contact_error(contact_on: date, opened_on: date, today: date) -> str | None:
    """Why a first-contact date is refused (None: it is accepted). The welcome visit (seed 001 phase 1
    "Einstieg"; DOMAIN.md flow 3) is recorded after it took place: not in the future and not before the
    case was opened. No day of tolerance: the API once allowed tomorrow while the workflow refused it,
    so tomorrow never got recorded; `today` is the caller's date (the API's day, the workflow's
    `workflow.now()`). One rule for the API (422), the onboarding workflow's update validator and the
    record_first_contact activity."""
    if contact_on > today:
        return "the first contact cannot be in the future"
    if contact_on < opened_on:
        return "the first contact cannot be before the case was opened"
    return None


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
    recorded_on: date | None = Field(default=None, description="The workflow's day of the record (first_contact_error's today); None from older runs.")


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
#: A patch marker of the referral workflow: a partner's substantive answer (place offered, waiting
#: list, enrolled, ...) meets the first-appointment deadline like a booked appointment does.
PARTNER_ANSWERS_PATCH = "partner-answers-meet-first-deadline"


IP_ADVISOR = "ip_advisor"  # the Integration Point's advisors, on their own screen
REFERRAL_PARTNER = "referral_partner"  # the partner's own staff sign in (role referral_partner, claim `partner`)
CASEWORKER = "caseworker"  # the caseworker records the answer the partner gave (letter, phone, the client)


class PartnerProcess(_Model):
    """The steps a partner takes on a referral and who records them.

    `steps`: the allowed steps; `terminal`: steps that close the referral (their name is the outcome);
    `after_appointment`: steps that need a booked appointment first; `first_answer`: steps that meet the
    first-appointment deadline (20 working days, DOMAIN.md flow 4); `dated`: steps that need a date
    (the appointment, the start of a place or course); `answer_acknowledges`: an answer the caseworker
    records is itself the partner's acknowledgement (the partner answered, so it has the referral);
    `recorder`: who records them, with `why`."""

    steps: tuple[str, ...]
    terminal: tuple[str, ...]
    after_appointment: tuple[str, ...] = ()
    first_answer: tuple[str, ...] = ("appointment_booked",)
    dated: tuple[str, ...] = ("appointment_booked",)
    answer_acknowledges: bool = False
    recorder: str
    why: str


_IP = PartnerProcess(
    steps=STEPS, terminal=TERMINAL_STEPS,
    after_appointment=("profiled", "measure_offered", "placed_training", "placed_employment", "no_show"),
    recorder=IP_ADVISOR,
    why="000 'Projekt Integration Point': the joint desk of Agentur für Arbeit, Jobcenter and city; its advisors sign in.",
)

#: Per partner (DOMAIN.md flow 4 defaults; the partners of vocab.Partner). Outcomes per partner:
#: Kita a place offered (with its start date) or the waiting list (000 "Kita-Einstieg: Brücken bauen
#: in frühe Bildung"; DOMAIN.md flow 1: children 0-6); school the side-entry counselling appointment,
#: then a school place (000 "Seiteneinstieg": counselling with standardised tests before the school is
#: assigned); language course enrolled (course start) or waiting list (000 "Sprachkursportal":
#: the course providers keep their places in the portal); counselling services: counselling taken
#: up; health office: the appointment was kept (no findings are recorded); ABRA: coaching taken up.
PARTNER_PROCESSES: dict[Partner, PartnerProcess] = {
    Partner.INTEGRATION_POINT: _IP,
    Partner.EMPLOYMENT_AGENCY: _IP,
    Partner.JOB_CENTRE: _IP,
    Partner.DAYCARE: PartnerProcess(
        steps=("acknowledged", "appointment_booked", "place_offered", "waiting_list", "declined", "no_show"),
        terminal=("place_offered", "declined"), after_appointment=("no_show",),
        first_answer=("appointment_booked", "place_offered", "waiting_list"), dated=("appointment_booked", "place_offered"),
        answer_acknowledges=True, recorder=CASEWORKER,
        why="Kitas (city and provider facilities) have no accounts here; the Kita answers the caseworker, who records it (000 'Kita-Einstieg').",
    ),
    Partner.SCHOOL_SIDE_ENTRY: PartnerProcess(
        steps=("acknowledged", "appointment_booked", "school_place_assigned", "declined", "no_show"),
        terminal=("school_place_assigned", "declined"), after_appointment=("school_place_assigned", "no_show"),
        dated=("appointment_booked", "school_place_assigned"),
        answer_acknowledges=True, recorder=CASEWORKER,
        why="The side-entry counselling is a city office (Kommunales Integrationszentrum) documenting in its own database (000 'Seiteneinstieg'); "
        "the caseworker records its answer.",
    ),
    Partner.LANGUAGE_COURSE: PartnerProcess(
        steps=("acknowledged", "appointment_booked", "enrolled", "waiting_list", "declined", "no_show"),
        terminal=("enrolled", "declined"), after_appointment=("no_show",),
        first_answer=("appointment_booked", "enrolled", "waiting_list"), dated=("appointment_booked", "enrolled"),
        recorder=REFERRAL_PARTNER,
        why="The course providers work with the city in the language course portal and have staff accounts (000 'Sprachkursportal').",
    ),
    Partner.MIGRATION_COUNSELLING: PartnerProcess(
        steps=("acknowledged", "appointment_booked", "counselling_started", "declined", "no_show"),
        terminal=("counselling_started", "declined"), after_appointment=("counselling_started", "no_show"),
        recorder=REFERRAL_PARTNER,
        why="Migration counselling (welfare associations) is a partner organisation whose counsellors sign in (DOMAIN.md flow 1).",
    ),
    Partner.HEALTH: PartnerProcess(
        steps=("acknowledged", "appointment_booked", "appointment_kept", "declined", "no_show"),
        terminal=("appointment_kept", "declined"), after_appointment=("appointment_kept", "no_show"),
        answer_acknowledges=True, recorder=CASEWORKER,
        why="The health office is a city office without access to casework; the caseworker records only that an appointment was given and kept, "
        "never findings.",
    ),
    Partner.WOMENS_COUNSELLING: PartnerProcess(
        steps=("acknowledged", "appointment_booked", "counselling_started", "declined", "no_show"),
        terminal=("counselling_started", "declined"), after_appointment=("counselling_started", "no_show"),
        answer_acknowledges=True, recorder=CASEWORKER,
        why="Women's counselling works confidentially and keeps no accounts in the city's systems; "
        "the caseworker records what the client or the centre tells her.",
    ),
    Partner.ABRA: PartnerProcess(
        steps=("acknowledged", "appointment_booked", "coaching_started", "declined", "no_show"),
        terminal=("coaching_started", "declined"), after_appointment=("coaching_started", "no_show"),
        recorder=REFERRAL_PARTNER,
        why="ABRA's coaches already sign in to ankommen (000 'Projekt ABRA'); they record their steps on the partner screen.",
    ),
}


def partner_process(partner: str) -> PartnerProcess | None:
    """The partner's process (None: no referrals are made to it, e.g. social casework itself)."""
    try:
        return PARTNER_PROCESSES.get(Partner(partner))
    except ValueError:
        return None


# --- the handover of personal data to the partner (SGB X §67b; 000 "Projekt Integration Point") ------

#: The consent that allows handing the person's details to a partner: data exchange with that partner.
#: The referral consent (purpose referral) only allows the referral itself (purpose-bound, §67b).
HANDOVER_PURPOSE = Purpose.DATA_EXCHANGE
INTEGRATION_POINT_DESK = frozenset({Partner.INTEGRATION_POINT, Partner.EMPLOYMENT_AGENCY, Partner.JOB_CENTRE})


def handover_consent_partners(partner: str) -> frozenset[str]:
    """Consents to which partners allow the handover to `partner`: the partner itself; for the
    employment agency and the job centre also the Integration Point, their joint desk (000), so the
    handover survives a change of legal regime (SGB III -> SGB II)."""
    if partner in {p.value for p in INTEGRATION_POINT_DESK}:
        return frozenset({partner, Partner.INTEGRATION_POINT.value})
    return frozenset({partner})


def may_hand_over(partner: str, referral_open: bool, active_consents: set[tuple[str, str]]) -> bool:
    """Whether the partner may see the person's details for a referral: the referral is open and the
    person's active consents (partner, purpose) include the data exchange with this partner."""
    return referral_open and any((p, HANDOVER_PURPOSE.value) in active_consents for p in handover_consent_partners(partner))


def referral_workflow_id(referral_id: uuid.UUID) -> str:
    return f"referral-{referral_id}"


class ReferralState(_Model):
    acknowledged: bool = False
    appointment: bool = False
    profiled: bool = False
    closed: bool = False


def referral_step_input_error(partner: str, step: str, on: date | None = None, measure: str | None = None) -> tuple[str, str] | None:
    """(field, reason) when a step is not one this partner takes, or lacks its date or measure (the
    API's 422 on the partner screen, the caseworker's record and the Integration Point's buttons; the
    order of steps is `referral_step_error`'s). Table: PARTNER_PROCESSES (DOMAIN.md flow 4)."""
    process = partner_process(partner)
    if process is None:
        return ("partner", f"no referrals are made to {partner}")
    if step not in process.steps:
        return ("step", f"step must be one of {', '.join(process.steps)}")
    if step in process.dated and on is None:
        return ("on", "the appointment date is required" if step == "appointment_booked" else "the date is required for this step")
    if step == "measure_offered" and measure not in MEASURES:
        return ("measure", f"measure must be one of {', '.join(MEASURES)}")
    return None


def referral_step_error(state: ReferralState, step: str, measure: str | None = None, partner: str = Partner.INTEGRATION_POINT.value) -> str | None:
    """Why a partner step is not allowed now (None if it is): only the partner's own steps
    (PARTNER_PROCESSES); acknowledge first; an appointment needs the acknowledgement; the steps of
    `after_appointment` (for the Integration Point: profiling, offers, placements and no-shows) need a
    booked appointment; a closed referral takes no more steps (DOMAIN.md flow 4). Where the caseworker
    records the partner's answer, the answer is the acknowledgement (`answer_acknowledges`)."""
    process = partner_process(partner)
    if process is None:
        return f"no referrals are made to {partner}"
    if step not in process.steps:
        return f"unknown step {step}"
    if state.closed:
        return "the referral is closed"
    if step == "acknowledged":
        return "already acknowledged" if state.acknowledged else None
    if not state.acknowledged and not process.answer_acknowledges:
        return "the referral must be acknowledged first"
    if step in process.after_appointment and not state.appointment:
        return "no appointment has been booked"
    if step == "measure_offered" and measure not in MEASURES:
        return f"measure must be one of {', '.join(MEASURES)}"
    return None


def apply_referral_step(state: ReferralState, step: str, partner: str = Partner.INTEGRATION_POINT.value) -> ReferralState:
    process = partner_process(partner) or _IP
    update: dict[str, bool] = {}
    if step == "acknowledged" or process.answer_acknowledges:
        update["acknowledged"] = True
    if step == "appointment_booked":
        update["appointment"] = True
    elif step == "profiled":
        update["profiled"] = True
    elif step == "no_show":
        update["appointment"] = False  # a new appointment has to be booked
    if step in process.terminal:
        update["closed"] = True
    return state.model_copy(update=update)


def meets_first_deadline(partner: str, step: str) -> bool:
    """A booked appointment, or a partner's substantive answer (`first_answer`), meets the
    first-appointment deadline (DOMAIN.md flow 4: 20 working days)."""
    process = partner_process(partner) or _IP
    return step in process.first_answer


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
    on: date | None = Field(default=None, description="Date of the appointment (appointment_booked) or of the start of a place or course.")
    measure: str | None = None
    recorded_by: str


class RecordReferralStepInput(_Model):
    referral_id: uuid.UUID
    tenant: str
    step: str
    measure: str | None = None
    appointment_on: date | None = None
    on: date | None = Field(default=None, description="The step's date: the appointment, or the start of a place or course.")
    recorded_on: date
    recorded_by: str


class ReferralEscalateInput(_Model):
    referral_id: uuid.UUID
    tenant: str
    breach: str
    due_on: date
