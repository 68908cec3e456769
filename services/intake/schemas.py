"""Intake's HTTP request and response models (DOMAIN.md flow 1; seed 000 §3.1): the intake interview as
the front desk submits it, drafts, corrections and what intake answers. Field validation here answers
422 naming the field; rules across fields and persons are `domain.check_household`."""

from __future__ import annotations

import enum
import re
import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.contracts import codes
from services.contracts.vocab import AgeGroup, Need, Partner, Prospect, Purpose, ResidenceStatus, Route, Sex
from services.contracts.workdays import city_today
from services.kit.errors import Invalid
from services.kit.inputs import Input

__all__ = ["ResidenceStatus"]  # the vocabulary's enum (services.contracts.vocab) is intake's own


class GermanLevel(enum.StrEnum):
    """CEFR levels of German (none, A1..C2)."""

    NONE = "none"
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


class Certificate(enum.StrEnum):
    """Highest school certificate, coarse and country-independent."""

    NONE = "none"
    PRIMARY = "primary"
    LOWER_SECONDARY = "lower_secondary"
    SECONDARY = "secondary"
    UNIVERSITY_ENTRANCE = "university_entrance"
    UNIVERSITY_DEGREE = "university_degree"


class HealthInsurance(enum.StrEnum):
    STATUTORY = "statutory"
    PRIVATE = "private"
    EU_CARD = "eu_card"  # European Health Insurance Card of another member state
    ASYLUM_SEEKERS_BENEFITS = "asylum_seekers_benefits"  # AsylbLG §4/§6
    NONE = "none"
    UNKNOWN = "unknown"


class Relation(enum.StrEnum):
    """A person's place in the household: `head` and `partner` are the adults responsible."""

    HEAD = "head"
    PARTNER = "partner"
    CHILD = "child"
    RELATIVE = "relative"
    OTHER = "other"


_NAME = re.compile(r"^[^\x00-\x1f<>{}]+$")
_TEXT = re.compile(r"^[^\x00-\x08\x0b-\x1f<>{}]*$")


def not_future(value: date | None) -> date | None:
    """A date of the interview (birth, moving in, status, consent, registration) is not in the future (DOMAIN.md flow 1)."""
    if value is not None and value > city_today():
        raise ValueError("must not be in the future")
    return value


class StrictIn(Input):
    """A request body: unknown fields are refused, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LanguageSkill(StrictIn):
    code: str = Field(description="ISO 639-1 code, lower case, e.g. ar, bg, ro.")
    level: GermanLevel | None = Field(default=None, description="CEFR level if known.")

    @field_validator("code")
    @classmethod
    def _iso_639(cls, value: str) -> str:
        """ISO 639-1 via pycountry (services.contracts.codes): a well-formed but unknown code is refused too."""
        if not re.fullmatch(r"[a-z]{2}", value):
            raise ValueError("must be an ISO 639-1 code in lower case, e.g. ar")
        if not codes.is_language(value):
            raise ValueError("is not an ISO 639-1 language code (unknown language)")
        return value


class Address(StrictIn):
    street: str = Field(min_length=1, max_length=100)
    house_number: str = Field(min_length=1, max_length=10)
    postcode: str = Field(description="German postcode, 5 digits.")
    city: str = Field(default="Hamm", min_length=1, max_length=60)

    @field_validator("street", "house_number", "city")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("contains characters that are not allowed")
        return value

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str) -> str:
        if not re.fullmatch(r"\d{5}", value):
            raise ValueError("must be 5 digits")
        return value


class Consent(StrictIn):
    """Consent to share data with `partner` for `purpose` (purpose-bound consent, SGB X §67b)."""

    partner: Partner
    purpose: Purpose
    given_on: date

    @field_validator("given_on")
    @classmethod
    def _given_not_future(cls, value: date) -> date:
        return not_future(value)  # type: ignore[return-value]


class PersonIn(StrictIn):
    """One person of the household, every field DOMAIN.md flow 1 lists."""

    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    sex: Sex
    relation: Relation = Field(description="head/partner are the adults responsible; children must be younger than them.")
    nationality: str = Field(description="ISO 3166-1 alpha-2 code, e.g. BG, RO, SY, DE; XK Kosovo; XXA stateless, XXX unclear (ICAO Doc 9303).")
    languages: list[LanguageSkill] = Field(default_factory=list, max_length=10)
    german_level: GermanLevel
    literate: bool | None = Field(default=None, description="Reads and writes; not asked for children under 6, required from 6 (check_household).")
    schooling_years: int = Field(ge=0, le=25)
    highest_certificate: Certificate
    vocational_qualification: str | None = Field(default=None, max_length=200)
    work_experience_years: int = Field(ge=0, le=60)
    able_to_work: bool | None = Field(
        default=None, description="Able to work at least 3 hours a day (SGB II §8); asked only for persons aged 15-64, required for them (check_household)."
    )
    health_insurance: HealthInsurance
    residence_status: ResidenceStatus
    status_since: date | None = Field(default=None, description="Since when the residence status holds (required for tolerated).")
    move_in_date: date
    wants_registration: bool | None = Field(
        default=None, description="Registers residence here (ABRA clearing applies only then); required, no default (check_household)."
    )
    consents: list[Consent] = Field(default_factory=list, max_length=50)

    @field_validator("given_name", "family_name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("contains characters that are not allowed in a name")
        return value

    @field_validator("vocational_qualification")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and not _TEXT.match(value):
            raise ValueError("contains characters that are not allowed")
        return value

    @field_validator("nationality")
    @classmethod
    def _iso_code(cls, value: str) -> str:
        """ISO 3166-1 alpha-2 via pycountry, plus XK (Kosovo), XXA (stateless) and XXX (unclear), the
        ICAO Doc 9303 codes (services.contracts.codes explains the scheme)."""
        if not re.fullmatch(r"[A-Z]{2}|[A-Z]{3}", value):
            raise ValueError("must be an ISO 3166-1 alpha-2 code in capitals, e.g. BG (XXA stateless, XXX unclear)")
        if not codes.is_nationality(value):
            raise ValueError("is not an ISO 3166-1 alpha-2 country code (unknown country; XXA stateless, XXX unclear)")
        return value

    @field_validator("date_of_birth", "move_in_date", "status_since")
    @classmethod
    def _dates_not_future(cls, value: date | None) -> date | None:
        return not_future(value)

    @model_validator(mode="after")
    def _consistent(self) -> PersonIn:
        if self.move_in_date < self.date_of_birth:
            raise ValueError("move_in_date must not be before date_of_birth")
        if self.status_since is not None and self.status_since < self.date_of_birth:
            raise ValueError("status_since must not be before date_of_birth")
        if self.residence_status == ResidenceStatus.TOLERATED and self.status_since is None:
            raise ValueError("status_since is required for residence_status tolerated")
        if self.nationality == "DE" and self.residence_status != ResidenceStatus.GERMAN:
            raise ValueError("residence_status must be german for nationality DE")
        if self.residence_status == ResidenceStatus.GERMAN and self.nationality != "DE":
            raise ValueError("residence_status german requires nationality DE")
        for consent in self.consents:
            if consent.given_on < self.date_of_birth:
                raise ValueError("consents: given_on must not be before date_of_birth")
        return self



class HouseholdIn(StrictIn):
    district: str = Field(min_length=1, max_length=64, description="Sozialraum of the address, one of services.contracts.codes.DISTRICTS.")
    address: Address | None = None
    persons: list[PersonIn] = Field(min_length=1, max_length=30)
    referred_to_youth_welfare: bool = Field(
        default=False,
        description="Minors without an adult (unaccompanied foreign minors): referred to the youth welfare office (Jugendamt), which takes "
        "them into care (vorläufige Inobhutnahme, §42a SGB VIII). Allowed only for a household of minors only; each minor's route is then "
        "youth_welfare instead of casework, ABRA or information.",
    )

    @field_validator("district")
    @classmethod
    def _district(cls, value: str) -> str:
        """One of the city's districts (services.contracts.codes.DISTRICTS, seed 000); casework assigns by it."""
        if not _NAME.match(value):
            raise ValueError("contains characters that are not allowed")
        if not codes.is_district(value):
            raise ValueError(f"is not a district (Sozialraum) of the city; one of: {', '.join(codes.DISTRICTS)}")
        return value



