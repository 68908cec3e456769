"""The front desk's list of intake drafts through the real stack (GET /intake-drafts): own and team
drafts, open and completed, pages, bad queries (422 naming the query parameter) and roles (403). A
team shares the counter: a clerk resumes and completes a draft a colleague started.

Every scenario lists only drafts saved since the scenario began (`updated_since`), so drafts other
tests on the session's stack saved do not count."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.stack import RunningStack, intake_payload, person

pytestmark = pytest.mark.stack


async def save(stack: RunningStack, user: str, content: dict[str, Any]) -> str:
    async with stack.client("intake", user) as c:
        r = await c.post("/intake-drafts", json={"content": content})
    assert r.status_code == 201, r.text
    return r.json()["draft_id"]


async def listed(stack: RunningStack, user: str, since: datetime, **params: Any) -> dict[str, Any]:
    async with stack.client("intake", user) as c:
        r = await c.get("/intake-drafts", params={"updated_since": since.isoformat(), **params})
    assert r.status_code == 200, r.text
    return r.json()


def ids(body: dict[str, Any]) -> list[str]:
    return [d["draft_id"] for d in body["drafts"]]


class TestDraftList:
    async def test_own_team_open_and_completed_drafts_newest_first(self, stack: RunningStack) -> None:
        since = datetime.now(UTC)
        mine = await save(stack, "frontdesk",
                          {"household": {"district": "Westen", "persons": [{"given_name": "Ana", "family_name": "Pop", "date_of_birth": "1990-01-01"}]}})
        handed_over = await save(stack, "frontdesk", intake_payload(person("Nour", "Saleh")))
        theirs = await save(stack, "frontdesk2", {"household": {"persons": []}})
        async with stack.client("intake", "frontdesk2") as c:  # the family comes back to the colleague's counter
            done = await c.post(f"/intake-drafts/{handed_over}/complete")
        assert done.status_code == 201, done.text

        own_open = await listed(stack, "frontdesk", since)
        assert (ids(own_open), own_open["total"]) == ([mine], 1)
        line = own_open["drafts"][0]
        assert {k: line[k] for k in ("created_by", "person_count", "district", "names", "readable", "completed_intake_id")} == {
            "created_by": "frontdesk", "person_count": 1, "district": "Westen", "names": ["Ana Pop"], "readable": True, "completed_intake_id": None,
        }
        assert ids(await listed(stack, "frontdesk", since, created_by="me", state="any")) == [handed_over, mine]
        completed = (await listed(stack, "frontdesk", since, state="completed"))["drafts"]
        assert [(d["draft_id"], d["completed_intake_id"], d["completed_by"], d["person_count"]) for d in completed] == [
            (handed_over, done.json()["intake_id"], "frontdesk2", 1)
        ]
        assert ids(await listed(stack, "frontdesk", since, created_by="all")) == [theirs, mine]
        assert ids(await listed(stack, "frontdesk2", since)) == [theirs]

    async def test_pages_carry_the_total(self, stack: RunningStack) -> None:
        since = datetime.now(UTC)
        saved = [await save(stack, "frontdesk2",
                            {"household": {"persons": [{"given_name": f"P{i}", "family_name": "Test", "date_of_birth": "1990-01-01"}]}}) for i in range(3)]
        first = await listed(stack, "frontdesk2", since, limit=2)
        rest = await listed(stack, "frontdesk2", since, limit=2, offset=2)
        assert (ids(first), first["total"]) == ([saved[2], saved[1]], 3)
        assert (ids(rest), rest["total"]) == ([saved[0]], 3)

    async def test_names_shown_in_the_list_are_audit_logged_per_draft(self, stack: RunningStack) -> None:
        since = datetime.now(UTC)
        draft = await save(stack, "frontdesk", {"household": {"persons": [{"given_name": "Ion", "family_name": "Test", "date_of_birth": "1990-01-01"}]}})
        await listed(stack, "frontdesk2", since, created_by="all")
        with sqlite3.connect(stack.data_dir / "intake.db") as conn:
            rows = conn.execute("SELECT actor, role FROM audit_log WHERE action = 'list' AND record_id = ?", (draft,)).fetchall()
        assert rows == [("frontdesk2", "front_desk")]


class TestDraftListRefuses:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"updated_since": "2026-11-24T00:00:00"}, "updated_since"),
            ({"updated_since": "gestern"}, "updated_since"),
            ({"limit": 0}, "limit"),
            ({"limit": 201}, "limit"),
            ({"offset": -1}, "offset"),
            ({"created_by": "frontdesk2"}, "created_by"),
            ({"state": "done"}, "state"),
        ],
    )
    async def test_a_bad_query_is_named(self, stack: RunningStack, params: dict[str, Any], field: str) -> None:
        async with stack.client("intake", "frontdesk") as c:
            r = await c.get("/intake-drafts", params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", field], r.text

    @pytest.mark.parametrize("user", ["caseworker", "abra", "operator"])
    async def test_only_the_front_desk_lists_drafts(self, stack: RunningStack, user: str) -> None:
        async with stack.client("intake", user) as c:
            assert (await c.get("/intake-drafts")).status_code == 403
