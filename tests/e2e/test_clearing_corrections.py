"""Issue 14 through the real stack (HTTP, Redis Streams, Temporal with time skipping, SQLite): a corrected
move-in date moves the ABRA clearing's deadline, reminder and missed mark (once, also when the event is
delivered again); clearing slots only on working days; the front desk records registrations of residence
for every route, and the gate shows them."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from services.contracts.events import IntakeCorrected, PersonRegistered, RegistrationDeadlineMissed
from services.contracts.intake_workflows import household_clearing_workflow_id
from services.contracts.workdays import BERLIN
from tests.support.eventually import eventually
from tests.support.intake import INTERVIEW, booked_clearing, clearings_of, events, publish_slots, registration, today
from tests.support.stack import RunningStack, intake_payload, person
from tests.support.web import csrf_of, sign_in, web_client

pytestmark = pytest.mark.stack


async def post_intake(stack: RunningStack, payload: dict[str, Any]) -> dict[str, Any]:
    async with stack.client("intake", "frontdesk") as c:
        r = await c.post("/intakes", json=payload)
    assert r.status_code == 201, r.text
    return r.json()


async def alert_kinds(stack: RunningStack, user: str, subject_id: str) -> list[str]:
    async with stack.client("intake", user) as c:
        r = await c.get("/alerts", params={"subject_id": subject_id})
    assert r.status_code == 200, r.text
    return sorted(a["kind"] for a in r.json())


async def redeliver(stack: RunningStack, cls: type, event_id: str) -> None:
    """Puts the stream entry of `event_id` on its stream once more and waits until intake's consumer group
    has taken and acknowledged it."""
    redis = Redis.from_url(stack.redis_url)
    try:
        fields = next(f for _, f in await redis.xrange(cls.stream) if event_id.encode() in f[b"__data__"])
        again = await redis.xadd(cls.stream, fields)

        async def acknowledged() -> None:
            group = next(g for g in await redis.xinfo_groups(cls.stream) if g["name"] == b"intake")
            assert tuple(map(int, group["last-delivered-id"].split(b"-"))) >= tuple(map(int, again.split(b"-")))
            assert await redis.xpending_range(cls.stream, "intake", min=again, max=again, count=1) == []

        await eventually(acknowledged, timeout=15)
    finally:
        await redis.aclose()


async def workflow_updates(stack: RunningStack, intake_id: str, name: str) -> int:
    """How many `name` updates the household's clearing workflow accepted (for all its persons)."""
    client = await stack.temporal()
    history = [e async for e in client.get_workflow_handle(household_clearing_workflow_id(uuid.UUID(intake_id))).fetch_history_events()]
    return sum(1 for e in history if e.HasField("workflow_execution_update_accepted_event_attributes")
               and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name == name)


