"""Drive the embedded stack as a user would (`RunningStack`, `cli`: in deploy/embedded.py, shared with the
benchmarks), and the intake payloads the tests post to it."""

from __future__ import annotations

import sqlite3
from typing import Any

from redis.asyncio import Redis

from deploy.embedded import FAST_RECLAIM, TIME_SKIPPING, RunningStack, cli
from services.kit.migrations import SERVICES

__all__ = ["FAST_RECLAIM", "TIME_SKIPPING", "RunningStack", "cli", "intake_payload", "person", "quiet"]


def _entry(entry_id: bytes) -> tuple[int, ...]:
    return tuple(int(part) for part in entry_id.split(b"-"))


async def quiet(stack: RunningStack, streams: tuple[str, ...]) -> None:
    """Raises AssertionError while the shared stack still has work in flight from earlier tests: an
    unpublished outbox row in any service, or a consumer group of one of `streams` with pending entries or
    entries not yet delivered. A test that counts aggregates (KPIs) waits for this first
    (`eventually(lambda: quiet(stack, streams))`), so an earlier test's late event does not land in its window."""
    for svc in SERVICES:
        with sqlite3.connect(stack.data_dir / f"{svc}.db") as conn:
            unpublished = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
        assert unpublished == 0, f"{svc}: {unpublished} outbox rows not yet published"
    redis = Redis.from_url(stack.redis_url)
    try:
        for stream in streams:
            if not await redis.exists(stream):
                continue
            last = (await redis.xinfo_stream(stream))["last-generated-id"]
            for group in await redis.xinfo_groups(stream):
                assert group["pending"] == 0, (stream, group["name"], group["pending"])
                assert _entry(group["last-delivered-id"]) >= _entry(last), (stream, group["name"], "not yet read")
    finally:
        await redis.aclose()


def person(given: str = "Ivana", family: str = "Petrova", born: str = "1990-04-02", nationality: str = "SY", **extra: Any) -> dict[str, Any]:
    """A complete intake interview of one person; by default a Syrian recognised refugee (casework route).
    Every field can be overridden through `extra` (e.g. residence_status, move_in_date, relation)."""
    return {
        "given_name": given, "family_name": family, "date_of_birth": born, "sex": "female", "relation": "head",
        "nationality": nationality, "languages": [{"code": "ar"}], "german_level": "A1", "literate": True,
        "schooling_years": 10, "highest_certificate": "secondary", "vocational_qualification": None,
        "work_experience_years": 5, "able_to_work": True, "wants_registration": True, "health_insurance": "statutory",
        "residence_status": "eu_free_movement" if nationality in ("BG", "RO") else "german" if nationality == "DE" else "recognised_refugee",
        "move_in_date": "2026-11-02",
        "consents": [{"partner": "social_casework", "purpose": "counselling", "given_on": "2026-11-02"}], **extra,
    }


def intake_payload(*persons: dict[str, Any], district: str = "Westen") -> dict[str, Any]:
    return {"household": {"district": district, "persons": list(persons) or [person()]}}
