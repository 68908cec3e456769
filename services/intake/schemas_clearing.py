"""HTTP models of the ABRA pre-registration clearing and the registration gate (DOMAIN.md flow 2; 000
"Projekt ABRA"; §17 BMG): the slot calendar, the coach's decisions, the clearing as the coach and the
front desk see it, and the registration of residence."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.contracts.intake_workflows import NEEDS_FOUND
from services.intake.schemas import StrictIn, not_future
from services.kit.inputs import Input


class SlotIn(StrictIn):
    starts_at: AwareDatetime
    capacity: int = Field(default=1, ge=1, le=20)
    coach: str | None = Field(default=None, max_length=200, description="Username of the coach; default: the caller.")


class SlotOut(BaseModel):
    slot_id: uuid.UUID
    starts_at: datetime
    coach: str
    capacity: int
    booked: int


class ClearingInterviewIn(StrictIn):
    """The clearing interview (000 "Projekt ABRA": living situation in the home country, circumstances of
    migration, information about requirements and support; needs found)."""

    living_situation: str = Field(min_length=1, max_length=4000)
    migration_circumstances: str = Field(min_length=1, max_length=4000)
    information_given: str = Field(min_length=1, max_length=4000)
    needs_found: list[str] = Field(default_factory=list, description=f"Subset of {', '.join(NEEDS_FOUND)}.")
    long_term_coaching: bool = Field(default=False, description="Recommend long-term ABRA coaching (opens a casework case, programme ABRA).")
    notes: str | None = Field(default=None, max_length=4000)

    @field_validator("needs_found")
    @classmethod
    def _known_needs(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(NEEDS_FOUND)
        if unknown:
            raise ValueError(f"unknown values {sorted(unknown)}; allowed: {', '.join(NEEDS_FOUND)}")
        return sorted(set(value))


class CloseIn(StrictIn):
    outcome: str = Field(pattern="^(not_appeared|cancelled)$")


class ClearingOut(BaseModel):
    clearing_id: uuid.UUID
    person_id: uuid.UUID
    household_id: uuid.UUID
    status: str
    attempt: int
    appointment_at: datetime | None
    registration_deadline: date
    deadline_missed: bool
    long_term_coaching: bool


class ClearingDetail(ClearingOut):
    """A clearing with the person's name for the coach's appointment list (an audited read)."""

    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    languages: list[str]


class PersonRegistration(BaseModel):
    person_id: uuid.UUID
    given_name: str | None
    family_name: str | None
    allowed: bool
    reason: str = Field(description="For the front desk (German).")
    appointment_at: datetime | None = None
    registration_deadline: date | None = None
    clearing_status: str | None = None
    registered_on: date | None = Field(default=None, description="Registration of residence recorded by the front desk.")
    deadline_missed: bool = Field(default=False, description="The §17 BMG deadline passed without a registration before it.")


class RegistrationStatus(BaseModel):
    household_id: uuid.UUID
    persons: list[PersonRegistration]


class SlotsIn(Input):
    model_config = ConfigDict(extra="forbid")

    slots: list[SlotIn] = Field(min_length=1, max_length=500)


class AttendanceIn(Input):
    model_config = ConfigDict(extra="forbid")

    attended: bool


class RegistrationIn(StrictIn):
    """The front desk registered the person's residence on `registered_on` (Anmeldung, §17 BMG)."""

    registered_on: date

    @field_validator("registered_on")
    @classmethod
    def _registered_not_future(cls, value: date) -> date:
        return not_future(value)  # type: ignore[return-value]


class RegistrationOut(BaseModel):
    person_id: uuid.UUID
    household_id: uuid.UUID
    registered_on: date
    registration_deadline: date | None
    within_deadline: bool
    recorded_by: str
    recorded_at: datetime

