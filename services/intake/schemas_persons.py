"""HTTP models of finding a known person (issue 14: the search by name and birth date, the duplicate check
before an intake) and of the Integration Point's handover of a referred person's details (DOMAIN.md flow 4)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.kit.inputs import Input


class PersonHit(BaseModel):
    person_id: uuid.UUID
    household_id: uuid.UUID
    intake_id: uuid.UUID
    district: str
    given_name: str
    family_name: str
    date_of_birth: date
    score: int = Field(description="Higher is closer: name parts spelt the same 2, sounding the same 1, same birth date 3.")
    parts_matched: int = Field(description="How many of the query's name parts this person matches.")
    birth_date_matches: bool


class SearchResult(BaseModel):
    hits: list[PersonHit]
    more: bool = Field(description="More candidates than `limit` matched; narrow the search (e.g. add the birth date).")


class NameAndBirth(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date


class DuplicateCheckIn(Input):
    model_config = ConfigDict(extra="forbid")

    persons: list[NameAndBirth] = Field(min_length=1, max_length=30)


class KnownPerson(BaseModel):
    person_id: uuid.UUID
    given_name: str
    family_name: str
    date_of_birth: date
    matches: list[int] = Field(description="Positions (from 0) of the checked persons this known person is likely to be.")


class KnownHousehold(BaseModel):
    household_id: uuid.UUID
    intake_id: uuid.UUID
    district: str
    created_at: datetime
    persons: list[KnownPerson]


class DuplicateCheckOut(BaseModel):
    households: list[KnownHousehold] = Field(description="Households already known with a likely match, most matches first; empty: none.")


class HandoverLanguage(BaseModel):
    code: str
    level: str | None = None


class PersonHandover(BaseModel):
    """The person's details for the advisor; with `consent` false only the ids."""

    referral_id: uuid.UUID
    person_id: uuid.UUID | None
    consent: bool
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    address: dict | None = None
    languages: list[HandoverLanguage] | None = None
    german_level: str | None = None
