"""Erasure everywhere (GDPR Art. 17, issue 12 P2): intake's PersonErased makes casework shred the person's
free texts (their goals with every revision, their referrals' notes; the case's notes and household
goals only when no member is left unerased) and funding shred their hardship applications' purpose and
justification. Idempotent, audited, and the text is gone from the SQLite file and its WAL too (secure_delete,
WAL truncated). Real SQLite databases, real handlers and inbox."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.casework import handlers_erasure, store, store_plans
from services.casework.domain import Phase, goal_snapshot
from services.contracts.events import PersonErased
from services.funding import handlers_erasure as funding_erasure
from services.funding import store as funding_store
from services.kit.broker import Delivery
from services.kit.db import Database, utc_now
from services.kit.outbox import Outbox
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings
from tests.integration.casework_support import runtime

CANARY = "Zyxwvuts-Kanarienvogel-7431"


def erased(person_id: uuid.UUID) -> PersonErased:
    return PersonErased(tenant="hamm", correlation_id=person_id, person_id=person_id, ground="request")


async def deliver(rt: Runtime, handler, event: PersonErased, consumer: str) -> None:  # type: ignore[no-untyped-def]
    await handler(rt, event, Delivery(event=event, deliveries=1, consumer=consumer, outbox=rt.outbox))


def disk_hits(path: Path, text: str) -> int:
    """Occurrences of the text in the database file and its -wal (what a disk image holds)."""
    return sum(p.read_bytes().count(text.encode()) for p in (path, Path(f"{path}-wal")) if p.exists())


async def casework_db(tmp_path: Path) -> tuple[Runtime, Path]:
    path = tmp_path / "casework.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.engine.begin() as conn:
        await conn.run_sync(store.metadata.create_all)
    return runtime(db), path


async def household_case(rt: Runtime, *people: uuid.UUID, mark: str = CANARY) -> uuid.UUID:
    """A case of `people` with, per person, a goal and a referral with a note, plus a household goal,
    a contact note and a resource check, every text carrying `mark` and the person's index."""
    case_id = uuid.uuid4()
    async with rt.outbox.transaction() as tx:
        await store.insert_case(tx.conn, id=case_id, household_id=uuid.uuid4(), programme="Soziales Fallmanagement", district="Westen",
                                phase=Phase.PLANNING, opened_at=utc_now())
        for i, pid in enumerate([*people, None]):
            if pid is not None:
                await store.save_member(tx.conn, case_id, pid, adult=True, employable=True, residence_status="recognised_refugee")
                await tx.conn.execute(store.referrals.insert().values(
                    id=uuid.uuid4(), case_id=case_id, person_id=pid, partner="job_centre", purpose="referral", status="open",
                    made_on=date(2026, 11, 2), made_at=utc_now(), note=f"{mark} referral {i}"))
            goal = dict(id=uuid.uuid4(), case_id=case_id, person_id=pid, field_of_action=3, title=f"{mark} goal {i}",
                        target_date=date(2027, 6, 1), responsible="client", status="open", revision=1)
            await _goal(tx, goal)
        await store.note(tx.conn, case_id, "contact_note", "caseworker", text=f"{mark} contact")
        await store_plans.save_resource_check(tx.conn, case_id, {"housing": f"{mark} answer"})
    return case_id


async def _goal(tx, goal: dict) -> None:  # type: ignore[no-untyped-def]
    """A goal as casework sets it: the row, its first revision and the timeline's goal_set entry."""
    await store_plans.insert_goal(tx.conn, **goal)
    await store_plans.insert_goal_revision(tx.conn, goal["id"], 1, goal_snapshot(goal), "caseworker")
    await store.note(tx.conn, goal["case_id"], "goal_set", "caseworker", goal_id=goal["id"], revision=1, **goal_snapshot(goal))


async def texts(rt: Runtime) -> str:
    """Every text column casework holds about cases, as one string."""
    async with rt.db.read() as conn:
        parts = [*(await conn.execute(sa.select(store.goals.c.title))).scalars(), *(await conn.execute(sa.select(store.goal_revisions.c.snapshot))).scalars(),
                 *(await conn.execute(sa.select(store.timeline.c.detail))).scalars(), *(await conn.execute(sa.select(store.referrals.c.note))).scalars(),
                 *(await conn.execute(sa.select(store.plans.c.resource_check))).scalars()]
    return json.dumps([p for p in parts if p])