class TestCorrectedMoveInDate:
    async def test_an_earlier_move_in_date_moves_the_deadline_reminds_and_marks_it_missed_once(self, stack: RunningStack) -> None:
        """Two Romanians moved in today and are booked. The front desk corrects Elena's move-in date to
        20 days ago (deadline passed: missed at once) and Radu's to 11 days ago (reminder due, deadline in
        3 days). A redelivered IntakeCorrected changes nothing."""
        await publish_slots(stack)
        payload = intake_payload(
            person("Elena", "Moldovan", "1990-03-03", "RO", move_in_date=today().isoformat()),
            person("Radu", "Moldovan", "1988-04-04", "RO", sex="male", relation="partner", move_in_date=today().isoformat()),
        )
        created = await post_intake(stack, payload)
        household, (elena, radu) = created["household_id"], created["person_ids"]
        booked = {p: await booked_clearing(stack, household, p) for p in (elena, radu)}
        corrected = [
            dict(payload["household"]["persons"][0], person_id=elena, move_in_date=(today() - timedelta(days=20)).isoformat()),
            dict(payload["household"]["persons"][1], person_id=radu, move_in_date=(today() - timedelta(days=11)).isoformat()),
        ]
        async with stack.client("intake", "frontdesk") as c:
            r = await c.put(f"/intakes/{created['intake_id']}", json={"household": {"district": "Westen", "persons": corrected}})
        assert r.status_code == 200, r.text

        gate = await registration(stack, household)
        assert gate[elena]["registration_deadline"] == (today() - timedelta(days=6)).isoformat()
        assert gate[radu]["registration_deadline"] == (today() + timedelta(days=3)).isoformat()

        async def followed() -> None:
            clearings = await clearings_of(stack, household)
            assert (clearings[elena]["deadline_missed"], clearings[radu]["deadline_missed"]) == (True, False)
            assert [e["deadline"] for e in await events(stack, RegistrationDeadlineMissed, person_id=elena)] == [(today() - timedelta(days=6)).isoformat()]
            assert await events(stack, RegistrationDeadlineMissed, person_id=radu) == []
            for p in (elena, radu):
                assert await alert_kinds(stack, "abra", booked[p]["clearing_id"]) == ["clearing_reminder"]
            assert await alert_kinds(stack, "frontdesk", household) == ["registration_deadline_missed"]

        await eventually(followed, timeout=20)
        gate = await registration(stack, household)
        assert "Frist versäumt" in gate[elena]["reason"] and gate[elena]["deadline_missed"]
        assert "Frist versäumt" not in gate[radu]["reason"] and not gate[radu]["deadline_missed"]

        (event,) = await events(stack, IntakeCorrected, intake_id=created["intake_id"])
        await redeliver(stack, IntakeCorrected, event["event_id"])
        assert await workflow_updates(stack, created["intake_id"], "correct_move_in") == 2  # one per person, none for the redelivery
        assert len(await events(stack, RegistrationDeadlineMissed, person_id=elena)) == 1
        assert (await registration(stack, household))[elena]["registration_deadline"] == (today() - timedelta(days=6)).isoformat()


def next_sunday() -> date:
    return today() + timedelta(days=7 - today().isoweekday() or 7)


class TestSlotsOnWorkingDaysOnly:
    async def test_a_slot_on_a_holiday_or_a_sunday_is_refused_with_the_reason_and_nothing_is_published(self, stack: RunningStack) -> None:
        christmas = date(today().year if today() < date(today().year, 12, 25) else today().year + 1, 12, 25)
        sunday = next_sunday()
        working = today() + timedelta(days=1)
        while working.weekday() >= 5 or working == christmas:
            working += timedelta(days=1)
        slots = [{"starts_at": datetime.combine(d, time(10, 17), tzinfo=BERLIN).isoformat()} for d in (working, christmas, sunday)]
        async with stack.client("intake", "abra") as c:
            r = await c.post("/abra/slots", json={"slots": slots})
            assert r.status_code == 422, r.text
            detail = {tuple(d["loc"]): d["msg"] for d in r.json()["detail"]}
            assert detail == {
                ("body", "slots", "1", "starts_at"): f"{christmas.isoformat()} ist ein Feiertag in NRW (1. Weihnachtstag)",
                ("body", "slots", "2", "starts_at"): f"{sunday.isoformat()} ist ein Sonntag, kein Arbeitstag",
            }
            listed = (await c.get("/abra/slots", params={"start": datetime.combine(working, time(0), tzinfo=BERLIN).isoformat(), "days": 1})).json()
        assert [s for s in listed if datetime.fromisoformat(s["starts_at"]).astimezone(BERLIN).time() == time(10, 17)] == []

    async def test_the_coachs_publish_form_names_the_holiday_at_the_date_field(self, stack: RunningStack) -> None:
        christmas = date(today().year if today() < date(today().year, 12, 25) else today().year + 1, 12, 25)
        async with web_client(stack) as c:
            await sign_in(stack, c, "abra")
            cal = await c.get("/clearing/kalender")
            r = await c.post("/clearing/termine",
                             data={"csrf_token": csrf_of(cal.text), "datum": christmas.isoformat(), "uhrzeiten": "09:00", "kapazitaet": "1"})
        assert r.status_code == 422
        assert f"Keine Termine an diesem Tag: {christmas:%d.%m.%Y} ist ein Feiertag in NRW (1. Weihnachtstag)." in r.text
        assert 'id="datum-fehler"' in r.text and 'aria-invalid="true"' in r.text


