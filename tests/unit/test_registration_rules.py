"""Pure rules of registration of residence (§17 BMG) and of clearing slots (NRW working days)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from services.contracts.workdays import city_today, closed_day_reason, closed_days_between
from services.intake.domain import check_registration, may_register, registration_deadline, registration_missed
from services.intake.schemas_clearing import RegistrationIn
from services.kit.errors import Conflict, Invalid

MOVE_IN = date(2026, 11, 2)
DEADLINE = registration_deadline(MOVE_IN, 14)


class TestClosedDays:
    @pytest.mark.parametrize(
        ("day", "reason"),
        [
            (date(2026, 12, 25), "2026-12-25 ist ein Feiertag in NRW (1. Weihnachtstag)"),
            (date(2026, 6, 4), "2026-06-04 ist ein Feiertag in NRW (Fronleichnam)"),
            (date(2026, 12, 26), "2026-12-26 ist ein Feiertag in NRW (2. Weihnachtstag)"),  # a Saturday too: the holiday is named
            (date(2026, 12, 5), "2026-12-05 ist ein Samstag, kein Arbeitstag"),
            (date(2026, 12, 6), "2026-12-06 ist ein Sonntag, kein Arbeitstag"),
        ],
    )
    def test_weekends_and_nrw_holidays_are_named(self, day: date, reason: str) -> None:
        assert closed_day_reason(day) == reason

    def test_a_working_day_has_no_reason(self) -> None:
        assert closed_day_reason(date(2026, 12, 4)) is None
        assert closed_day_reason(date(2025, 10, 31)) is None  # a Friday; Reformation Day is no holiday in NRW

    def test_closed_days_of_the_christmas_window(self) -> None:
        assert closed_days_between(date(2026, 12, 24), date(2026, 12, 30)) == [date(2026, 12, d) for d in (25, 26, 27)]


class TestDeadline:
    def test_two_weeks_after_moving_in(self) -> None:
        assert DEADLINE == date(2026, 11, 16)

    def test_missed_from_the_deadline_day_without_a_registration(self) -> None:
        assert not registration_missed(DEADLINE, None, DEADLINE - timedelta(days=1))
        assert registration_missed(DEADLINE, None, DEADLINE)

    def test_a_person_registered_before_day_14_is_never_missed(self) -> None:
        assert not registration_missed(DEADLINE, DEADLINE - timedelta(days=1), DEADLINE + timedelta(days=100))

    def test_a_registration_on_or_after_the_deadline_day_was_late(self) -> None:
        assert registration_missed(DEADLINE, DEADLINE, DEADLINE + timedelta(days=1))


class TestRecordingARegistration:
    @pytest.mark.parametrize(("status", "allowed"), [(None, True), ("cleared", True), ("cancelled", True), ("pending", False), ("not_appeared", False)])
    def test_only_without_a_clearing_or_after_it_completed(self, status: str | None, allowed: bool) -> None:
        assert may_register(status) is allowed

    def test_not_before_moving_in(self) -> None:
        with pytest.raises(Invalid) as exc:
            check_registration(MOVE_IN - timedelta(days=1), MOVE_IN, None, None)
        assert exc.value.field == "registered_on" and "2026-11-02" in exc.value.message

    def test_a_pending_clearing_blocks_it(self) -> None:
        with pytest.raises(Conflict):
            check_registration(MOVE_IN + timedelta(days=3), MOVE_IN, "pending", None)

    def test_not_before_the_clearing_completed(self) -> None:
        with pytest.raises(Invalid) as exc:
            check_registration(MOVE_IN + timedelta(days=3), MOVE_IN, "cleared", MOVE_IN + timedelta(days=5))
        assert exc.value.field == "registered_on"
        check_registration(MOVE_IN + timedelta(days=5), MOVE_IN, "cleared", MOVE_IN + timedelta(days=5))

    def test_not_in_the_future(self) -> None:
        with pytest.raises(ValidationError) as exc:
            RegistrationIn(registered_on=city_today() + timedelta(days=1))
        assert exc.value.errors()[0]["loc"] == ("registered_on",)
