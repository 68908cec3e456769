"""HTTP models of newcomer communication (issue 14): the letter language of a household, the newcomer's
e-mail address for appointment reminders with their consent, and what the front desk sees of them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from pydantic import BaseModel, Field, field_validator, model_validator

from services.intake.domain import LETTER_LANGUAGES
from services.intake.schemas import StrictIn

_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")


class LetterLanguageIn(StrictIn):
    language: str = Field(description=f"One of {', '.join(LETTER_LANGUAGES)}.", examples=["ar"])

    @field_validator("language")
    @classmethod
    def _offered(cls, value: str) -> str:
        if value not in LETTER_LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LETTER_LANGUAGES)}")
        return value


class ReminderContactIn(StrictIn):
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


class ContactOut(BaseModel):
    person_id: uuid.UUID
    email: str | None
    reminders_by_email: bool
    consent_at: datetime | None = None


class CommunicationOut(BaseModel):
    household_id: uuid.UUID
    language: str
    abra_place: str
    persons: list[ContactOut]
