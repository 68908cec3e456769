"""Retention (issue 12 P2; GDPR Art. 5(1)(e), Art. 17(1)(a)): casework's Temporal Schedule starts the
retention sweep, which asks intake to erase exactly the persons whose every case closed more than
CASEWORK_RETENTION_DAYS ago (the closure dates are set back in the database: a fast-forward of the data);
creating the schedule again finds it running. Intake erases on PersonRetentionElapsed once (inbox),
audited as the system, and announces PersonErased with ground "retention". Real Temporal dev server,
real SQLite databases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.casework import activities, store
from services.casework.domain import Phase
from services.casework.handlers_erasure import ensure_retention_schedule
from services.contracts.casework import PersonRetentionElapsed
from services.contracts.casework_retention import retention_schedule_id
from services.intake import handlers
from services.intake import store as intake_store
from services.intake.crypto import generate_master_key
from services.intake.runtime import IntakeRuntime
from services.intake.schemas import IntakeIn
from services.intake.settings import IntakeSettings
from services.kit.auth import Principal
from services.kit.broker import Delivery
from services.kit.db import Database, utc_now
from services.kit.inbox import AlreadyHandled
from services.kit.migrations import upgrade
from services.kit.outbox import Outbox
from services.kit.settings import PlatformSettings
from services.kit.temporal import make_worker
from tests.integration.casework_support import events, runtime
from tests.support.eventually import eventually
from tests.support.stack import intake_payload, person
from workflows.retention_sweep import RetentionSweep

RETENTION_DAYS = 1095


async def closed_case(db: Database, *members: uuid.UUID, closed_days_ago: int | None) -> None:
    case_id = uuid.uuid4()
    closed = utc_now() - timedelta(days=closed_days_ago) if closed_days_ago is not None else None
    async with db.begin() as conn:
        await store.insert_case(conn, id=case_id, household_id=uuid.uuid4(), programme="Soziales Fallmanagement", district="Westen",
                                phase=Phase.CLOSED if closed else Phase.ENTRY, opened_at=utc_now() - timedelta(days=2000), closed_at=closed)
        for pid in members:
            await store.save_member(conn, case_id, pid, adult=True, employable=True, residence_status="recognised_refugee")


class TestRetentionSweepSchedule:
    async def test_the_schedule_requests_erasure_only_of_persons_past_retention(self, temporal_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        due, recent, still_open, erased = (uuid.uuid4() for _ in range(4))
        await closed_case(casework_db, due, closed_days_ago=RETENTION_DAYS + 1)
        await closed_case(casework_db, recent, closed_days_ago=RETENTION_DAYS - 1)
        await closed_case(casework_db, still_open, closed_days_ago=RETENTION_DAYS + 400)
        await closed_case(casework_db, still_open, closed_days_ago=None)  # a later case of theirs is open
        await closed_case(casework_db, erased, closed_days_ago=RETENTION_DAYS + 10)
        async with casework_db.begin() as conn:
            await conn.execute(store.erased_persons.insert().values(person_id=erased, erased_at=utc_now(), ground="request"))
        tenant = f"t{uuid.uuid4().hex[:8]}"
        rt = runtime(casework_db, temporal=temporal_env.client, retention_days=RETENTION_DAYS)
        rt.platform = PlatformSettings(tenant=tenant)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(temporal_env.client, queue, workflows=[RetentionSweep], activities=activities.activities(rt)):
            assert await ensure_retention_schedule(rt, queue) is True
            assert await ensure_retention_schedule(rt, queue) is False  # a restart finds it running
            schedule = temporal_env.client.get_schedule_handle(retention_schedule_id(tenant))
            try:
                await schedule.trigger()

                async def requested() -> list[dict]:
                    found = await events(casework_db, "PersonRetentionElapsed")
                    assert found
                    return found

                found = await eventually(requested, timeout=30)
            finally:
                await schedule.delete()
        assert [(e["person_id"], e["retention_days"]) for e in found] == [(str(due), RETENTION_DAYS)]


@pytest.fixture
async def intake_rt(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
    await asyncio.to_thread(upgrade, "intake", url)
    db = Database(url)
    yield IntakeRuntime("intake", PlatformSettings(), IntakeSettings(master_key=generate_master_key()), db, intake_store.kit, Outbox(db, intake_store.kit),
                        None, None)  # type: ignore[arg-type]
    await db.dispose()


class TestIntakeErasesAfterRetention:
    async def test_erased_once_audited_as_the_system_with_ground_retention(self, intake_rt: IntakeRuntime) -> None:
        rt = intake_rt
        front = Principal("frontdesk", frozenset({"front_desk"}))
        created, _ = await handlers.complete_intake(rt, front, IntakeIn.model_validate(intake_payload(person("Retentia", "Ablaufend"))), None)
        pid = created.person_ids[0]
        event = PersonRetentionElapsed(tenant="hamm", correlation_id=pid, person_id=pid, retention_days=RETENTION_DAYS)
        delivery = Delivery(event=event, deliveries=1, consumer="intake:erase_after_retention", outbox=rt.outbox)
        await handlers.erase_after_retention(rt, event, delivery)
        with pytest.raises(AlreadyHandled):
            await handlers.erase_after_retention(rt, event, delivery)
        unknown = uuid.uuid4()
        other = PersonRetentionElapsed(tenant="hamm", correlation_id=unknown, person_id=unknown, retention_days=RETENTION_DAYS)
        await handlers.erase_after_retention(rt, other, Delivery(event=other, deliveries=1, consumer="intake:erase_after_retention", outbox=rt.outbox))
        async with rt.db.read() as conn:
            keys = await intake_store.wrapped_keys(conn, [pid])
            outbox = intake_store.kit.outbox
            erased = (await conn.execute(sa.select(outbox.c.payload).where(outbox.c.event_type == "PersonErased"))).scalars().all()
            audit = (await conn.execute(sa.select(intake_store.kit.audit.c.actor, intake_store.kit.audit.c.action, intake_store.kit.audit.c.record_id)
                                        .where(intake_store.kit.audit.c.action == "erase"))).all()
        assert dict(keys) == {}
        assert len(erased) == 1 and '"ground":"retention"' in erased[0].replace(" ", "")
        assert [tuple(a) for a in audit] == [("system", "erase", str(pid))]

