"""Intake's appointment reminders (issue 14), pure parts: when a reminder is due (the working day before
the clearing appointment, NRW holidays), that it goes out only with consent and an address, once, before
the appointment; the address with its consent at the API; the e-mail in the household's language."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.contracts.workdays import BERLIN
from services.intake.communication import reminder_message
from services.intake.domain import reminder_due_at, reminder_to_send
from services.intake.schemas_communication import LetterLanguageIn, ReminderContactIn

HOUR = 9


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


class TestWhenTheReminderIsDue:
    def test_on_the_working_day_before_at_nine(self) -> None:
        assert reminder_due_at(berlin(2026, 12, 9, 11, 0), HOUR) == berlin(2026, 12, 8, 9, 0)  # Wednesday -> Tuesday

    def test_a_monday_appointment_is_reminded_on_friday(self) -> None:
        assert reminder_due_at(berlin(2026, 12, 7, 9, 0), HOUR) == berlin(2026, 12, 4, 9, 0)

    def test_holidays_are_skipped(self) -> None:
        # Tuesday 29.12.2026; 25 and 26 December are holidays in NRW, 28th is a Monday
        assert reminder_due_at(berlin(2026, 12, 29, 9, 0), HOUR) == berlin(2026, 12, 28, 9, 0)
        # Monday 28.12.2026: Sunday 27, Saturday 26 (holiday), Friday 25 (holiday) -> Thursday 24
        assert reminder_due_at(berlin(2026, 12, 28, 9, 0), HOUR) == berlin(2026, 12, 24, 9, 0)

    def test_the_day_is_the_appointments_day_in_hamm(self) -> None:
        # 23:30 UTC on Tuesday is Wednesday 00:30 in Berlin
        assert reminder_due_at(datetime(2026, 12, 8, 23, 30, tzinfo=UTC), HOUR) == berlin(2026, 12, 8, 9, 0)


class TestWhetherToSend:
    APPOINTMENT = berlin(2026, 12, 9, 11, 0)
    DUE = berlin(2026, 12, 8, 9, 0)

    def send(self, **change: object) -> bool:
        args = dict(consent=True, has_address=True, clearing_status="pending", appointment_at=self.APPOINTMENT,
                    already_sent=False, now=self.DUE + timedelta(minutes=5), hour=HOUR)
        return reminder_to_send(**{**args, **change})  # type: ignore[arg-type]

    def test_with_consent_and_an_address_when_due(self) -> None:
        assert self.send() is True
        assert self.send(now=self.APPOINTMENT - timedelta(minutes=1)) is True  # late is still useful

    @pytest.mark.parametrize("change", [
        {"consent": False}, {"has_address": False}, {"already_sent": True}, {"clearing_status": "cleared"},
        {"clearing_status": "not_appeared"}, {"appointment_at": None},
    ], ids=["no consent", "no address", "sent before", "cleared", "not appeared", "no appointment"])
    def test_never_otherwise(self, change: dict[str, object]) -> None:
        assert self.send(**change) is False

    def test_not_before_it_is_due_nor_after_the_appointment_began(self) -> None:
        assert self.send(now=self.DUE - timedelta(seconds=1)) is False
        assert self.send(now=self.APPOINTMENT) is False


class TestTheContactAtTheApi:
    def test_an_address_needs_consent_and_consent_an_address(self) -> None:
        assert ReminderContactIn(email=" ana@example.org ", consent=True).email == "ana@example.org"
        assert ReminderContactIn(email="", consent=False).email is None
        with pytest.raises(ValidationError, match="email is required"):
            ReminderContactIn(email=None, consent=True)
        with pytest.raises(ValidationError, match="only with consent"):
            ReminderContactIn(email="ana@example.org", consent=False)

    @pytest.mark.parametrize("bad", ["ana", "ana@", "@example.org", "ana@example", "a na@example.org", "<x>@example.org", "ana@exa_mple.org"])
    def test_a_malformed_address_is_refused(self, bad: str) -> None:
        with pytest.raises(ValidationError, match="not a valid e-mail address"):
            ReminderContactIn(email=bad, consent=True)

    def test_only_offered_languages(self) -> None:
        assert LetterLanguageIn(language="fa").language == "fa"
        with pytest.raises(ValidationError, match="language must be one of"):
            LetterLanguageIn(language="tr")


class TestTheEmail:
    AT = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    CLEARING = uuid.UUID("6f1f8a52-3e1d-4c1b-9e0f-2b7c1a9d0e11")

    def message(self, language: str):  # noqa: ANN201
        return reminder_message(language=language, appointment_at=self.AT, place="Beratungsstelle ABRA, Kommunales Jobcenter Hamm",
                                to="ana@example.org", sender="buergeramt@ankommen.example", clearing_id=self.CLEARING)

    def test_in_arabic_right_to_left_with_date_time_and_place(self) -> None:
        msg = self.message("ar")
        assert msg["Subject"] == "تذكير: موعدك لدى ABRA في الاثنين، 7 ديسمبر 2026"
        assert msg["Content-Language"] == "ar"
        text = msg.get_body(("plain",)).get_content()
        assert "الساعة: 9:30 ص" in text and "المكان: Beratungsstelle ABRA, Kommunales Jobcenter Hamm" in text
        html = msg.get_body(("html",)).get_content()
        assert '<html lang="ar" dir="rtl">' in html

    def test_in_german_by_default_and_for_an_unknown_language(self) -> None:
        for language in ("de", "xx"):
            msg = self.message(language)
            assert msg["Subject"] == "Erinnerung: Ihr Termin bei ABRA am Montag, 7. Dezember 2026"
            assert "Uhrzeit: 09:30" in msg.get_body(("plain",)).get_content()

    def test_its_message_id_is_fixed_per_appointment(self) -> None:
        assert (self.message("ro")["Message-ID"] == self.message("de")["Message-ID"]
                == f"<clearing-reminder-{self.CLEARING}-{int(self.AT.timestamp())}@ankommen>")
