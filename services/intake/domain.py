"""The intake interview's data and its rules (DOMAIN.md flow 1; seed 000 §3.1).

Walking-skeleton scope: a household with its persons; the full interview (languages, schooling,
consents, routes) follows in the intake issue.
"""

from __future__ import annotations

import enum
import re
import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ResidenceStatus(enum.StrEnum):
    """Residence status values of DOMAIN.md flow 1."""

    EU_FREE_MOVEMENT = "eu_free_movement"
    ASYLUM_SEEKER = "asylum_seeker"
    RECOGNISED_REFUGEE = "recognised_refugee"
    TOLERATED = "tolerated"
    ENFORCEABLY_OBLIGED_TO_LEAVE = "enforceably_obliged_to_leave"
    THIRD_COUNTRY_WITH_TITLE = "third_country_with_title"


_NAME = re.compile(r"^[^\x00-\x1f<>{}]+$")


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    nationality: str = Field(description="ISO 3166-1 alpha-2 code, e.g. BG, RO, SY, DE.")
    residence_status: ResidenceStatus
    move_in_date: date

    @field_validator("given_name", "family_name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("contains characters that are not allowed in a name")
        return value

    @field_validator("nationality")
    @classmethod
    def _iso_code(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("must be an ISO 3166-1 alpha-2 code in capitals, e.g. BG")
        return value

    @field_validator("date_of_birth", "move_in_date")
    @classmethod
    def _not_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("must not be in the future")
        return value

    @model_validator(mode="after")
    def _move_in_after_birth(self) -> PersonIn:
        if self.move_in_date < self.date_of_birth:
            raise ValueError("move_in_date must not be before date_of_birth")
        return self


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    district: str = Field(min_length=1, max_length=64, description="Sozialraum of the address.")
    persons: list[PersonIn] = Field(min_length=1, max_length=30)


class IntakeIn(BaseModel):
    """A completed intake interview as the front desk submits it."""

    model_config = ConfigDict(extra="forbid")

    household: HouseholdIn


class IntakeCreated(BaseModel):
    intake_id: uuid.UUID
    household_id: uuid.UUID
    person_ids: list[uuid.UUID]


class PersonOut(BaseModel):
    person_id: uuid.UUID
    given_name: str
    family_name: str
    date_of_birth: date
    nationality: str
    residence_status: ResidenceStatus
    move_in_date: date


class IntakeOut(BaseModel):
    intake_id: uuid.UUID
    household_id: uuid.UUID
    district: str
    persons: list[PersonOut]
