"""The intake interview's data and its rules (DOMAIN.md flow 1; seed 000 §3.1, 001 "Adressaten",
"Zielgruppe"). Validation here answers 422 naming the field; the routing rules are in `routing.py`."""

from __future__ import annotations

import enum
import re
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.contracts import codes
from services.contracts.vocab import AgeGroup, Need, Partner, Prospect, Purpose, ResidenceStatus, Route, Sex
from services.contracts.workdays import BERLIN, is_working_day

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


def _not_future(value: date | None) -> date | None:
    if value is not None and value > date.today():
        raise ValueError("must not be in the future")
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LanguageSkill(_In):
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


class Address(_In):
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


class Consent(_In):
    """Consent to share data with `partner` for `purpose` (purpose-bound consent, SGB X §67b)."""

    partner: Partner
    purpose: Purpose
    given_on: date

    @field_validator("given_on")
    @classmethod
    def _given_not_future(cls, value: date) -> date:
        return _not_future(value)  # type: ignore[return-value]


class PersonIn(_In):
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
    able_to_work: bool | None = Field(default=None, description="Able to work at least 3 hours a day (SGB II §8); asked only for persons aged 15-64, required for them (check_household).")
    health_insurance: HealthInsurance
    residence_status: ResidenceStatus
    status_since: date | None = Field(default=None, description="Since when the residence status holds (required for tolerated).")
    move_in_date: date
    wants_registration: bool | None = Field(default=None, description="Registers residence here (ABRA clearing applies only then); required, no default (check_household).")
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
        return _not_future(value)

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


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class HouseholdIn(_In):
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


UNACCOMPANIED_MINORS = "a household needs at least one adult (18 or older); minors without an adult are unaccompanied minors: refer them to the youth welfare office (referred_to_youth_welfare, §42a SGB VIII)"


def check_household(household: HouseholdIn, today: date) -> None:
    """Rules across persons; raise Invalid naming the fields (422):

    - at least one adult per household (000 §3.1: the intake interview is held with the adults
      responsible); a household of minors only is unaccompanied minors, whom the youth welfare office
      takes into care (vorläufige Inobhutnahme unbegleiteter ausländischer Minderjähriger, §42a SGB
      VIII): such an intake is valid only as referred there (`referred_to_youth_welfare`), and only
      for minors only;
    - a child is younger than the adults responsible for it (head, partner);
    - what follows from the birth date (default, DOMAIN.md flow 1): literacy is asked from age 6
      (younger children do not read yet), the ability to work (SGB II §8) for ages 15-64 only (the
      span of employability, §7 SGB II); registering residence here has no default (it decides the
      ABRA clearing, 000 "Kommunales Voranmeldeverfahren"), so it must be answered."""
    from services.kit.errors import Invalid

    adults = [p for p in household.persons if age_on(p.date_of_birth, today) >= 18]
    if household.referred_to_youth_welfare and adults:
        raise Invalid("referred_to_youth_welfare is only for a household of minors only (unaccompanied minors)", field="household.referred_to_youth_welfare")
    if not adults and not household.referred_to_youth_welfare:
        raise Invalid(UNACCOMPANIED_MINORS, field="household.persons")
    responsible = [p for p in household.persons if p.relation in (Relation.HEAD, Relation.PARTNER)]
    for i, p in enumerate(household.persons):
        if p.relation == Relation.CHILD and any(p.date_of_birth <= r.date_of_birth for r in responsible):
            raise Invalid("a child must be younger than the adults responsible (head, partner)", field=f"household.persons.{i}.date_of_birth")
    errors = person_answers_missing(household.persons, today)
    if errors:
        raise Invalid(errors[0][1], field=errors[0][0], errors=errors)


