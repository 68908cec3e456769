"""Pure rules of the intake interview: routing (DOMAIN.md flow 1), validation, and the envelope
encryption's crypto-shredding."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from services.contracts.vocab import Need, Prospect, Route
from services.contracts.workdays import city_today
from services.intake.crypto import Keyring, KeyUnavailable, generate_master_key
from services.intake.domain import check_household
from services.intake.domain_routing import RoutingRules, derive
from services.intake.schemas import HouseholdIn, PersonIn
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

    @pytest.mark.parametrize(("age", "child_route", "employable"),
                             [(0, Route.DAYCARE, False), (5, Route.DAYCARE, False), (6, Route.SCHOOL_SIDE_ENTRY, False), (15, Route.SCHOOL_SIDE_ENTRY, True),
                              (17, Route.SCHOOL_SIDE_ENTRY, True), (18, None, True), (64, None, True), (65, None, False)])
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
            ({"move_in_date": (city_today() + timedelta(days=1)).isoformat()}, "move_in_date"),
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


class TestCodeLists:
    """services/contracts/codes.py: ISO 3166-1 / ISO 639-1 via pycountry with German names (issue 14)."""

    def test_countries_and_languages_have_german_names(self) -> None:
        from services.contracts import codes

        nat = codes.nationalities_de()
        assert (nat["BG"], nat["RO"], nat["DE"], nat["XK"], nat["XXA"], nat["XXX"]) == ("Bulgarien", "Rumänien", "Deutschland", "Kosovo", "staatenlos",
                                                                                        "ungeklärt / ohne Angabe")
        assert list(nat)[-2:] == ["XXA", "XXX"] and len(nat) == 249 + 1 + 2
        lang = codes.languages_de()
        assert (lang["bg"], lang["ro"], lang["ar"], lang["tr"], lang["uk"]) == ("Bulgarisch", "Rumänisch", "Arabisch", "Türkisch", "Ukrainisch")
        names = list(codes.countries_de().values())
        assert names.index("Österreich") < names.index("Polen")  # sorted by the German name, umlauts as their base letter

    @pytest.mark.parametrize("code", ["JJ", "XX", "AA", "ZZ", "XXB", "bg", "BGR"])
    def test_unknown_nationalities_are_refused(self, code: str) -> None:
        with pytest.raises(ValidationError) as info:
            p(nationality=code, residence_status="asylum_seeker")
        assert info.value.errors()[0]["loc"] == ("nationality",)

    @pytest.mark.parametrize("code", ["xx", "qq", "zz"])
    def test_unknown_languages_are_refused(self, code: str) -> None:
        with pytest.raises(ValidationError) as info:
            p(languages=[{"code": code}])
        assert info.value.errors()[0]["loc"] == ("languages", 0, "code")

    def test_stateless_and_unclear_route_as_an_unclear_prospect(self) -> None:
        for code in ("XXA", "XXX"):
            d = derive(p(nationality=code, residence_status="asylum_seeker"), TODAY, RULES)
            assert (d.routes, d.prospect) == ([Route.CASEWORK], Prospect.UNCLEAR)

    def test_only_the_citys_districts(self) -> None:
        from services.contracts.codes import DISTRICTS

        with pytest.raises(ValidationError) as info:
            HouseholdIn.model_validate({"district": "Westen ", "persons": [person()]} | {"district": "Wessten"})
        assert info.value.errors()[0]["loc"] == ("district",)
        assert {"Westen", "Mitte", "Bockum-Hövel", "Herringen", "Pelkum", "Rhynern", "Uentrop", "Heessen"} <= set(DISTRICTS)


class TestYouthWelfare:
    def minors(self, referred: bool) -> HouseholdIn:
        return HouseholdIn.model_validate({"district": "Westen", "referred_to_youth_welfare": referred,
                                           "persons": [person(born=born(16), relation="head"), person(born=born(4), relation="relative")]})

    def test_minors_only_are_refused_with_a_pointer_to_the_youth_welfare_office(self) -> None:
        with pytest.raises(Invalid) as info:
            check_household(self.minors(False), TODAY)
        assert info.value.field == "household.persons" and "youth welfare office" in info.value.message and "§42a SGB VIII" in info.value.message

    def test_referred_minors_are_valid_and_routed_to_youth_welfare(self) -> None:
        household = self.minors(True)
        check_household(household, TODAY)
        routes = [derive(x, TODAY, RULES, youth_welfare=True).routes for x in household.persons]
        assert routes == [[Route.YOUTH_WELFARE, Route.SCHOOL_SIDE_ENTRY], [Route.YOUTH_WELFARE, Route.DAYCARE]]
        bg = p(nationality="BG", residence_status="eu_free_movement", born=born(16))
        assert derive(bg, TODAY, RULES, youth_welfare=True).routes[0] == Route.YOUTH_WELFARE  # not the ABRA clearing

    def test_the_referral_needs_a_household_without_adults(self) -> None:
        household = HouseholdIn.model_validate({"district": "Westen", "referred_to_youth_welfare": True, "persons": [person()]})
        with pytest.raises(Invalid) as info:
            check_household(household, TODAY)
        assert info.value.field == "household.referred_to_youth_welfare"


class TestAnswersByAge:
    def test_what_follows_from_the_birth_date(self) -> None:
        from services.intake.domain import person_answers_missing

        blank = {"literate": None, "able_to_work": None, "wants_registration": None}
        ages = [3, 10, 30, 70]
        persons = [p(born=born(a), consents=[], **blank) for a in ages]
        missing = {f for f, _ in person_answers_missing(persons, TODAY)}
        assert missing == {
            "household.persons.0.wants_registration",
            "household.persons.1.literate", "household.persons.1.wants_registration",
            "household.persons.2.literate", "household.persons.2.able_to_work", "household.persons.2.wants_registration",
            "household.persons.3.literate", "household.persons.3.wants_registration",
        }
        assert derive(persons[2], TODAY, RULES).employable is False  # not stated: not assumed

    def test_unknown_literacy_of_a_small_child_is_no_education_need_of_its_own(self) -> None:
        d = derive(p(born=born(3), consents=[], literate=None), TODAY, RULES)
        assert Need.EDUCATION in d.needs  # under 18 anyway


class TestDraftProblems:
    def test_present_and_wrong_values_are_named_missing_ones_are_not(self) -> None:
        from services.intake.domain import draft_problems

        content = {"household": {"district": "", "address": {"postcode": "59A"},
                                 "persons": [{"given_name": "Ana", "family_name": "Pop", "date_of_birth": "1990-01-01", "schooling_years": "zwölf",
                                              "nationality": "JJ"}, {}]}}
        found = {tuple(loc[2:]) for loc, _, _ in draft_problems(content)}
        assert found == {("district",), ("address", "postcode"), ("persons", 0, "schooling_years"), ("persons", 0, "nationality"),
                         ("persons", 1, "given_name"), ("persons", 1, "family_name"), ("persons", 1, "date_of_birth")}
        assert draft_problems({"household": {"persons": []}}) == []
        assert draft_problems({"household": {"district": "Mitte",
                                             "persons": [{"given_name": "Ana", "family_name": "Pop", "date_of_birth": "1990-01-01"}]}}) == []


class TestValidationErrorBodies:
    def test_only_loc_msg_and_type_leave_the_service(self) -> None:
        from services.kit.service import validation_errors

        with pytest.raises(ValidationError) as info:
            p(given_name="Ivana", date_of_birth="Ivana Petrova 1990")
        body = validation_errors(info.value.errors())
        assert body and all(set(e) == {"loc", "msg", "type"} for e in body)
        assert "Ivana" not in repr(body)
