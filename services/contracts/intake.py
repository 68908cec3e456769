"""Events the intake service publishes: the intake interview (flow 1) and the ABRA pre-registration
clearing (flow 2).

Persons appear only by their pseudonymous `person_id`, with coarse attributes (age group, sex,
residence status, routes, needs). Nationality is never linked to a person id: the monthly statistics
get it from `ArrivalRecorded`, a statistical record with its own random id that links to nobody.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.contracts.envelope import Event
from services.contracts.vocab import AgeGroup, Need, Partner, Prospect, Purpose, ResidenceStatus, Route, Sex


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConsentGiven(_Part):
    """A documented consent of one person to share data with `partner` for `purpose`."""

    partner: Partner
    purpose: Purpose
    given_on: date


class PersonProfile(_Part):
    """What downstream services may know about a person of an intake: pseudonymous and coarse."""

    person_id: uuid.UUID
    adult: bool = Field(description="18 or older on the intake date.")
    age_group: AgeGroup
    sex: Sex
    residence_status: ResidenceStatus
    prospect: Prospect
    employable: bool = Field(description="Age 15-64 and able to work.")
    needs: list[Need] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    german_level: str = Field(description="none, A1, A2, B1, B2, C1 or C2.")
    languages: list[str] = Field(default_factory=list, description="ISO 639-1 codes of the languages the person speaks (for matching a caseworker).")
    consents: list[ConsentGiven] = Field(default_factory=list)


class IntakeCompleted(Event):
    """The front desk completed the intake interview (Erstgespräch) of a household (000 §3.1)."""

    producer = "intake"

    intake_id: uuid.UUID
    household_id: uuid.UUID
    district: str = Field(min_length=1, max_length=64, description="Sozialraum of the household's address (coarse).")
    move_in_date: date
    persons: list[PersonProfile] = Field(min_length=1)

    @property
    def person_ids(self) -> list[uuid.UUID]:
        return [p.person_id for p in self.persons]


class IntakeCorrected(Event):
    """A completed intake was corrected; `persons` is the full corrected picture (not a diff).
    Persons no longer in the household are listed in `removed_person_ids`."""

    producer = "intake"

    intake_id: uuid.UUID
    household_id: uuid.UUID
    correction_no: int = Field(ge=1)
    district: str = Field(min_length=1, max_length=64)
    move_in_date: date
    persons: list[PersonProfile] = Field(min_length=1)
    removed_person_ids: list[uuid.UUID] = Field(default_factory=list)
    changed_fields: list[str] = Field(default_factory=list, description="Names of the corrected fields (never their values).")


class PersonRouted(Event):
    """A correction changed a person's derived routes, needs or prospect (or the household's district). At
    intake the derived facts come with IntakeCompleted's `persons`, so this event follows corrections only."""

    producer = "intake"

    intake_id: uuid.UUID
    household_id: uuid.UUID
    person_id: uuid.UUID
    district: str
    routes: list[Route]
    needs: list[Need]
    prospect: Prospect
    employable: bool
    age_group: AgeGroup
    residence_status: ResidenceStatus


class ArrivalRecorded(Event):
    """One arrival for the monthly statistics (002 §4.1). Deliberately unlinkable: `record_id` is
    random and `correlation_id` equals it; no person, household or intake id."""

    producer = "intake"

    record_id: uuid.UUID
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="Month of moving in, YYYY-MM.")
    district: str
    nationality: str = Field(
        pattern=r"^([A-Z]{2}|XXA|XXX)$",
        description="ISO 3166-1 alpha-2 (XK Kosovo); XXA stateless, XXX unclear (ICAO Doc 9303, see services.contracts.codes).",
    )
    residence_status: ResidenceStatus
    sex: Sex
    age_group: AgeGroup


class ArrivalRetracted(Event):
    """A statistical arrival record is void (the intake was corrected; a new record replaces it)."""

    producer = "intake"

    record_id: uuid.UUID


# --- ABRA pre-registration clearing (flow 2) -------------------------------------------------------


class ClearingStarted(Event):
    """A pre-registration clearing began for a person routed to ABRA; registration is blocked until it completes."""

    producer = "intake"

    clearing_id: uuid.UUID
    intake_id: uuid.UUID
    household_id: uuid.UUID
    person_id: uuid.UUID
    district: str
    registration_deadline: date = Field(description="Move-in date + 14 days (§17 BMG).")


class ClearingAppointmentBooked(Event):
    producer = "intake"

    clearing_id: uuid.UUID
    person_id: uuid.UUID
    slot_id: uuid.UUID
    appointment_at: AwareDatetime
    attempt: int = Field(ge=1, description="1 for the first booking, 2 and 3 for rebookings after a no-show.")


class ClearingNoShow(Event):
    producer = "intake"

    clearing_id: uuid.UUID
    person_id: uuid.UUID
    attempt: int = Field(ge=1)


class ClearingCompleted(Event):
    """The clearing interview was held; registration of residence may proceed."""

    producer = "intake"

    clearing_id: uuid.UUID
    intake_id: uuid.UUID
    household_id: uuid.UUID
    person_id: uuid.UUID
    district: str
    completed_at: AwareDatetime
    days_after_move_in: int
    needs_found: list[str] = Field(default_factory=list, description="Subset of: work, housing, health_insurance, schooling.")
    long_term_coaching: bool = Field(description="The coach recommends long-term ABRA coaching (opens a casework case, programme ABRA).")


class RegistrationDeadlineMissed(Event):
    """Day 14 after moving in passed without a completed clearing; the clearing still goes on."""

    producer = "intake"

    clearing_id: uuid.UUID
    person_id: uuid.UUID
    deadline: date


class ClearingClosed(Event):
    producer = "intake"

    clearing_id: uuid.UUID
    intake_id: uuid.UUID
    household_id: uuid.UUID
    person_id: uuid.UUID
    district: str
    outcome: str = Field(description="cleared, not_appeared or cancelled (e.g. a correction removed the ABRA route).")
    long_term_coaching: bool = False
    closed_at: datetime


class PersonRegistered(Event):
    """The front desk registered a person's residence (Anmeldung, §17 BMG), on any route; for a person
    routed to ABRA only after the completed clearing. Pseudonymous: ids, the date and whether it was
    within the two-week deadline."""

    producer = "intake"

    person_id: uuid.UUID
    household_id: uuid.UUID
    registered_on: date
    within_deadline: bool = Field(description="Registered before the deadline day (move-in + 14 days).")
    days_after_move_in: int | None = Field(default=None, ge=0)


class PersonErased(Event):
    """A person's personal data was erased (GDPR Art. 17, on request or after the retention period):
    intake crypto-shredded it. Every service that holds free texts about the person removes them
    (casework: notes, goals, referral notes; funding: hardship purpose and justification). Pseudonymous:
    the person id and why, nothing else."""

    producer = "intake"

    person_id: uuid.UUID
    ground: str = Field(pattern="^(request|retention)$", description="request (Art. 17(1), on request) or retention (the retention period elapsed).")