class IntakeIn(StrictIn):
    """A completed intake interview as the front desk submits it."""

    household: HouseholdIn


class DraftIn(StrictIn):
    """An unfinished intake: any JSON the interview form holds so far (validated on completion)."""

    content: dict = Field(description="The form's state; validated as IntakeIn when the draft is completed.")


class DraftOut(BaseModel):
    draft_id: uuid.UUID
    content: dict
    updated_at: datetime
    completed_intake_id: uuid.UUID | None = None


class DraftSummary(BaseModel):
    """One line of the front desk's list of intake drafts: who started it, when it was last saved and
    what the counter needs to recognise the household (names, district, number of persons).

    `readable` is false when the draft's data key was erased (crypto-shredding, GDPR Art. 17): the
    line is still listed, without names. A completed draft's content was dropped on completion; its
    district and person count come from the household the completion stored (names: read the intake)."""

    draft_id: uuid.UUID
    created_by: str
    created_at: datetime
    updated_at: datetime
    completed_intake_id: uuid.UUID | None = None
    household_id: uuid.UUID | None = None
    completed_by: str | None = Field(default=None, description="Who completed it; a colleague may complete a draft another clerk started.")
    readable: bool = True
    person_count: int | None = None
    district: str | None = None
    names: list[str] = Field(default_factory=list)


class DraftList(BaseModel):
    drafts: list[DraftSummary]
    total: int = Field(description="Drafts matching the filters, ignoring limit and offset.")


class IntakeCreated(BaseModel):
    intake_id: uuid.UUID
    household_id: uuid.UUID
    person_ids: list[uuid.UUID]


class Derived(BaseModel):
    """What intake derives for a person (routing.py)."""

    adult: bool
    age_group: AgeGroup
    prospect: Prospect
    employable: bool
    needs: list[Need]
    routes: list[Route]


class PersonOut(PersonIn):
    model_config = ConfigDict(extra="ignore")

    person_id: uuid.UUID
    derived: Derived


class ErasedPersonOut(BaseModel):
    person_id: uuid.UUID
    erased: bool = True


class IntakeOut(BaseModel):
    intake_id: uuid.UUID
    household_id: uuid.UUID
    district: str
    referred_to_youth_welfare: bool = Field(default=False, description="Unaccompanied minors referred to the youth welfare office (§42a SGB VIII).")
    correction_no: int
    address: Address | None
    persons: list[PersonOut | ErasedPersonOut]


class PersonCorrection(PersonIn):
    person_id: uuid.UUID | None = Field(default=None, description="The stored person this entry corrects; omit for a person added to the household.")


class HouseholdCorrection(HouseholdIn):
    persons: list[PersonCorrection] = Field(min_length=1, max_length=30)  # type: ignore[assignment]


class CorrectionIn(Input):
    model_config = ConfigDict(extra="forbid")

    household: HouseholdCorrection


def require_time_zone(**query: datetime | None) -> None:
    """A timestamp in the query must say its time zone; a naive one is 422 at ["query", name]."""
    for name, value in query.items():
        if value is not None and value.tzinfo is None:
            raise Invalid("give a time zone (e.g. +01:00 or Z)", field=name, location="query")
