"""Casework's rules that the API, a workflow's update validator and an activity all apply, each
written once in contracts: the first-contact date (seed 001 phase 1; DOMAIN.md flow 3) and the
referral step input (DOMAIN.md flow 4)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.contracts.casework_workflows import first_contact_error, referral_step_input_error

OPENED = date(2026, 3, 2)
TODAY = date(2026, 3, 10)
FUTURE = "the first contact cannot be in the future"
BEFORE = "the first contact cannot be before the case was opened"


class TestFirstContactDate:
    @pytest.mark.parametrize(("contact_on", "opened_on", "today", "expected"), [
        (TODAY, OPENED, TODAY, None),  # the visit today
        (OPENED, OPENED, TODAY, None),  # on the day the case was opened
        (OPENED + timedelta(days=3), OPENED, TODAY, None),
        (TODAY, TODAY, TODAY, None),  # opened and visited the same day
        (TODAY + timedelta(days=1), OPENED, TODAY, FUTURE),  # tomorrow: no day of tolerance
        (TODAY + timedelta(days=5), OPENED, TODAY, FUTURE),
        (date(2999, 1, 1), OPENED, TODAY, FUTURE),
        (OPENED - timedelta(days=1), OPENED, TODAY, BEFORE),
        (date(2000, 1, 1), OPENED, TODAY, BEFORE),
    ])
    def test_the_table(self, contact_on: date, opened_on: date, today: date, expected: str | None) -> None:
        assert first_contact_error(contact_on, opened_on, today) == expected


class TestReferralStepInput:
    @pytest.mark.parametrize(("partner", "step", "on", "measure", "expected"), [
        ("integration_point", "acknowledged", None, None, None),
        ("job_centre", "appointment_booked", TODAY, None, None),
        ("job_centre", "appointment_booked", None, None, ("on", "the appointment date is required")),
        ("employment_agency", "measure_offered", None, "qualification", None),
        ("integration_point", "measure_offered", None, "yoga", ("measure", "measure must be one of job_language_course, eq_plus_language, qualification")),
        ("integration_point", "measure_offered", None, None, ("measure", "measure must be one of job_language_course, eq_plus_language, qualification")),
        ("daycare", "place_offered", None, None, ("on", "the date is required for this step")),
        ("daycare", "appointment_booked", None, None, ("on", "the appointment date is required")),
        ("daycare", "profiled", None, None, ("step", "step must be one of acknowledged, appointment_booked, place_offered, waiting_list, declined, no_show")),
        ("social_casework", "acknowledged", None, None, ("partner", "no referrals are made to social_casework")),
    ])
    def test_the_table(self, partner: str, step: str, on: date | None, measure: str | None, expected: tuple[str, str] | None) -> None:
        assert referral_step_input_error(partner, step, on, measure) == expected
