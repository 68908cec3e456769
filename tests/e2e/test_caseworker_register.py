"""The team lead's caseworker register through the embedded stack: a caseworker joins with districts,
languages and FTE (cap 190 x FTE, 000 "Soziales Fallmanagement"), takes the queued cases of their
district at once, and bad input is refused at its field with nothing changed."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_casework_scenarios import intake_case, outbox, refugee
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


def register(rows: list[dict]) -> dict[str, dict]:
    return {c["username"]: c for c in rows}


class TestAddCaseworker:
    async def test_joins_with_the_cap_of_their_fte_and_takes_the_queued_case_of_their_district(self, stack: RunningStack) -> None:
        district = "Norden"  # a district of the city's list (services/contracts/codes.py) that no seeded caseworker covers
        waiting = await intake_case(stack, refugee("Samir", "1985-03-03"), district=district)
        assert waiting["queued"] is True and waiting["caseworker"] is None
        name = f"cw-{uuid.uuid4().hex[:6]}"
        async with stack.client("casework", "teamlead") as lead:
            r = await lead.post("/caseworkers", json={"username": name, "districts": [district], "languages": ["AR", "de"], "fte": 0.5})
            assert r.status_code == 201, r.text
            assert {k: r.json()[k] for k in ("districts", "languages", "fte", "cap", "target", "on_leave")} == {
                "districts": [district], "languages": ["ar", "de"], "fte": 0.5, "cap": 95, "target": 95, "on_leave": False}
            assert r.json()["caseload"] >= 1  # the waiting case, and any other case of the district queued before in this stack
            case = (await lead.get(f"/cases/{waiting['case_id']}")).json()
            assert case["caseworker"] == name and case["queued"] is False
            assert name in register((await lead.get("/caseworkers")).json())
        assert [e["reason"] for e in outbox(stack, "CaseAssigned", case_id=waiting["case_id"])] == ["from_queue"]

    async def test_an_explicit_cap_differs_from_the_target(self, stack: RunningStack) -> None:
        name = f"cw-{uuid.uuid4().hex[:6]}"
        async with stack.client("casework", "teamlead") as lead:
            r = await lead.post("/caseworkers", json={"username": name, "districts": ["Westen"], "fte": 1.0, "cap": 150})
        assert r.status_code == 201, r.text
        assert (r.json()["cap"], r.json()["target"]) == (150, 190)

    async def test_a_user_name_already_registered_is_refused_at_its_field(self, stack: RunningStack) -> None:
        async with stack.client("casework", "teamlead") as lead:
            before = register((await lead.get("/caseworkers")).json())["caseworker"]
            r = await lead.post("/caseworkers", json={"username": "caseworker", "districts": ["Pelkum"], "fte": 0.5})
            assert r.status_code == 409 and r.json()["field"] == "username"
            assert register((await lead.get("/caseworkers")).json())["caseworker"] == before

    @pytest.mark.parametrize(("body", "field"), [
        ({"districts": [], "fte": 1.0}, "districts"),
        ({"districts": ["Westen"], "fte": 0}, "fte"),
        ({"districts": ["Westen"], "fte": 1.0, "languages": ["arabic"]}, "languages"),
    ])
    async def test_bad_input_is_422_at_the_field_and_adds_nobody(self, stack: RunningStack, body: dict, field: str) -> None:
        name = f"cw-{uuid.uuid4().hex[:6]}"
        async with stack.client("casework", "teamlead") as lead:
            r = await lead.post("/caseworkers", json={"username": name, **body})
            assert r.status_code == 422
            assert r.json()["detail"][0]["loc"][:2] == ["body", field]
            assert name not in register((await lead.get("/caseworkers")).json())

    async def test_a_caseworker_may_not_add_one(self, stack: RunningStack) -> None:
        async with stack.client("casework", "caseworker") as cw:
            r = await cw.post("/caseworkers", json={"username": f"cw-{uuid.uuid4().hex[:6]}", "districts": ["Westen"], "fte": 1.0})
        assert r.status_code == 403
