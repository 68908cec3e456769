"""Cases of Soziales Fallmanagement and ABRA coaching (seed 001, four phases; DOMAIN.md flows 3 and 4).
Pure rules, no I/O."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.contracts.vocab import Partner, Purpose
from services.kit.errors import Conflict, Invalid

PROGRAMME_SOCIAL_CASEWORK = "Soziales Fallmanagement"
PROGRAMME_ABRA = "ABRA"
_CASE_NAMESPACE = uuid.UUID("6f0c5c1e-4b7a-4c1e-9a57-2d0f7f1c3a01")


class Phase(enum.StrEnum):
    """The four phases of seed 001 plus closed; wire values as in CasePhaseChanged."""

    ENTRY = "entry"
    PLANNING = "planning"
    INTEGRATION = "integration"
    REVIEW = "implementation_review"
    CLOSED = "closed"


#: Seed 001: Einstieg -> Integrationsplanung -> Integration in die Regelsysteme -> Umsetzung und
#: Überprüfung; a review may send the case back to integration work; every open phase may close.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.ENTRY: frozenset({Phase.PLANNING, Phase.CLOSED}),
    Phase.PLANNING: frozenset({Phase.INTEGRATION, Phase.CLOSED}),
    Phase.INTEGRATION: frozenset({Phase.REVIEW, Phase.CLOSED}),
    Phase.REVIEW: frozenset({Phase.INTEGRATION, Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}


def transition(current: Phase, target: Phase) -> Phase:
    """The phase after moving from `current` to `target`; refuses moves the table does not allow."""
    if target not in TRANSITIONS[current]:
        raise Conflict(f"a case in phase {current} cannot move to {target}", field="phase")
    return target


def advance_to(current: Phase, target: Phase) -> Phase | None:
    """The next phase when an event implies it (first contact -> planning, plan agreed -> integration,
    a review -> implementation and review), if the table allows that move from `current`; None when
    the case is already there or beyond, or the move would skip a phase."""
    order = [Phase.ENTRY, Phase.PLANNING, Phase.INTEGRATION, Phase.REVIEW]
    if target not in TRANSITIONS[current] or target not in order or order.index(current) >= order.index(target):
        return None
    return target


class CloseReason(enum.StrEnum):
    GOALS_ACHIEVED = "goals_achieved"  # goals achieved / client independent
    MOVED_AWAY = "moved_away"
    NO_LONGER_ELIGIBLE = "no_longer_eligible"
    NO_CONTACT = "no_contact"


class Responsible(enum.StrEnum):
    CLIENT = "client"
    CASEWORKER = "caseworker"
    PARTNER = "partner"


class GoalStatus(enum.StrEnum):
    OPEN = "open"
    ACHIEVED = "achieved"
    PARTLY = "partly"
    NOT_ACHIEVED = "not_achieved"
    DROPPED = "dropped"


def case_id_for_intake(intake_id: uuid.UUID) -> uuid.UUID:
    """The case an intake opens has an id derived from the intake id, so a redelivered event finds
    the same case and the same workflows (still a pseudonym: both are random UUIDs)."""
    return uuid.uuid5(_CASE_NAMESPACE, str(intake_id))


def case_id_for_clearing(clearing_id: uuid.UUID) -> uuid.UUID:
    """ABRA coaching opened from a clearing: one case per clearing, whichever clearing event arrives first."""
    return uuid.uuid5(_CASE_NAMESPACE, f"clearing:{clearing_id}")


# --- caseworker assignment (001 "feste Zuständigkeit nach Sozialraum"; 000 caseload 1:190) ----------


@dataclass(frozen=True)
class CaseworkerSlot:
    username: str
    districts: tuple[str, ...]
    languages: tuple[str, ...]
    caseload: int
    cap: int
    available: bool


def effective_cap(fte: float, cap_per_fte: int, explicit: int | None) -> int:
    """Caseload cap: an explicit cap set by the team lead, otherwise `cap_per_fte` (default 190, 000) x FTE."""
    return explicit if explicit is not None else int(round(cap_per_fte * fte))


def assignment_candidates(slots: list[CaseworkerSlot], district: str, languages: set[str]) -> list[str]:
    """Caseworkers of the district with room, best first: a shared language with the household
    first, then the lowest relative caseload, then the name (stable)."""
    fitting = [s for s in slots if s.available and district in s.districts and s.caseload < s.cap]
    return [
        s.username
        for s in sorted(fitting, key=lambda s: (not (languages & set(s.languages)), s.caseload / max(s.cap, 1), s.username))
    ]


# --- consent (SGB X §67b: purpose-bound, per partner) -------------------------------------------------

#: The Integration Point is the joint desk of employment agency, job centre and city (000): a referral
#: of an employable adult to any of them is a referral to the Integration Point's advisors.
INTEGRATION_POINT_PARTNERS = frozenset({Partner.INTEGRATION_POINT, Partner.EMPLOYMENT_AGENCY, Partner.JOB_CENTRE})


#: Who answers a referral to which partner on the partner screen: a `referral_partner` account for the
#: partner in its `partner` claim (deploy/seed_users.json); ABRA's coaches, who already sign in, for ABRA
#: (default; the recorder per partner is services.contracts.casework_workflows.PARTNER_PROCESSES).
ABRA_ROLES = frozenset({"abra_coach", "abra_lead"})


def partner_scope(roles: frozenset[str], partner_claim: str | None) -> Partner | None:
    """The partner whose referrals the caller answers on the partner screen (None: none)."""
    if "referral_partner" in roles and partner_claim:
        try:
            return Partner(partner_claim)
        except ValueError:
            return None
    if roles & ABRA_ROLES:
        return Partner.ABRA
    return None


def consent_missing_reason(partner: Partner, purpose: Purpose) -> str:
    return (
        f"Keine dokumentierte Einwilligung für {partner.value} zum Zweck {purpose.value}: "
        "ohne Einwilligung der Person ist keine Vermittlung möglich."
    )


# --- API models ---------------------------------------------------------------------------------------


class _In(BaseModel):
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


def check_review_goals(review: ReviewIn, goal_ids: set[uuid.UUID]) -> None:
    for i, g in enumerate(review.goals):
        try:
            gid = uuid.UUID(str(g.get("goal_id")))
        except ValueError as exc:
            raise Invalid("not a goal id", field=f"goals.{i}.goal_id") from exc
        if gid not in goal_ids:
            raise Invalid("no such goal in this case's plan", field=f"goals.{i}.goal_id")
        if g.get("result") not in ("achieved", "partly", "not_achieved", "dropped"):
            raise Invalid("result must be achieved, partly, not_achieved or dropped", field=f"goals.{i}.result")