def person_answers_missing(persons: list[PersonIn], today: date) -> list[tuple[str, str]]:
    """The questions each person must have answered, by age (see check_household): (field, message)."""
    out: list[tuple[str, str]] = []
    for i, p in enumerate(persons):
        age = age_on(p.date_of_birth, today)
        if age >= 6 and p.literate is None:
            out.append((f"household.persons.{i}.literate", "literate is required from age 6"))
        if 15 <= age <= 64 and p.able_to_work is None:
            out.append((f"household.persons.{i}.able_to_work", "able_to_work is required for persons aged 15 to 64"))
        if p.wants_registration is None:
            out.append((f"household.persons.{i}.wants_registration", "wants_registration is required"))
    return out


#: error types a draft may have: what is not there yet (validated again on completion)
_INCOMPLETE = frozenset({"missing"})
#: what a person needs to be added to a draft: who it is (DOMAIN.md flow 1, default)
DRAFT_PERSON_REQUIRED = ("given_name", "family_name", "date_of_birth")


def draft_problems(content: dict) -> list[tuple[list[Any], str, str]]:
    """What is wrong in an unfinished intake (a draft): every value that is present and invalid (a
    postcode "59A", a district not of the city, "zwölf" years of schooling, an unknown country), and a
    person without a name or birth date. What is merely missing is allowed until completion (an empty
    household, an address without a street), as are rules across fields and persons. Returns
    (loc, msg, type) in FastAPI's shape, `loc` starting at "content"."""
    from pydantic import ValidationError

    out: list[tuple[list[Any], str, str]] = []
    household = content.get("household") if isinstance(content, dict) else None
    if household is None:
        return out
    try:
        IntakeIn.model_validate(content)
    except ValidationError as exc:
        for e in exc.errors(include_input=False, include_url=False):
            loc = list(e["loc"])
            if e["type"] in _INCOMPLETE or (loc == ["household", "persons"] and e["type"] == "too_short"):
                continue
            if e["type"] == "value_error" and len(loc) <= 3 and loc[:2] == ["household", "persons"]:
                continue  # a rule across a person's fields (model validator): checked on completion
            out.append((["content", *loc], e["msg"], e["type"]))
    persons = household.get("persons") if isinstance(household, dict) else None
    for i, p in enumerate(persons if isinstance(persons, list) else []):
        for name in DRAFT_PERSON_REQUIRED:
            if isinstance(p, dict) and p.get(name) in (None, ""):
                out.append((["content", "household", "persons", i, name], "Field required", "missing"))
    return out


class IntakeIn(_In):
    """A completed intake interview as the front desk submits it."""

    household: HouseholdIn


class DraftIn(_In):
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


# ---- newcomer communication: letter language and reminders by e-mail (issue 14) --------------------

#: letter languages offered to newcomers (services/kit/i18n.py LANGUAGES; German is the source text)
LETTER_LANGUAGES = ("de", "ro", "bg", "ar", "fa", "uk", "en")
DEFAULT_LETTER_LANGUAGE = "de"
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")


class LetterLanguageIn(_In):
    language: str = Field(description=f"One of {', '.join(LETTER_LANGUAGES)}.", examples=["ar"])

    @field_validator("language")
    @classmethod
    def _offered(cls, value: str) -> str:
        if value not in LETTER_LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LETTER_LANGUAGES)}")
        return value


