"""Caseload caps hold under concurrency (000: 1:190 per FTE): 300 cases opened at once for a district
with 3 caseworkers never push a caseload over its cap, on SQLite and on PostgreSQL; the rest waits
in the queue with the team lead alerted. Real databases, real casework handlers and outbox."""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa

from services.casework import handlers, store
from services.kit.broker import Delivery
from services.kit.db import Database
from tests.integration.casework_support import intake, runtime

CAPS = {"anna": 100, "ben": 90, "cem": 80}


class TestConcurrentAssignment:
    async def test_300_cases_to_3_caseworkers_never_exceed_a_cap(self, database_url: str) -> None:
        db = Database(database_url)
        async with db.engine.begin() as conn:
            await conn.run_sync(store.metadata.create_all)
        async with db.begin() as conn:
            for name, cap in CAPS.items():
                await conn.execute(store.caseworkers.insert().values(
                    username=name, districts=json.dumps(["Westen"]), languages=json.dumps(["de"]), fte=1.0, cap=cap, caseload=0, on_leave=False,
                ))
        rt = runtime(db)
        events = [intake() for _ in range(300)]
        await asyncio.gather(*(
            handlers.commit_intake_case(rt, e, Delivery(event=e, deliveries=1, consumer="casework:open_case", outbox=rt.outbox)) for e in events
        ))
        async with db.read() as conn:
            loads = {r.username: (r.caseload, r.cap) for r in await store.all_caseworkers(conn)}
            assigned = dict((await conn.execute(
                sa.select(store.cases.c.caseworker, sa.func.count()).where(store.cases.c.caseworker.is_not(None)).group_by(store.cases.c.caseworker)
            )).all())
            queued = (await conn.execute(sa.select(sa.func.count()).select_from(store.cases).where(store.cases.c.caseworker.is_(None),
                                                                                                   store.cases.c.queued_at.is_not(None)))).scalar_one()
            queued_events = (await conn.execute(sa.select(sa.func.count()).select_from(store.kit.outbox)
                                                .where(store.kit.outbox.c.event_type == "CaseQueued"))).scalar_one()
            alerts = (await conn.execute(sa.select(sa.func.count()).select_from(store.kit.alerts)
                                         .where(store.kit.alerts.c.kind == "caseload_full"))).scalar_one()
        await db.dispose()
        assert {name: load for name, (load, _) in loads.items()} == CAPS  # every place taken, none twice
        assert assigned == CAPS  # the counter matches the cases
        assert queued == queued_events == alerts == 300 - sum(CAPS.values())
