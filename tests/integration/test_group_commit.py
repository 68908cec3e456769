"""Reporting's live projections commit in groups (services/reporting/group_commit.py), on SQLite and
PostgreSQL: concurrent events go into few transactions, each exactly once; duplicates are refused as
already handled; a poison event fails alone while the rest of its batch commits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from services.contracts.events import CaseOpened
from services.kit import inbox
from services.kit.db import Database
from services.reporting import projection, store
from services.reporting.group_commit import GroupCommit

CONSUMER = "reporting:project"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    d = Database(database_url)
    async with d.engine.begin() as conn:
        await conn.run_sync(store.metadata.create_all)
    yield d
    await d.dispose()


def opened(n: int) -> list[CaseOpened]:
    at = datetime(2026, 8, 3, 9, tzinfo=UTC)
    out = []
    for _ in range(n):
        case = uuid.uuid4()
        out.append(CaseOpened(tenant="hamm", correlation_id=case, occurred_at=at, case_id=case, household_id=uuid.uuid4(),
                              programme="ABRA", district="Westen", member_ids=[uuid.uuid4()]))
    return out


def committer(db: Database, fail_on: set[uuid.UUID] | None = None) -> GroupCommit:
    async def apply(conn: Any, events: list[CaseOpened]) -> None:
        if fail_on and any(e.event_id in fail_on for e in events):
            raise ValueError("poison event")
        await projection.project_batch(conn, events, "Europe/Berlin")

    return GroupCommit(db, store.kit, apply)


async def counts(db: Database) -> tuple[int, int, int]:
    async with db.read() as conn:
        facts = (await conn.execute(sa.select(sa.func.count()).select_from(store.facts))).scalar_one()
        cases = (await conn.execute(sa.select(sa.func.count()).select_from(store.cases))).scalar_one()
        marks = (await conn.execute(sa.select(store.watermark.c.events))).scalars().all()
    return facts, cases, sum(marks)


async def outcomes(gc: GroupCommit, events: list[CaseOpened]) -> list[str]:
    results = await asyncio.gather(*(gc.submit(e, CONSUMER) for e in events), return_exceptions=True)
    return ["ok" if r is None else type(r).__name__ for r in results]


async def test_concurrent_events_share_transactions_and_duplicates_are_refused(db: Database) -> None:
    events = opened(300)
    gc = committer(db)
    got = await outcomes(gc, [*events, *events[:50]])  # 50 redeliveries arrive with the originals
    assert got.count("ok") == 300 and got.count("AlreadyHandled") == 50
    assert gc.transactions < 30  # grouped: one transaction per event would be 300
    assert await counts(db) == (300, 300, 300)
    assert await outcomes(gc, events[:10]) == ["AlreadyHandled"] * 10  # later redeliveries, found in the inbox
    assert await counts(db) == (300, 300, 300)


async def test_a_poison_event_fails_alone_and_the_rest_of_its_batch_commits(db: Database) -> None:
    events = opened(40)
    poison = events[17]
    gc = committer(db, fail_on={poison.event_id})
    got = await outcomes(gc, events)
    assert got[17] == "ValueError" and got.count("ok") == 39
    assert await counts(db) == (39, 39, 39)
    async with db.read() as conn:
        handled = set((await conn.execute(sa.select(store.kit.inbox.c.event_id))).scalars().all())
    assert poison.event_id not in handled and len(handled) == 39  # redelivered later, it is applied then
    gc_fixed = committer(db)
    assert await outcomes(gc_fixed, [poison]) == ["ok"]
    assert await counts(db) == (40, 40, 40)


async def test_an_event_recorded_by_the_one_by_one_path_is_a_duplicate_for_the_group(db: Database) -> None:
    (event,) = opened(1)
    async with db.begin() as conn:
        await inbox.record(conn, store.kit, CONSUMER, event.event_id)
    assert await outcomes(committer(db), [event]) == ["AlreadyHandled"]
    assert await counts(db) == (0, 0, 0)
