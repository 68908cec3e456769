"""Pure rules of the intake interview: routing (DOMAIN.md flow 1), validation, and the envelope
encryption's crypto-shredding."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from services.contracts.vocab import Need, Prospect, Route
from services.intake.crypto import Keyring, KeyUnavailable, generate_master_key
from services.intake.domain import HouseholdIn, PersonIn, check_household
from services.intake.routing import RoutingRules, derive
from services.kit.errors import Invalid
from tests.support.stack import person

TODAY = date(2026, 11, 21)
RULES = RoutingRules()


def p(**kw: object) -> PersonIn:
    return PersonIn.model_validate(person(**kw))


def born(age: int) -> str:
    return f"{TODAY.year - age}-01-01"


class TestRouting:
    @pytest.mark.parametrize(
        ("nationality", "status", "extra", "route", "prospect"),
        [
            ("BG", "eu_free_movement", {}, Route.ABRA_CLEARING, Prospect.GOOD),
            ("RO", "eu_free_movement", {}, Route.ABRA_CLEARING, Prospect.GOOD),
            ("RO", "eu_free_movement", {"wants_registration": False}, Route.INFORMATION, Prospect.GOOD),
            ("SY", "recognised_refugee", {}, Route.CASEWORK, Prospect.GOOD),
            ("SY", "asylum_seeker", {}, Route.CASEWORK, Prospect.GOOD),
            ("NG", "asylum_seeker", {}, Route.CASEWORK, Prospect.UNCLEAR),
            ("RS", "asylum_seeker", {}, Route.INFORMATION, Prospect.NONE),
            ("AF", "tolerated", {"status_since": "2021-03-01"}, Route.CASEWORK, Prospect.UNCLEAR),
            ("AF", "tolerated", {"status_since": "2026-03-01"}, Route.INFORMATION, Prospect.NONE),
            ("RS", "enforceably_obliged_to_leave", {}, Route.RETURN_COUNSELLING, Prospect.NONE),
            ("PL", "eu_free_movement", {}, Route.INFORMATION, Prospect.GOOD),
            ("UA", "third_country_with_title", {}, Route.INFORMATION, Prospect.GOOD),
            ("DE", "german", {}, Route.INFORMATION, Prospect.GOOD),
        ],
    )
    def test_route_and_prospect_by_nationality_and_status(self, nationality: str, status: str, extra: dict, route: Route, prospect: Prospect) -> None:
        d = derive(p(nationality=nationality, residence_status=status, **extra), TODAY, RULES)
        assert d.routes == [route]
        assert d.prospect == prospect

    @pytest.mark.parametrize(("age", "child_route", "employable"), [(0, Route.DAYCARE, False), (5, Route.DAYCARE, False), (6, Route.SCHOOL_SIDE_ENTRY, False), (15, Route.SCHOOL_SIDE_ENTRY, True), (17, Route.SCHOOL_SIDE_ENTRY, True), (18, None, True), (64, None, True), (65, None, False)])
    def test_children_get_daycare_or_school_and_employability_is_15_to_64(self, age: int, child_route: Route | None, employable: bool) -> None:
        d = derive(p(born=born(age), move_in_date="2026-11-02", consents=[]), TODAY, RULES)
        assert (d.routes[1:] or [None]) == [child_route]
        assert d.employable is employable
        assert d.adult is (age >= 18)

    def test_unable_to_work_is_not_employable(self) -> None:
        assert derive(p(able_to_work=False), TODAY, RULES).employable is False

    def test_needs(self) -> None:
        d = derive(p(german_level="A1", literate=False, health_insurance="none"), TODAY, RULES)
        assert set(d.needs) == {Need.LANGUAGE, Need.EDUCATION, Need.WORK, Need.SOCIAL, Need.CULTURAL_POLITICAL}
        fluent = derive(p(nationality="PL", residence_status="eu_free_movement", german_level="C1"), TODAY, RULES)
        assert Need.LANGUAGE not in fluent.needs and Need.SOCIAL not in fluent.needs


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"german_level": "B3"}, "german_level"),
            ({"sex": "x"}, "sex"),
            ({"schooling_years": -1}, "schooling_years"),
            ({"languages": [{"code": "Arabic"}]}, "languages"),
            ({"consents": [{"partner": "nsa", "purpose": "referral", "given_on": "2026-11-02"}]}, "consents"),
            ({"residence_status": "tolerated"}, None),  # status_since missing
            ({"nationality": "DE", "residence_status": "recognised_refugee"}, None),  # a German has status german
            ({"move_in_date": (date.today() + timedelta(days=1)).isoformat()}, "move_in_date"),
        ],
    )
    def test_invalid_person_fields_are_rejected_with_their_field(self, change: dict, field: str | None) -> None:
        with pytest.raises(ValidationError) as info:
            p(**change)
        if field:
            assert info.value.errors()[0]["loc"][0] == field

    def test_a_household_needs_an_adult_and_children_younger_than_their_parents(self) -> None:
        kid = person(born="2015-01-01", relation="child")
        with pytest.raises(Invalid) as info:
            check_household(HouseholdIn.model_validate({"district": "Westen", "persons": [kid]}), TODAY)
        assert info.value.field == "household.persons"
        older_child = person(born="1980-01-01", relation="child")
        with pytest.raises(Invalid) as info:
            check_household(HouseholdIn.model_validate({"district": "Westen", "persons": [person(born="1990-01-01"), older_child]}), TODAY)
        assert info.value.field == "household.persons.1.date_of_birth"
        check_household(HouseholdIn.model_validate({"district": "Westen", "persons": [person(born="1990-01-01"), kid]}), TODAY)


class TestEnvelopeEncryption:
    def test_sealed_fields_open_only_for_their_subject_and_not_after_the_key_is_deleted(self) -> None:
        ring = Keyring(generate_master_key())
        subject, other = uuid.uuid4(), uuid.uuid4()
        key, wrapped = ring.new_data_key()
        blob = ring.seal(key, subject, {"given_name": "Ivana"})
        assert b"Ivana" not in blob
        assert ring.open(ring.unwrap(wrapped), subject, blob) == {"given_name": "Ivana"}
        with pytest.raises(KeyUnavailable):
            ring.open(ring.unwrap(wrapped), other, blob)  # the subject id is associated data
        with pytest.raises(KeyUnavailable):
            ring.unwrap(None)  # erased: the wrapped key row is gone
        with pytest.raises(KeyUnavailable):
            Keyring(generate_master_key()).unwrap(wrapped)  # another master key

    def test_a_missing_master_key_fails_loudly(self) -> None:
        with pytest.raises(ValueError, match="INTAKE_MASTER_KEY"):
            Keyring("")
