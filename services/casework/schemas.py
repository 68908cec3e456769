"""Casework's HTTP request and response models (the API's DTOs; the rules are in domain.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.casework.domain import CloseReason, GoalStatus, Phase, Responsible
from services.contracts.vocab import Partner, Purpose
from services.kit.alerts import Alert
from services.kit.inputs import Input


class _In(Input):
    model_config = ConfigDict(extra="forbid")


class CaseOut(BaseModel):
    case_id: uuid.UUID
    household_id: uuid.UUID
    intake_id: uuid.UUID | None
    programme: str
    district: str
    phase: Phase
    opened_at: datetime
    caseworker: str | None = None
    queued: bool = False
    closed_at: datetime | None = None
    close_reason: str | None = None
    first_contact_on: date | None = None
    plan_version: int = 0
    member_ids: list[uuid.UUID] = Field(default_factory=list)


class CaseList(BaseModel):
    cases: list[CaseOut]
    total: int


class CloseIn(_In):
    reason: CloseReason


class FirstContactIn(_In):
    contact_on: date
    starter_pack: bool = Field(description="Starter pack (Starterpaket) handed over.")
    note: str | None = Field(default=None, max_length=2000)


class ContactIn(_In):
    """A contact with the client after the first one (visit, office, phone), for the timeline (002 §4.1 Laufzettel)."""

    contact_on: date
    kind: str = Field(pattern="^(home_visit|office|phone|accompaniment|other)$")
    note: str | None = Field(default=None, max_length=2000)


class ResourceCheckIn(_In):
    """Answers of the resource check questionnaire (001 phase 2), question key -> answer."""

    answers: dict[str, str] = Field(min_length=1)


class GoalIn(_In):
    field_of_action: int = Field(ge=1, le=18)
    title: str = Field(min_length=1, max_length=300)
    target_date: date
    responsible: Responsible
    person_id: uuid.UUID | None = None


class GoalChangeIn(_In):
    """An adjustment of a goal (001 phase 2/3): only the fields given change. `person_id` given as
    null moves the goal to the whole household; a person has to be a member of the case."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    target_date: date | None = None
    responsible: Responsible | None = None
    status: GoalStatus | None = None
    field_of_action: int | None = Field(default=None, ge=1, le=18)
    person_id: uuid.UUID | None = None

    def changes(self) -> dict[str, object]:
        """The fields to change: those given and not null, and `person_id` whenever it was given."""
        values: dict[str, object] = self.model_dump(exclude_none=True, mode="python")
        if "person_id" in self.model_fields_set:
            values["person_id"] = self.person_id
        return values


class GoalOut(BaseModel):
    goal_id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID | None
    field_of_action: int
    title: str
    target_date: date
    responsible: str
    status: str
    revision: int


class PlanAgreeIn(_In):
    agreed_on: date
    agreed_by_client: bool
    agreed_by_caseworker: bool


class PlanOut(BaseModel):
    case_id: uuid.UUID
    plan_version: int
    resource_check: dict[str, str] | None
    goals: list[GoalOut]


class ReviewIn(_In):
    cycle: int = Field(ge=1)
    goals: list[dict] = Field(default_factory=list, description="[{goal_id, result}] with result achieved, partly, not_achieved or dropped.")
    measures: list[dict] = Field(default_factory=list, description="[{measure, caseworker_rating 1-5, client_rating 1-5}].")


class ConsentIn(_In):
    person_id: uuid.UUID
    partner: Partner
    purpose: Purpose
    given_on: date


class ConsentWithdrawIn(_In):
    person_id: uuid.UUID
    partner: Partner
    purpose: Purpose | None = Field(default=None, description="None withdraws every purpose for this partner.")


class ConsentOut(BaseModel):
    person_id: uuid.UUID
    partner: str
    purpose: str
    given_on: date
    source: str
    withdrawn_at: datetime | None


class ReferralIn(_In):
    person_id: uuid.UUID
    partner: Partner
    purpose: Purpose = Purpose.REFERRAL
    note: str | None = Field(default=None, max_length=2000)


class ReferralOut(BaseModel):
    referral_id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID
    partner: str
    purpose: str
    status: str
    made_on: date
    acknowledged_on: date | None
    appointment_on: date | None
    measure: str | None
    outcome: str | None
    handed_over_from: str | None
    latest_step: str | None = None
    outcome_on: date | None = Field(default=None, description="Start of the place or course the partner gave.")
    recorded_by: str | None = Field(default=None, description="Who records the partner's steps: ip_advisor, referral_partner or caseworker.")


class AnswerIn(_In):
    """A partner's step on a referral (the partner's own table: PARTNER_PROCESSES)."""

    step: str = Field(min_length=1, max_length=40)
    on: date | None = Field(default=None, description="The appointment, or the start of the place or course.")
    measure: str | None = Field(default=None, max_length=40)


class HandoverStep(BaseModel):
    at: datetime
    step: str
    partner: str | None
    measure: str | None = None


class HandoverOut(BaseModel):
    """What the Integration Point needs to act on a referral (000 "Projekt Integration Point"): with the
    person's consent to the data exchange, the caseworker's note and, after a change of legal regime,
    the counselling history handed over; without it ids only."""

    referral: ReferralOut
    consent: bool
    note: str | None = None
    history: list[HandoverStep] | None = None


class StepIn(_In):
    on: date | None = Field(default=None, description="Appointment date (book-appointment).")
    measure: str | None = Field(default=None, description="job_language_course, eq_plus_language or qualification.")


#: A district (Sozialraum) as the front desk records it, e.g. "Westen".
District = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
#: A language a caseworker speaks, as an ISO 639-1 code (e.g. "ar").
Language = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2}$")]


class CaseworkerIn(_In):
    districts: list[District] | None = Field(default=None, max_length=20)
    languages: list[Language] | None = Field(default=None, max_length=20)
    fte: float | None = Field(default=None, gt=0, le=1.5)
    cap: int | None = Field(default=None, ge=0, le=1000)


class CaseworkerNew(_In):
    """A caseworker joining the register: their districts (001 "feste Zuständigkeit nach Sozialraum"),
    languages and FTE; the caseload cap follows from the FTE (000: 1:190) unless set."""

    username: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@-]+$", description="The caseworker's sign-in name.")
    districts: list[District] = Field(min_length=1, max_length=20)
    languages: list[Language] = Field(default_factory=list, max_length=20)
    fte: float = Field(gt=0, le=1.5, description="Full-time equivalent, e.g. 0.5 for half time.")
    cap: int | None = Field(default=None, ge=0, le=1000, description="Explicit caseload cap; default 190 x FTE.")


class LeaveIn(_In):
    on_leave: bool
    substitute: str | None = None


class ReassignIn(_In):
    caseworker: str = Field(min_length=1, max_length=200)


class CaseworkerOut(BaseModel):
    username: str
    districts: list[str]
    languages: list[str]
    fte: float
    cap: int
    target: int = Field(description="Caseload of the staffing ratio for this FTE (000: 1:190 x FTE); cap differs when set explicitly.")
    caseload: int
    on_leave: bool
    substitute: str | None


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    detail: dict




class AssignmentOut(BaseModel):
    caseworker: str
    reason: str
    at: Any
    by: str


class PlacementIn(Input):
    kind: str


class Worklist(BaseModel):
    my_cases: list[CaseOut]
    reviews_due: list[dict]
    reviews_overdue: list[dict]
    referrals_waiting: list[ReferralOut]
    escalations: list[Alert]
