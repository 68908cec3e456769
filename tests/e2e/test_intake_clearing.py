"""Front desk scenarios through the real stack (HTTP in, events, workflows, HTTP out), one per route
(issue 3 acceptance; DOMAIN.md flows 1 and 2). Deadlines are reached by fast-forwarding the clearing
workflow's clock on the test stack's Temporal server, never by waiting."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from services.contracts.events import (
    ArrivalRetracted,
    ClearingAppointmentBooked,
    ClearingClosed,
    ClearingCompleted,
    ClearingNoShow,
    ClearingStarted,
    IntakeCompleted,
    IntakeCorrected,
    PersonRouted,
    RegistrationDeadlineMissed,
)
from services.contracts.intake_workflows import household_clearing_workflow_id
from services.contracts.workdays import BERLIN
from tests.support.eventually import eventually
from tests.support.intake import INTERVIEW, booked_clearing, clearings_of, events, publish_slots, registration, today
from tests.support.stack import RunningStack, intake_payload, person

pytestmark = pytest.mark.stack


async def post_intake(stack: RunningStack, payload: dict[str, Any]) -> dict[str, Any]:
    async with stack.client("intake", "frontdesk") as c:
        r = await c.post("/intakes", json=payload)
    assert r.status_code == 201, r.text
    return r.json()


async def profile_at_intake(stack: RunningStack, person_id: str) -> dict[str, Any]:
    """The person's derived facts as IntakeCompleted carried them (PersonRouted follows corrections only)."""

    async def completed() -> dict[str, Any]:
        found = [p for e in await events(stack, IntakeCompleted) for p in e["persons"] if p["person_id"] == person_id]
        assert found
        return found[-1]

    return await eventually(completed, timeout=10)


async def routes_of(stack: RunningStack, person_id: str) -> list[str]:
    routes: list[str] = (await profile_at_intake(stack, person_id))["routes"]
    return routes


