"""Intake's commands against a real database migrated to head (SQLite and PostgreSQL): an intake is stored
encrypted with its events, a correction publishes the corrected picture, erasure shreds the person."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from services.intake import handlers, store
from services.intake.crypto import generate_master_key
from services.intake.domain import HouseholdIn, IntakeIn
from services.intake.settings import IntakeSettings
from services.kit.auth import Principal
from services.kit.db import Database
from services.kit.errors import Conflict, Invalid
from services.kit.migrations import upgrade
from services.kit.outbox import Outbox
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings
from tests.support.stack import intake_payload, person

FRONT_DESK = Principal("frontdesk", frozenset({"front_desk"}))
OPERATOR = Principal("operator", frozenset({"operator"}))


@pytest.fixture
async def rt(database_url: str):  # type: ignore[no-untyped-def]
    await asyncio.to_thread(upgrade, "intake", database_url)
    db = Database(database_url)
    yield Runtime("intake", PlatformSettings(), IntakeSettings(master_key=generate_master_key()), db, store.kit, Outbox(db, store.kit), None, None)  # type: ignore[arg-type]
    await db.dispose()


async def emitted(rt: Runtime) -> list[str]:
    async with rt.db.read() as conn:
        return [r.event_type for r in await conn.execute(sa.select(store.kit.outbox.c.event_type).order_by(store.kit.outbox.c.seq))]


class TestIntakeStore:
    async def test_complete_correct_and_erase(self, rt: Runtime) -> None:
        payload = intake_payload(person("Ana", "Pop", "1990-01-01", "RO", move_in_date="2026-11-02"), person("Ion", "Pop", "1989-01-01", "RO", relation="partner", move_in_date="2026-11-02"))
        created, new = await handlers.complete_intake(rt, FRONT_DESK, IntakeIn.model_validate(payload), "k1")
        assert new
        assert await emitted(rt) == ["ArrivalRecorded", "PersonRouted", "ArrivalRecorded", "PersonRouted", "ClearingStarted", "ClearingStarted", "IntakeCompleted"]
        again, new = await handlers.complete_intake(rt, FRONT_DESK, IntakeIn.model_validate(payload), "k1")
        assert not new and again == created
        async with rt.db.read() as conn:
            blob = (await conn.execute(sa.select(store.persons.c.sealed).where(store.persons.c.id == created.person_ids[0]))).scalar_one()
            stored = await handlers.read_intake(rt, conn, created.intake_id)
        assert b"Ana" not in blob
        assert stored is not None and [p.given_name for p in stored.persons] == ["Ana", "Ion"]  # type: ignore[union-attr]

        corrected = dict(payload["household"]["persons"][0], nationality="DE", residence_status="german")
        household = HouseholdIn.model_validate({"district": "Mitte", "persons": [corrected, payload["household"]["persons"][1]]})
        out = await handlers.correct_intake(rt, FRONT_DESK, created.intake_id, household, created.person_ids)
        assert out.correction_no == 1 and out.district == "Mitte"
        assert [p.derived.routes for p in out.persons] == [["information"], ["abra_clearing"]]  # type: ignore[union-attr]
        tail = (await emitted(rt))[7:]
        assert tail.count("ArrivalRetracted") == 2 and tail.count("PersonRouted") == 2 and tail[-1] == "IntakeCorrected"
        with pytest.raises(Invalid):
            await handlers.correct_intake(rt, FRONT_DESK, created.intake_id, household, [uuid.uuid4(), None])

        await handlers.erase_person(rt, OPERATOR, created.person_ids[0], ("operator",))
        async with rt.db.read() as conn:
            stored = await handlers.read_intake(rt, conn, created.intake_id)
            keys = await store.wrapped_keys(conn, created.person_ids)
        assert stored is not None and stored.persons[0].model_dump() == {"person_id": created.person_ids[0], "erased": True}
        assert list(keys) == [created.person_ids[1]]
        with pytest.raises(Conflict):
            await handlers.correct_intake(rt, FRONT_DESK, created.intake_id, household, created.person_ids)