class TestCaseworkShredsThePersonsTexts:
    async def test_one_person_case_loses_every_free_text_and_keeps_its_figures(self, tmp_path: Path) -> None:
        rt, path = await casework_db(tmp_path)
        alone = uuid.uuid4()
        for n in range(12):  # other cases around it on the same pages
            await household_case(rt, uuid.uuid4(), mark=f"Other-{n:02}")
        case_id = await household_case(rt, alone)
        for n in range(12, 24):
            await household_case(rt, uuid.uuid4(), mark=f"Other-{n:02}")
        assert disk_hits(path, CANARY) > 0
        await deliver(rt, handlers_erasure.erase_person, erased(alone), "casework:erase_person_texts")
        left = await texts(rt)
        assert CANARY not in left and "Other-23 contact" in left
        async with rt.db.read() as conn:
            goals = await store_plans.case_goals(conn, case_id)
            assert [(g.status, g.field_of_action) for g in goals] == [("open", 3), ("open", 3)]  # counts and statuses stay
            assert len(await store.timeline_of(conn, case_id)) == 3
        assert disk_hits(path, CANARY) == 0  # while the service runs: not in free pages, not in the WAL
        await rt.db.dispose()

    async def test_household_case_keeps_the_others_texts_until_the_last_member_is_erased(self, tmp_path: Path) -> None:
        rt, _ = await casework_db(tmp_path)
        first, second = uuid.uuid4(), uuid.uuid4()
        await household_case(rt, first, second)
        await deliver(rt, handlers_erasure.erase_person, erased(first), "casework:erase_person_texts")
        left = await texts(rt)
        assert f"{CANARY} goal 0" not in left and f"{CANARY} referral 0" not in left
        assert all(f"{CANARY} {t}" in left for t in ("goal 1", "referral 1", "goal 2", "contact", "answer"))
        await deliver(rt, handlers_erasure.erase_person, erased(second), "casework:erase_person_texts")
        assert CANARY not in await texts(rt)
        await rt.db.dispose()


class TestErasureIsIdempotentAndAudited:
    async def test_a_redelivered_erasure_changes_nothing_and_is_audited_once(self, tmp_path: Path) -> None:
        from services.kit.inbox import AlreadyHandled

        rt, _ = await casework_db(tmp_path)
        pid = uuid.uuid4()
        await household_case(rt, pid)
        event = erased(pid)
        await deliver(rt, handlers_erasure.erase_person, event, "casework:erase_person_texts")
        with pytest.raises(AlreadyHandled):
            await deliver(rt, handlers_erasure.erase_person, event, "casework:erase_person_texts")
        async with rt.db.read() as conn:
            audit = (await conn.execute(sa.select(store.kit.audit.c.action, store.kit.audit.c.record_id))).all()
        await rt.db.dispose()
        assert [tuple(a) for a in audit] == [("erase", str(pid))]


class TestFundingShredsTheHardshipTexts:
    async def test_purpose_and_justification_go_amounts_and_statuses_stay(self, tmp_path: Path) -> None:
        path = tmp_path / "funding.db"
        db = Database(f"sqlite+aiosqlite:///{path}")
        async with db.engine.begin() as conn:
            await conn.run_sync(funding_store.metadata.create_all)
        rt = Runtime("funding", PlatformSettings(), None, db, funding_store.kit, Outbox(db, funding_store.kit), None, None)  # type: ignore[arg-type]
        pid, other = uuid.uuid4(), uuid.uuid4()
        async with db.begin() as conn:
            for who in [uuid.uuid4() for _ in range(20)] + [pid, other] + [uuid.uuid4() for _ in range(20)]:
                await conn.execute(funding_store.hardship.insert().values(
                    id=uuid.uuid4(), case_id=uuid.uuid4(), person_id=who, applicant="caseworker", amount_cents=12000,
                    purpose=f"{CANARY} purpose {who}", purpose_category="school", justification=f"{CANARY} justification {who}",
                    period_start=date(2026, 11, 1), period_end=date(2026, 12, 31), criteria={}, fiscal_year=2026, deciders_required=1,
                    status="approved", deciders=[], applied_at=utc_now()))
        await deliver(rt, funding_erasure.erase_person, erased(pid), "funding:erase_hardship_texts")
        async with db.read() as conn:
            rows = {r.person_id: r for r in (await conn.execute(sa.select(funding_store.hardship))).all()}
            audited = (await conn.execute(sa.select(sa.func.count()).select_from(funding_store.kit.audit))).scalar_one()
        assert disk_hits(path, f"{CANARY} justification {pid}") == 0
        await db.dispose()
        assert CANARY not in rows[pid].purpose + rows[pid].justification
        assert (rows[pid].amount_cents, rows[pid].status, rows[pid].purpose_category) == (12000, "approved", "school")
        assert str(other) in rows[other].justification
        assert audited == 1
