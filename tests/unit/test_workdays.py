"""NRW working-day calendar used by every working-day deadline."""

from __future__ import annotations

from datetime import date

from services.contracts.workdays import add_working_days, easter_sunday, is_working_day, nrw_holidays, nth_working_day_of_month, working_days_between


class TestHolidays:
    def test_easter_dates(self) -> None:
        assert easter_sunday(2025) == date(2025, 4, 20)
        assert easter_sunday(2026) == date(2026, 4, 5)
        assert easter_sunday(2027) == date(2027, 3, 28)

    def test_nrw_has_corpus_christi_and_all_saints_but_not_reformation_day(self) -> None:
        holidays = nrw_holidays(2026)
        assert date(2026, 6, 4) in holidays  # Fronleichnam
        assert date(2026, 11, 1) in holidays
        assert date(2026, 10, 31) not in holidays
        assert len(holidays) == 11


class TestWorkingDays:
    def test_weekend_and_holiday_are_skipped(self) -> None:
        # Thu 2026-12-24 + 3 working days: 25, 26 holidays, 27 Sunday -> Mon 28, Tue 29, Wed 30
        assert add_working_days(date(2026, 12, 24), 3) == date(2026, 12, 30)
        assert not is_working_day(date(2026, 12, 26))

    def test_zero_days_rolls_forward_to_a_working_day(self) -> None:
        assert add_working_days(date(2026, 11, 21), 0) == date(2026, 11, 23)

    def test_between_counts_working_days_after_start(self) -> None:
        assert working_days_between(date(2026, 11, 20), date(2026, 11, 27)) == 5
        assert working_days_between(date(2026, 11, 27), date(2026, 11, 20)) == 0

    def test_third_working_day_of_january(self) -> None:
        # 1 Jan 2027 is a holiday (Friday); Mon 4, Tue 5, Wed 6
        assert nth_working_day_of_month(2027, 1, 3) == date(2027, 1, 6)


class TestCityToday:
    """The city's day, not the server's: from 22:00/23:00 UTC it is already tomorrow in Hamm."""

    def test_late_evening_utc_is_the_next_day_in_berlin(self) -> None:
        from datetime import UTC, date, datetime

        from services.contracts.workdays import city_today

        assert city_today(datetime(2026, 12, 6, 23, 30, tzinfo=UTC)) == date(2026, 12, 7)  # winter: UTC+1
        assert city_today(datetime(2026, 7, 6, 22, 30, tzinfo=UTC)) == date(2026, 7, 7)  # summer: UTC+2
        assert city_today(datetime(2026, 12, 6, 22, 59, tzinfo=UTC)) == date(2026, 12, 6)
