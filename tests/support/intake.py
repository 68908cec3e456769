"""Helpers for intake/clearing scenario tests on the embedded stack: publishing ABRA slots, reading
events from the streams, waiting for a clearing's state."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from redis.asyncio import Redis

from services.contracts.envelope import Event
from services.contracts.workdays import BERLIN, is_working_day
from tests.support.eventually import eventually
from tests.support.stack import RunningStack

_published: set[str] = set()


def today() -> date:
    return datetime.now(BERLIN).date()


async def publish_slots(stack: RunningStack, days: int = 60, per_day: int = 4, capacity: int = 10, coach: str = "abra") -> None:
    """Coaches publish slots on every working day of the next `days` days (once per stack)."""
    if str(stack.data_dir) in _published:
        return
    slots = []
    for d in range(days):
        day = today() + timedelta(days=d)
        if not is_working_day(day):
            continue
        for h in range(per_day):
            slots.append({"starts_at": datetime.combine(day, time(9 + 2 * h), tzinfo=BERLIN).isoformat(), "capacity": capacity})
    async with stack.client("intake", coach) as c:
        for i in range(0, len(slots), 400):
            r = await c.post("/abra/slots", json={"slots": slots[i : i + 400]})
            assert r.status_code == 201, r.text
    _published.add(str(stack.data_dir))


async def events(stack: RunningStack, cls: type[Event], **match: Any) -> list[dict[str, Any]]:
    from faststream.redis.parser.binary import BinaryMessageFormatV1

    redis = Redis.from_url(stack.redis_url)
    try:
        entries = await redis.xrange(cls.stream)
    finally:
        await redis.aclose()
    out = []
    for _, fields in entries:
        try:
            body, _ = BinaryMessageFormatV1.parse(fields[b"__data__"])
            data = json.loads(body)
        except Exception:
            continue
        if all(str(data.get(k)) == str(v) for k, v in match.items()):
            out.append(data)
    return out


async def clearings_of(stack: RunningStack, household_id: str) -> dict[str, dict[str, Any]]:
    async with stack.client("intake", "abra") as c:
        r = await c.get("/clearings", params={"household_id": household_id})
    assert r.status_code == 200, r.text
    return {c["person_id"]: c for c in r.json()}


async def booked_clearing(stack: RunningStack, household_id: str, person_id: str, attempt: int = 1) -> dict[str, Any]:
    async def booked() -> dict[str, Any]:
        c = (await clearings_of(stack, household_id))[person_id]
        assert c["attempt"] == attempt and c["appointment_at"] is not None, c
        return c

    return await eventually(booked, timeout=20, interval=0.2)


async def registration(stack: RunningStack, household_id: str) -> dict[str, dict[str, Any]]:
    async with stack.client("intake", "frontdesk") as c:
        r = await c.get(f"/households/{household_id}/registration-status")
    assert r.status_code == 200, r.text
    return {p["person_id"]: p for p in r.json()["persons"]}


INTERVIEW = {
    "living_situation": "Wohnung bei Verwandten",
    "migration_circumstances": "Arbeitssuche",
    "information_given": "Anmeldung, Krankenversicherung, Schule",
    "needs_found": ["work", "health_insurance"],
}
