"""Intake's checks of codes and of what follows from the birth date, through the real stack (issue
14): nationalities against ISO 3166-1 (plus XK, XXA stateless, XXX unclear), languages against ISO
639-1, districts against the city's list; drafts refuse a present but wrong value at once; a household
of minors only is referred to the youth welfare office instead of being refused; and no 422 of any
service echoes what was submitted (names, birth dates)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from tests.support.stack import RunningStack, intake_payload, person

pytestmark = pytest.mark.stack


async def post_intake(stack: RunningStack, payload: dict[str, Any]) -> Any:
    async with stack.client("intake", "frontdesk") as c:
        return await c.post("/intakes", json=payload)


def locs(r: Any) -> list[list[Any]]:
    return [e["loc"] for e in r.json()["detail"]]


def years_ago(n: int) -> str:
    t = date.today()
    return date(t.year - n, 1, 1).isoformat()


class TestCodes:
    @pytest.mark.parametrize("code", ["JJ", "XX", "AA", "QZ", "XXB", "ZZZ"])
    async def test_an_unknown_nationality_is_refused_at_its_field(self, stack: RunningStack, code: str) -> None:
        r = await post_intake(stack, intake_payload(person(nationality=code, residence_status="asylum_seeker")))
        assert r.status_code == 422, r.text
        assert ["body", "household", "persons", 0, "nationality"] in locs(r)

    @pytest.mark.parametrize("code", ["XXA", "XXX", "XK", "SY"])
    async def test_stateless_unclear_kosovo_and_countries_are_accepted(self, stack: RunningStack, code: str) -> None:
        r = await post_intake(stack, intake_payload(person(nationality=code, residence_status="asylum_seeker")))
        assert r.status_code == 201, r.text

    async def test_an_unknown_language_is_refused_at_its_field(self, stack: RunningStack) -> None:
        r = await post_intake(stack, intake_payload(person(languages=[{"code": "ar"}, {"code": "xx"}])))
        assert r.status_code == 422, r.text
        assert ["body", "household", "persons", 0, "languages", 1, "code"] in locs(r)

    async def test_a_district_not_of_the_city_is_refused(self, stack: RunningStack) -> None:
        r = await post_intake(stack, intake_payload(district="Wessten"))
        assert r.status_code == 422, r.text
        assert locs(r) == [["body", "household", "district"]]


class TestNoPersonalDataInErrors:
    async def test_intakes_422_names_the_field_but_not_the_person(self, stack: RunningStack) -> None:
        given, family = f"Mihaela{uuid.uuid4().hex[:6]}", f"Ionescu{uuid.uuid4().hex[:6]}"
        r = await post_intake(stack, intake_payload(person(given, family, "1990-13-45", nationality="JJ")))
        assert r.status_code == 422
        assert given not in r.text and family not in r.text and "1990-13-45" not in r.text
        detail = r.json()["detail"]
        assert {tuple(sorted(e)) for e in detail} == {("loc", "msg", "type")}
        assert ["body", "household", "persons", 0, "date_of_birth"] in locs(r)

    async def test_caseworks_422_does_not_echo_the_input_either(self, stack: RunningStack) -> None:
        note = f"Gespräch mit Mihaela Ionescu{uuid.uuid4().hex[:6]}, geb. 02.04.1990"
        async with stack.client("casework", "caseworker") as c:
            r = await c.post(f"/cases/{uuid.uuid4()}/contacts", json={"contact_on": "Mihaela Ionescu", "kind": "visit", "note": note})
        assert r.status_code == 422, r.text
        assert "Mihaela" not in r.text and "1990" not in r.text
        assert all(set(e) == {"loc", "msg", "type"} for e in r.json()["detail"])
        assert ["body", "contact_on"] in locs(r)


class TestDraftsRefuseWrongValues:
    async def test_a_wrong_postcode_district_and_schooling_are_refused_and_nothing_is_saved(self, stack: RunningStack) -> None:
        content = {"household": {"district": "", "address": {"postcode": "59A"},
                                 "persons": [{"given_name": "Ana", "family_name": "Pop", "date_of_birth": "1990-01-01", "schooling_years": "zwölf"}]}}
        async with stack.client("intake", "frontdesk") as c:
            r = await c.post("/intake-drafts", json={"content": content})
            assert r.status_code == 422, r.text
            assert sorted(locs(r)) == sorted([
                ["body", "content", "household", "district"], ["body", "content", "household", "address", "postcode"],
                ["body", "content", "household", "persons", "0", "schooling_years"],
            ])
            ok = await c.post("/intake-drafts", json={"content": {"household": {"district": "Westen", "persons": []}}})
            assert ok.status_code == 201, ok.text
            draft = ok.json()["draft_id"]
            r = await c.put(f"/intake-drafts/{draft}", json={"content": {"household": {"district": "Westen", "persons": [{"given_name": "Ana"}]}}})
            assert r.status_code == 422
            assert sorted(locs(r)) == [["body", "content", "household", "persons", "0", "date_of_birth"],
                                       ["body", "content", "household", "persons", "0", "family_name"]]
            assert (await c.get(f"/intake-drafts/{draft}")).json()["content"]["household"]["persons"] == []  # nothing changed

    async def test_an_incomplete_but_correct_draft_is_saved(self, stack: RunningStack) -> None:
        content = {"household": {"district": "Mitte", "address": {"postcode": "59065"},
                                 "persons": [{"given_name": "Ana", "family_name": "Pop", "date_of_birth": "1990-01-01", "nationality": "RO"}]}}
        async with stack.client("intake", "frontdesk") as c:
            r = await c.post("/intake-drafts", json={"content": content})
        assert r.status_code == 201, r.text


class TestWhatFollowsFromTheBirthDate:
    async def test_literacy_work_and_registration_must_be_answered_where_they_apply(self, stack: RunningStack) -> None:
        adult = {k: v for k, v in person().items() if k not in ("literate", "able_to_work", "wants_registration")}
        r = await post_intake(stack, intake_payload(adult))
        assert r.status_code == 422
        assert sorted(locs(r)) == [["body", "household", "persons", "0", f] for f in ("able_to_work", "literate", "wants_registration")]

    async def test_a_small_child_is_not_asked_about_reading_or_work(self, stack: RunningStack) -> None:
        child = {k: v for k, v in person("Lina", born=years_ago(4), relation="child", consents=[]).items() if k not in ("literate", "able_to_work")}
        r = await post_intake(stack, intake_payload(person(), child))
        assert r.status_code == 201, r.text
        async with stack.client("intake", "frontdesk") as c:
            stored = (await c.get(f"/intakes/{r.json()['intake_id']}")).json()
        assert stored["persons"][1]["literate"] is None and stored["persons"][1]["derived"]["employable"] is False


class TestUnaccompaniedMinors:
    def minors(self) -> dict[str, Any]:
        return intake_payload(
            person("Ahmad", "Rahimi", years_ago(16), "AF", residence_status="asylum_seeker", relation="head", consents=[]),
            person("Omid", "Rahimi", years_ago(14), "AF", residence_status="asylum_seeker", relation="relative", consents=[]),
        )

    async def test_a_household_of_minors_points_to_the_youth_welfare_office(self, stack: RunningStack) -> None:
        r = await post_intake(stack, self.minors())
        assert r.status_code == 422
        (error,) = r.json()["detail"]
        assert error["loc"] == ["body", "household", "persons"] and "youth welfare office" in error["msg"] and "42a SGB VIII" in error["msg"]

    async def test_referred_to_youth_welfare_the_minors_are_routed_there_and_get_no_case(self, stack: RunningStack) -> None:
        payload = self.minors()
        payload["household"]["referred_to_youth_welfare"] = True
        r = await post_intake(stack, payload)
        assert r.status_code == 201, r.text
        async with stack.client("intake", "frontdesk") as c:
            stored = (await c.get(f"/intakes/{r.json()['intake_id']}")).json()
        assert stored["referred_to_youth_welfare"] is True
        assert [p["derived"]["routes"] for p in stored["persons"]] == [["youth_welfare", "school_side_entry"]] * 2

    async def test_the_referral_is_only_for_minors_without_an_adult(self, stack: RunningStack) -> None:
        payload = intake_payload(person())
        payload["household"]["referred_to_youth_welfare"] = True
        r = await post_intake(stack, payload)
        assert r.status_code == 422 and locs(r) == [["body", "household", "referred_to_youth_welfare"]]