class ReminderContactIn(_In):
    """The newcomer's e-mail address for appointment reminders and their consent to them (GDPR Art. 6(1)(a):
    the address is kept only while the consent stands; withdrawing it deletes the address)."""

    email: str | None = Field(default=None, max_length=254, examples=["ana.popescu@example.org"])
    consent: bool = Field(description="Consent to reminders of appointments by e-mail.")

    @field_validator("email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None and not _EMAIL.match(value):
            raise ValueError("not a valid e-mail address")
        return value

    @model_validator(mode="after")
    def _consent_and_address(self) -> ReminderContactIn:
        if self.consent and self.email is None:
            raise ValueError("email is required for reminders by e-mail")
        if not self.consent and self.email is not None:
            raise ValueError("email is kept only with consent to reminders by e-mail")
        return self


def reminder_due_at(appointment_at: datetime, hour: int) -> datetime:
    """When the reminder of a clearing appointment is sent: at `hour` o'clock (Berlin) on the working
    day (NRW) before the appointment's day (issue 14; default, settings INTAKE_REMINDER_HOUR)."""
    day = appointment_at.astimezone(BERLIN).date() - timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


def reminder_to_send(*, consent: bool, has_address: bool, clearing_status: str, appointment_at: datetime | None,
                     already_sent: bool, now: datetime, hour: int) -> bool:
    """A reminder goes out once per appointment, only with consent and an address, for a clearing still
    pending, from the due time until the appointment begins (late, e.g. booked the day before, is still
    useful; after the appointment it is not). Issue 14."""
    if not (consent and has_address) or already_sent or clearing_status != "pending" or appointment_at is None:
        return False
    return reminder_due_at(appointment_at, hour) <= now < appointment_at

# ---- registration of residence (§17 BMG) and the ABRA clearing's dates ------------------------------


def registration_deadline(move_in: date, days: int) -> date:
    """Registration of residence is due within two weeks of moving in (§17 Abs. 1 BMG; DOMAIN.md flow 2;
    default, setting INTAKE_REGISTRATION_DEADLINE_DAYS = 14)."""
    return move_in + timedelta(days=days)


def clearing_reminder_day(move_in: date, days: int) -> date:
    """The ABRA team is reminded on day 10 after moving in if not cleared (DOMAIN.md flow 2; default,
    setting INTAKE_CLEARING_REMINDER_DAYS)."""
    return move_in + timedelta(days=days)


def registration_missed(deadline: date, registered_on: date | None, today: date) -> bool:
    """The registration deadline counts as missed from the start of the deadline day (DOMAIN.md flow 2:
    "at day 14 the registration deadline is marked missed"; the clearing workflow marks it at 00:00 of
    move-in + 14 days), unless the person was registered before it: a person registered before day 14
    is never marked missed, one registered later stays marked (the registration was late)."""
    if registered_on is not None and registered_on < deadline:
        return False
    return today >= deadline


def may_register(clearing_status: str | None) -> bool:
    """The Bürgeramt registers a newcomer from Bulgaria or Romania only after the ABRA clearing (000
    "Projekt ABRA", "Kommunales Voranmeldeverfahren"): no clearing, a completed (cleared) or a cancelled
    one (the route was corrected away) lets registration proceed; a pending or not-appeared one blocks it."""
    return clearing_status in (None, "cleared", "cancelled")


class RegistrationIn(_In):
    """The front desk registered the person's residence on `registered_on` (Anmeldung, §17 BMG)."""

    registered_on: date

    @field_validator("registered_on")
    @classmethod
    def _registered_not_future(cls, value: date) -> date:
        return _not_future(value)  # type: ignore[return-value]


class RegistrationOut(BaseModel):
    person_id: uuid.UUID
    household_id: uuid.UUID
    registered_on: date
    registration_deadline: date | None
    within_deadline: bool
    recorded_by: str
    recorded_at: datetime


def check_registration(registered_on: date, move_in: date | None, clearing_status: str | None, cleared_on: date | None) -> None:
    """Raises Invalid (422, field registered_on) or Conflict (409) unless a registration on
    `registered_on` (not in the future: RegistrationIn) can be recorded: not before moving in (§17 BMG:
    registration follows moving in), and for a clearing person only once the clearing completed, on or
    after its day (`may_register`; 000 "Projekt ABRA")."""
    from services.kit.errors import Conflict, Invalid

    if move_in is not None and registered_on < move_in:
        raise Invalid(f"must not be before the move-in date {move_in.isoformat()}", field="registered_on")
    if not may_register(clearing_status):
        raise Conflict("registration waits for the ABRA clearing (not completed)", field="registered_on")
    if cleared_on is not None and registered_on < cleared_on:
        raise Invalid(f"must not be before the ABRA clearing completed on {cleared_on.isoformat()}", field="registered_on")