async def coach(stack: RunningStack, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with stack.client("intake", "abra", timeout=30) as c:
        r = await c.request(method, path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def clearing_workflow(created: dict[str, Any]) -> str:
    """The household's clearing workflow of an intake (one for all its persons)."""
    return household_clearing_workflow_id(uuid.UUID(created["intake_id"]))


async def workflow_result(stack: RunningStack, created: dict[str, Any]) -> list[str]:
    """The outcomes of the household's clearings, once all are closed (the workflow's result)."""
    client = await stack.temporal()
    return sorted((await asyncio.wait_for(client.get_workflow_handle(clearing_workflow(created)).result(), 30)).values())


async def alerts(stack: RunningStack, user: str, subject_id: str) -> list[dict[str, Any]]:
    async with stack.client("intake", user) as c:
        r = await c.get("/alerts", params={"subject_id": subject_id})
    assert r.status_code == 200, r.text
    return r.json()


def move_in() -> str:
    return today().isoformat()


def bulgarian_family() -> dict[str, Any]:
    year = today().year

    def kid(given: str, age: int) -> dict[str, Any]:
        return person(given, "Dimitrova", f"{year - age}-01-01", "BG", relation="child", move_in_date=move_in(), consents=[], schooling_years=min(age, 3),
                      highest_certificate="none")

    return intake_payload(
        person("Ivan", "Dimitrov", "1985-03-01", "BG", sex="male", relation="head", move_in_date=move_in(), languages=[{"code": "bg"}]),
        person("Maria", "Dimitrova", "1987-06-01", "BG", relation="partner", move_in_date=move_in(), languages=[{"code": "bg"}]),
        kid("Elena", 4),
        kid("Petar", 9),
    )


class TestAbraClearing:
    async def test_bulgarian_family_of_four_cleared_on_day_5(self, stack: RunningStack) -> None:
        await publish_slots(stack)
        created = await post_intake(stack, bulgarian_family())
        household, pids = created["household_id"], created["person_ids"]
        routes = [await routes_of(stack, p) for p in pids]
        assert routes == [["abra_clearing"], ["abra_clearing"], ["abra_clearing", "daycare"], ["abra_clearing", "school_side_entry"]]
        booked = {p: await booked_clearing(stack, household, p) for p in pids}
        status = await registration(stack, household)
        assert all(not s["allowed"] and "ABRA-Clearing ausstehend" in s["reason"] and "Anmeldefrist" in s["reason"] for s in status.values())
        assert status[pids[0]]["appointment_at"] is not None and status[pids[0]]["given_name"] == "Ivan"

        assert await stack.fast_forward(clearing_workflow(created), timedelta(days=5))  # one workflow for the family
        for i, p in enumerate(pids):
            cid = booked[p]["clearing_id"]
            await coach(stack, "POST", f"/clearings/{cid}/attendance", {"attended": True})
            done = await coach(stack, "POST", f"/clearings/{cid}/interview", {**INTERVIEW, "long_term_coaching": i == 0})
            assert done["status"] == "cleared"
        assert await workflow_result(stack, created) == ["cleared"] * 4

        status = await registration(stack, household)
        assert all(s["allowed"] and s["clearing_status"] == "cleared" for s in status.values())

        async def published() -> None:
            assert len(await events(stack, ClearingStarted, household_id=household)) == 4
            assert len(await events(stack, ClearingCompleted, household_id=household)) == 4
            closed = await events(stack, ClearingClosed, household_id=household)
            assert sorted((c["outcome"], c["long_term_coaching"]) for c in closed) == [("cleared", False)] * 3 + [("cleared", True)]
            for p in pids:
                assert len(await events(stack, ClearingAppointmentBooked, person_id=p)) == 1
                assert await events(stack, RegistrationDeadlineMissed, person_id=p) == []
            completed = await events(stack, ClearingCompleted, household_id=household)
            assert all(4 <= c["days_after_move_in"] <= 6 for c in completed)

        await eventually(published, timeout=10)
        async with stack.client("intake", "abra") as c:
            record = (await c.get(f"/clearings/{booked[pids[0]]['clearing_id']}/interview")).json()
            detail = (await c.get(f"/clearings/{booked[pids[0]]['clearing_id']}")).json()
        assert record[0]["content"]["living_situation"] == INTERVIEW["living_situation"]
        assert (detail["given_name"], detail["languages"], detail["status"]) == ("Ivan", ["bg"], "cleared")

    async def test_romanian_adult_who_misses_every_offered_appointment_closes_as_not_appeared(self, stack: RunningStack) -> None:
        """Default: a no-show is rebooked twice; the third missed appointment closes the clearing."""
        await publish_slots(stack)
        created = await post_intake(stack, intake_payload(person("Andrei", "Popescu", "1992-02-02", "RO", sex="male", move_in_date=move_in())))
        household, (pid,) = created["household_id"], created["person_ids"]
        assert await routes_of(stack, pid) == ["abra_clearing"]
        for attempt in (1, 2, 3):
            c = await booked_clearing(stack, household, pid, attempt)
            assert await stack.fast_forward(clearing_workflow(created), timedelta(days=1))
            after = await coach(stack, "POST", f"/clearings/{c['clearing_id']}/attendance", {"attended": False})
        assert after["status"] == "not_appeared"
        assert await workflow_result(stack, created) == ["not_appeared"]

        async def published() -> None:
            assert [e["attempt"] for e in await events(stack, ClearingNoShow, person_id=pid)] == [1, 2, 3]
            assert [e["attempt"] for e in await events(stack, ClearingAppointmentBooked, person_id=pid)] == [1, 2, 3]
            assert [e["outcome"] for e in await events(stack, ClearingClosed, person_id=pid)] == ["not_appeared"]

        await eventually(published, timeout=10)
        status = (await registration(stack, household))[pid]
        assert not status["allowed"] and "nicht wahrgenommen" in status["reason"]
        async with stack.client("intake", "abra") as client:
            r = await client.post(f"/clearings/{c['clearing_id']}/attendance", json={"attended": True})
        assert r.status_code == 409  # the workflow's validator: the clearing is closed

    async def test_romanian_adult_cleared_on_day_16_misses_the_deadline_and_may_then_register(self, stack: RunningStack) -> None:
        await publish_slots(stack)
        created = await post_intake(stack, intake_payload(person("Ioana", "Ionescu", "1995-05-05", "RO", move_in_date=move_in())))
        household, (pid,) = created["household_id"], created["person_ids"]
        c = await booked_clearing(stack, household, pid)
        cid = c["clearing_id"]
        assert await stack.fast_forward(clearing_workflow(created), timedelta(days=16))

        async def missed() -> None:
            assert (await clearings_of(stack, household))[pid]["deadline_missed"]
            assert len(await events(stack, RegistrationDeadlineMissed, person_id=pid)) == 1
            assert [a["kind"] for a in await alerts(stack, "abra", cid)] == ["clearing_reminder"]
            assert [a["kind"] for a in await alerts(stack, "frontdesk", household)] == ["registration_deadline_missed"]

        await eventually(missed, timeout=15)
        status = (await registration(stack, household))[pid]
        assert not status["allowed"] and "Frist versäumt" in status["reason"]

        await coach(stack, "POST", f"/clearings/{cid}/interview", INTERVIEW)
        status = (await registration(stack, household))[pid]
        assert status["allowed"] and status["clearing_status"] == "cleared"
        assert await workflow_result(stack, created) == ["cleared"]

        async def completed() -> None:
            (done,) = await events(stack, ClearingCompleted, person_id=pid)
            assert done["days_after_move_in"] >= 16
            assert len(await events(stack, RegistrationDeadlineMissed, person_id=pid)) == 1

        await eventually(completed, timeout=10)
        assert await alerts(stack, "frontdesk", household) == []  # resolved by the clearing

    async def test_a_correction_from_romania_to_germany_cancels_the_pending_clearing(self, stack: RunningStack) -> None:
        await publish_slots(stack)
        payload = intake_payload(person("Mihai", "Georgescu", "1980-01-01", "RO", sex="male", move_in_date=move_in()))
        created = await post_intake(stack, payload)
        household, (pid,) = created["household_id"], created["person_ids"]
        await booked_clearing(stack, household, pid)
        fixed = dict(payload["household"]["persons"][0], nationality="DE", residence_status="german", person_id=pid)
        async with stack.client("intake", "frontdesk") as c:
            r = await c.put(f"/intakes/{created['intake_id']}", json={"household": {"district": "Westen", "persons": [fixed]}})
        assert r.status_code == 200, r.text
        assert r.json()["correction_no"] == 1 and r.json()["persons"][0]["derived"]["routes"] == ["information"]
        assert await workflow_result(stack, created) == ["cancelled"]

        async def published() -> None:
            (corrected,) = await events(stack, IntakeCorrected, intake_id=created["intake_id"])
            assert corrected["changed_fields"] == ["nationality", "residence_status"]
            assert [e["routes"] for e in await events(stack, PersonRouted, person_id=pid)] == [["information"]]
            assert [e["outcome"] for e in await events(stack, ClearingClosed, person_id=pid)] == ["cancelled"]
            assert await events(stack, ArrivalRetracted)

        await eventually(published, timeout=10)
        status = (await registration(stack, household))[pid]
        assert status["allowed"]


class TestOtherRoutes:
    async def test_syrian_recognised_refugee_family_is_routed_to_casework(self, stack: RunningStack) -> None:
        created = await post_intake(
            stack,
            intake_payload(
                person("Ahmad", "Haddad", "1984-01-01", sex="male"),
                person("Rana", "Haddad", "1986-01-01", relation="partner"),
                person("Lina", "Haddad", "2016-01-01", relation="child", schooling_years=4, highest_certificate="none", consents=[]),
            ),
        )
        pids = created["person_ids"]
        assert [await routes_of(stack, p) for p in pids] == [["casework"], ["casework"], ["casework", "school_side_entry"]]
        (completed,) = await events(stack, IntakeCompleted, intake_id=created["intake_id"])
        assert [p["prospect"] for p in completed["persons"]] == ["good"] * 3
        assert [p["employable"] for p in completed["persons"]] == [True, True, False]
        assert all(s["allowed"] for s in (await registration(stack, created["household_id"])).values())
        assert await clearings_of(stack, created["household_id"]) == {}

    async def test_a_person_tolerated_for_years_is_routed_to_casework(self, stack: RunningStack) -> None:
        created = await post_intake(stack,
                                    intake_payload(person("Hamid", "Karimi", "1979-01-01", "AF", sex="male", residence_status="tolerated",
                                                          status_since="2019-05-01")))
        (pid,) = created["person_ids"]
        assert await routes_of(stack, pid) == ["casework"]
        assert (await profile_at_intake(stack, pid))["prospect"] == "unclear"
        assert (await registration(stack, created["household_id"]))[pid]["allowed"]
        assert await clearings_of(stack, created["household_id"]) == {}

    async def test_a_person_enforceably_obliged_to_leave_gets_return_counselling_only(self, stack: RunningStack) -> None:
        created = await post_intake(stack,
                                    intake_payload(person("Luan", "Berisha", "1990-01-01", "XK", sex="male", residence_status="enforceably_obliged_to_leave")))
        (pid,) = created["person_ids"]
        assert await routes_of(stack, pid) == ["return_counselling"]
        routed = await profile_at_intake(stack, pid)
        assert routed["prospect"] == "none" and routed["needs"] == ["language", "work"]
        assert (await registration(stack, created["household_id"]))[pid]["allowed"]
        assert await clearings_of(stack, created["household_id"]) == {}

    async def test_eu_citizens_of_other_states_and_third_country_nationals_with_a_title_get_information(self, stack: RunningStack) -> None:
        created = await post_intake(
            stack,
            intake_payload(
                person("Anna", "Kowalska", "1990-01-01", "PL", residence_status="eu_free_movement"),
                person("Olena", "Shevchenko", "1991-01-01", "UA", residence_status="third_country_with_title", relation="other"),
            ),
        )
        assert [await routes_of(stack, p) for p in created["person_ids"]] == [["information"], ["information"]]


class TestCaseworkFollowsTheRoutes:
    async def test_a_refugee_with_a_good_prospect_gets_a_case(self, stack: RunningStack) -> None:
        created = await post_intake(stack, intake_payload(person()))
        async with stack.client("casework") as c:
            async def opened() -> None:
                assert (await c.get("/cases", params={"intake_id": created["intake_id"]})).json()["total"] == 1

            await eventually(opened, timeout=10)

    async def test_no_case_for_a_person_obliged_to_leave_nor_for_information_routes(self, stack: RunningStack) -> None:
        created = await post_intake(stack,
                                    intake_payload(person(nationality="XK", residence_status="enforceably_obliged_to_leave"),
                                                   person(given="B", nationality="PL", residence_status="eu_free_movement")))
        marker = await post_intake(stack, intake_payload(person()))
        async with stack.client("casework") as c:
            async def marker_opened() -> None:
                assert (await c.get("/cases", params={"intake_id": marker["intake_id"]})).json()["total"] == 1

            await eventually(marker_opened, timeout=10)
            assert (await c.get("/cases", params={"intake_id": created["intake_id"]})).json()["total"] == 0

    async def test_long_term_coaching_after_clearing_opens_an_abra_case(self, stack: RunningStack) -> None:
        await publish_slots(stack)
        created = await post_intake(stack, intake_payload(person("Ion", "Rusu", "1985-01-01", "RO", move_in_date=move_in())))
        (pid,) = created["person_ids"]
        c = await booked_clearing(stack, created["household_id"], pid)
        await coach(stack, "POST", f"/clearings/{c['clearing_id']}/interview", {**INTERVIEW, "long_term_coaching": True})
        async with stack.client("casework") as client:
            async def abra_case() -> None:
                cases = (await client.get("/cases", params={"household_id": created["household_id"]})).json()["cases"]
                assert [x["programme"] for x in cases] == ["ABRA"]

            await eventually(abra_case, timeout=10)


class TestEncryptionAtRestAndErasure:
    async def test_names_are_not_stored_in_plain_text_and_erasure_makes_the_person_unreadable(self, stack: RunningStack) -> None:
        given, family = "Xaverinella", "Quorbatovic"
        created = await post_intake(stack, intake_payload(person(given, family)))
        pid = created["person_ids"][0]
        for suffix in ("", "-wal"):
            path = stack.data_dir / f"intake.db{suffix}"
            if path.exists():
                assert given.encode() not in path.read_bytes()
        async with stack.client("intake", "frontdesk") as c:
            assert (await c.get(f"/intakes/{created['intake_id']}")).json()["persons"][0]["given_name"] == given
        async with stack.client("intake", "frontdesk") as c:
            assert (await c.delete(f"/persons/{pid}/personal-data")).status_code == 403
        async with stack.client("intake", "operator") as c:
            assert (await c.delete(f"/persons/{pid}/personal-data")).status_code == 204
        async with stack.client("intake", "frontdesk") as c:
            body = (await c.get(f"/intakes/{created['intake_id']}")).json()
        assert body["persons"] == [{"person_id": pid, "erased": True}]
        with sqlite3.connect(stack.data_dir / "intake.db") as conn:
            assert conn.execute("SELECT count(*) FROM data_keys WHERE subject_id = ?", (pid.replace("-", ""),)).fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'erase' AND record_id = ?", (pid,)).fetchone() == (1,)


class TestDrafts:
    async def test_a_draft_is_saved_resumed_and_completed_once(self, stack: RunningStack) -> None:
        partial = {"household": {"district": "Westen", "persons": [{"given_name": "Nour", "family_name": "Saleh", "date_of_birth": "1990-04-02"}]}}
        async with stack.client("intake", "frontdesk") as c:
            r = await c.post("/intake-drafts", json={"content": partial})
            assert r.status_code == 201
            draft_id = r.json()["draft_id"]
            incomplete = await c.post(f"/intake-drafts/{draft_id}/complete")
            assert incomplete.status_code == 422
            problems = {tuple(d["loc"][1:]) for d in incomplete.json()["detail"]}
            # every missing field at once, not only the first
            assert {("household", "persons", "0", f) for f in ("sex", "german_level", "nationality", "residence_status")} <= problems
            full = intake_payload(person("Nour", "Saleh"))
            assert (await c.put(f"/intake-drafts/{draft_id}", json={"content": full})).status_code == 200
            assert (await c.get(f"/intake-drafts/{draft_id}")).json()["content"] == full
            done = await c.post(f"/intake-drafts/{draft_id}/complete")
            again = await c.post(f"/intake-drafts/{draft_id}/complete")
        assert (done.status_code, again.status_code) == (201, 200)
        assert again.json() == done.json()
        assert len(await events(stack, IntakeCompleted, intake_id=done.json()["intake_id"])) == 1


class TestClearingCalendarQueries:
    async def test_clearings_are_found_by_appointment_window_and_booking_state(self, stack: RunningStack) -> None:
        await publish_slots(stack)
        created = await post_intake(stack, intake_payload(person("Elena", "Ionescu", "1990-04-04", "RO", sex="female", move_in_date=move_in())))
        household, (pid,) = created["household_id"], created["person_ids"]
        booked = await booked_clearing(stack, household, pid)
        at = datetime.fromisoformat(booked["appointment_at"])
        day_start = datetime.combine(at.astimezone(BERLIN).date(), time(0), tzinfo=BERLIN)
        async with stack.client("intake", "abra") as c:
            async def ids(**params: Any) -> set[str]:
                r = await c.get("/clearings", params={k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()})
                assert r.status_code == 200, r.text
                return {x["clearing_id"] for x in r.json()}

            assert booked["clearing_id"] in await ids(appointment_from=day_start, appointment_to=day_start + timedelta(days=1))
            assert booked["clearing_id"] not in await ids(appointment_from=day_start + timedelta(days=1), appointment_to=day_start + timedelta(days=2))
            assert booked["clearing_id"] in await ids(booked="true", household_id=household)
            assert booked["clearing_id"] not in await ids(booked="false")
            naive = await c.get("/clearings", params={"appointment_from": "2026-11-24T00:00:00"})
            assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["query", "appointment_from"]
            backwards = await c.get("/clearings", params={"appointment_from": day_start.isoformat(), "appointment_to": day_start.isoformat()})
            assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "appointment_to"]