class TestRegistrationRecorded:
    async def test_the_front_desk_records_a_registration_for_a_refugee_once_and_the_gate_shows_it(self, stack: RunningStack) -> None:
        moved = today() - timedelta(days=3)
        created = await post_intake(stack, intake_payload(person("Samir", "Aziz", "1985-02-02", move_in_date=moved.isoformat())))
        household, (pid,) = created["household_id"], created["person_ids"]
        gate = (await registration(stack, household))[pid]
        assert gate["allowed"] and gate["registered_on"] is None and gate["registration_deadline"] == (moved + timedelta(days=14)).isoformat()
        async with stack.client("intake", "frontdesk") as c:
            future = await c.post(f"/persons/{pid}/registration", json={"registered_on": (today() + timedelta(days=1)).isoformat()})
            before = await c.post(f"/persons/{pid}/registration", json={"registered_on": (moved - timedelta(days=1)).isoformat()})
            first = await c.post(f"/persons/{pid}/registration", json={"registered_on": today().isoformat()})
            again = await c.post(f"/persons/{pid}/registration", json={"registered_on": today().isoformat()})
            other = await c.post(f"/persons/{pid}/registration", json={"registered_on": moved.isoformat()})
        assert (future.status_code, future.json()["detail"][0]["loc"]) == (422, ["body", "registered_on"])
        assert (before.status_code, before.json()["detail"][0]["loc"]) == (422, ["body", "registered_on"])
        assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
        assert again.json() == first.json() and first.json()["within_deadline"] is True
        gate = (await registration(stack, household))[pid]
        assert gate["registered_on"] == today().isoformat() and gate["reason"] == f"Anmeldung erfolgt am {today():%d.%m.%Y}."

        async def published() -> None:
            (event,) = await events(stack, PersonRegistered, person_id=pid)
            assert (event["registered_on"], event["within_deadline"], event["days_after_move_in"]) == (today().isoformat(), True, 3)
            assert "Samir" not in json.dumps(event) and "Aziz" not in json.dumps(event)

        await eventually(published, timeout=10)
        async with stack.client("intake", "abra") as c:
            assert (await c.post(f"/persons/{pid}/registration", json={"registered_on": today().isoformat()})).status_code == 403

    async def test_a_clearing_person_registers_only_after_the_clearing_completed(self, stack: RunningStack) -> None:
        await publish_slots(stack)
        created = await post_intake(stack, intake_payload(person("Ana", "Stan", "1993-03-03", "RO", move_in_date=today().isoformat())))
        household, (pid,) = created["household_id"], created["person_ids"]
        c = await booked_clearing(stack, household, pid)
        async with stack.client("intake", "frontdesk") as client:
            blocked = await client.post(f"/persons/{pid}/registration", json={"registered_on": today().isoformat()})
        assert blocked.status_code == 409
        async with stack.client("intake", "abra", timeout=30) as client:
            assert (await client.post(f"/clearings/{c['clearing_id']}/interview", json=INTERVIEW)).status_code == 200
        async with stack.client("intake", "frontdesk") as client:
            done = await client.post(f"/persons/{pid}/registration", json={"registered_on": today().isoformat()})
        assert done.status_code == 201, done.text
        gate = (await registration(stack, household))[pid]
        assert gate["allowed"] and gate["registered_on"] == today().isoformat() and not gate["deadline_missed"]
