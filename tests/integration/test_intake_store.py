"""Intake's commands against a real database migrated to head (SQLite and PostgreSQL): an intake is stored
encrypted with its events, a correction publishes the corrected picture, erasure shreds the person."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import sqlalchemy as sa

from services.intake import handlers, handlers_drafts, store
from services.intake.crypto import generate_master_key
from services.intake.runtime import IntakeRuntime
from services.intake.schemas import HouseholdIn, IntakeIn
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
    yield IntakeRuntime("intake", PlatformSettings(), IntakeSettings(master_key=generate_master_key()), db, store.kit, Outbox(db, store.kit), None,
                        None)  # type: ignore[arg-type]
    await db.dispose()


async def emitted(rt: Runtime) -> list[str]:
    async with rt.db.read() as conn:
        return [r.event_type for r in await conn.execute(sa.select(store.kit.outbox.c.event_type).order_by(store.kit.outbox.c.seq))]


class TestIntakeStore:
    async def test_complete_correct_and_erase(self, rt: Runtime) -> None:
        payload = intake_payload(person("Ana", "Pop", "1990-01-01", "RO", move_in_date="2026-11-02"),
                                 person("Ion", "Pop", "1989-01-01", "RO", relation="partner", move_in_date="2026-11-02"))
        created, new = await handlers.complete_intake(rt, FRONT_DESK, IntakeIn.model_validate(payload), "k1")
        assert new
        # the routes come with IntakeCompleted; PersonRouted follows corrections only
        assert await emitted(rt) == ["ArrivalRecorded", "ArrivalRecorded", "ClearingStarted", "ClearingStarted", "IntakeCompleted"]
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
        tail = (await emitted(rt))[5:]
        assert tail.count("ArrivalRetracted") == 2 and tail.count("PersonRouted") == 2 and tail[-1] == "IntakeCorrected"
        with pytest.raises(Invalid):
            await handlers.correct_intake(rt, FRONT_DESK, created.intake_id, household, [uuid.uuid4(), None])

        await handlers.erase_person(rt, OPERATOR, created.person_ids[0], ("operator",))
        async with rt.db.read() as conn:
            stored = await handlers.read_intake(rt, conn, created.intake_id)
            keys = await store.wrapped_keys(conn, created.person_ids)
        assert stored is not None and stored.persons[0].model_dump() == {"person_id": created.person_ids[0], "erased": True}
        assert list(keys) == [created.person_ids[1]]
        async with rt.db.read() as conn:
            last = (await conn.execute(sa.select(store.kit.outbox.c.event_type, store.kit.outbox.c.payload).order_by(store.kit.outbox.c.seq.desc()))).first()
        assert last is not None and last.event_type == "PersonErased"  # casework and funding shred their texts on it
        payload = json.loads(last.payload)
        assert (payload["person_id"], payload["ground"]) == (str(created.person_ids[0]), "request")
        assert set(payload) - {"event_id", "event_type", "schema_version", "occurred_at", "tenant", "correlation_id", "causation_id"} == {"person_id", "ground"}
        with pytest.raises(Conflict):
            await handlers.correct_intake(rt, FRONT_DESK, created.intake_id, household, created.person_ids)


FRONT_DESK_2 = Principal("frontdesk2", frozenset({"front_desk"}))


async def _list(rt: Runtime, who: Principal = FRONT_DESK, *, mine_only: bool = True, state: str = "open", limit: int = 50,
                offset: int = 0):  # type: ignore[no-untyped-def]
    return await handlers_drafts.list_drafts(rt, who, mine_only=mine_only, state=state, updated_since=None, limit=limit, offset=offset)


class TestDraftList:
    async def test_own_and_team_drafts_by_state_newest_first_with_names(self, rt: Runtime) -> None:
        mine = await handlers_drafts.save_draft(rt, FRONT_DESK, None,
                                                {"household": {"district": "Westen",
                                                               "persons": [{"given_name": "Ana", "family_name": "Pop", "date_of_birth": "1990-01-01"},
                                                                           {"given_name": "Ion", "family_name": "Test", "date_of_birth": "1990-01-01"}]}})
        theirs = await handlers_drafts.save_draft(rt, FRONT_DESK_2, None, {"household": {"persons": []}})
        done = await handlers_drafts.save_draft(rt, FRONT_DESK, None, intake_payload(person("Nour", "Saleh")))
        completed, _ = await handlers_drafts.complete_draft(rt, FRONT_DESK_2, done.draft_id)  # a colleague completes it

        own = await _list(rt)
        assert (own.total, [d.draft_id for d in own.drafts]) == (1, [mine.draft_id])
        line = own.drafts[0]
        assert (line.person_count, line.district, line.names, line.readable, line.created_by) == (2, "Westen", ["Ana Pop", "Ion Test"], True, "frontdesk")
        team = await _list(rt, mine_only=False)
        assert [d.draft_id for d in team.drafts] == [theirs.draft_id, mine.draft_id]
        assert team.drafts[0].names == [] and team.drafts[0].person_count == 0
        finished = await _list(rt, state="completed")
        assert [(d.draft_id, d.completed_intake_id, d.person_count, d.district, d.names) for d in finished.drafts] == [
            (done.draft_id, completed.intake_id, 1, "Westen", [])
        ]
        assert finished.drafts[0].household_id == completed.household_id
        assert (await _list(rt, FRONT_DESK_2, state="any")).total == 1

    async def test_pages_and_total(self, rt: Runtime) -> None:
        saved = [await handlers_drafts.save_draft(rt, FRONT_DESK, None,
                                                  {"household": {"persons": [{"given_name": f"P{i}", "family_name": "Test",
                                                                              "date_of_birth": "1990-01-01"}]}}) for i in range(5)]
        first, second = await _list(rt, limit=2), await _list(rt, limit=2, offset=4)
        assert (first.total, second.total) == (5, 5)
        assert [d.draft_id for d in first.drafts] == [saved[4].draft_id, saved[3].draft_id]
        assert [d.draft_id for d in second.drafts] == [saved[0].draft_id]

    async def test_each_draft_whose_names_were_shown_is_audit_logged(self, rt: Runtime) -> None:
        a = await handlers_drafts.save_draft(rt, FRONT_DESK, None,
                                             {"household": {"persons": [{"given_name": "Ana", "family_name": "Test", "date_of_birth": "1990-01-01"}]}})
        b = await handlers_drafts.save_draft(rt, FRONT_DESK_2, None,
                                             {"household": {"persons": [{"given_name": "Ion", "family_name": "Test", "date_of_birth": "1990-01-01"}]}})
        await _list(rt, FRONT_DESK_2, mine_only=False)
        audit = store.kit.audit
        async with rt.db.read() as conn:
            rows = (await conn.execute(sa.select(audit.c.actor, audit.c.record_id).where(audit.c.action == "list"))).all()
        assert sorted(rows) == sorted([("frontdesk2", str(a.draft_id)), ("frontdesk2", str(b.draft_id))])

    async def test_a_draft_whose_key_was_erased_is_listed_without_names(self, rt: Runtime) -> None:
        shredded = await handlers_drafts.save_draft(rt, FRONT_DESK, None,
                                                    {"household": {"district": "Mitte",
                                                                   "persons": [{"given_name": "Ana", "family_name": "Test", "date_of_birth": "1990-01-01"}]}})
        kept = await handlers_drafts.save_draft(rt, FRONT_DESK, None,
                                                {"household": {"persons": [{"given_name": "Ion", "family_name": "Test", "date_of_birth": "1990-01-01"}]}})
        async with rt.db.begin() as conn:
            await conn.execute(store.data_keys.delete().where(store.data_keys.c.subject_id == shredded.draft_id))
        listed = {d.draft_id: d for d in (await _list(rt)).drafts}
        assert (listed[shredded.draft_id].readable, listed[shredded.draft_id].names, listed[shredded.draft_id].district) == (False, [], None)
        assert listed[kept.draft_id].names == ["Ion Test"]
        with pytest.raises(Conflict):
            await handlers_drafts.load_draft(rt, FRONT_DESK, shredded.draft_id)
