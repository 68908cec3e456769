"""The review-cycle workflow with its real activity and database, on a Temporal server with time
skipping: a review comes due after the interval, once per cycle, and the cycle ends with the case."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from services.casework import handlers, store
from services.casework.domain import Phase
from services.contracts.activities import REVIEW_CYCLE_WORKFLOW, ReviewCycleInput, review_cycle_workflow_id
from services.kit.db import Database, utc_now
from services.kit.outbox import Outbox
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings
from services.kit.temporal import make_worker
from tests.support.eventually import eventually
from workflows.review_cycle import ReviewCycle

HISTORY = Path(__file__).resolve().parent.parent / "histories" / "review_cycle_v1.json"


@pytest.fixture
async def casework_db(tmp_path):  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'casework.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(store.metadata.create_all)
    yield db
    await db.dispose()


async def open_case(db: Database) -> uuid.UUID:
    case_id = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(
            store.cases.insert().values(
                id=case_id, household_id=uuid.uuid4(), programme="Soziales Fallmanagement", district="Westen",
                phase=Phase.ENTRY, opened_at=utc_now(),
            )
        )
    return case_id


def runtime(db: Database) -> Runtime:
    outbox = Outbox(db, store.kit)
    return Runtime("casework", PlatformSettings(), None, db, store.kit, outbox, None, None)  # type: ignore[arg-type]


async def reviews(db: Database, case_id: uuid.UUID) -> list[int]:
    async with db.begin() as conn:
        rows = await conn.execute(sa.select(store.reviews_due.c.cycle).where(store.reviews_due.c.case_id == case_id).order_by("cycle"))
        return [r.cycle for r in rows]


async def announced(db: Database) -> int:
    async with db.begin() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(store.kit.outbox).where(store.kit.outbox.c.event_type == "ReviewDue"))).scalar_one())


class TestReviewCycle:
    async def test_a_review_comes_due_every_interval_until_the_case_closes(self, time_skipping_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[ReviewCycle], activities=handlers.activities(runtime(casework_db))):
            handle = await env.client.start_workflow(
                REVIEW_CYCLE_WORKFLOW,
                ReviewCycleInput(case_id=case_id, tenant="hamm", interval_days=90),
                id=review_cycle_workflow_id(case_id),
                task_queue=queue,
            )
            await env.fast_forward(handle, timedelta(days=91))

            async def first_review() -> None:
                assert await reviews(casework_db, case_id) == [1]

            await eventually(first_review, timeout=20)
            await env.fast_forward(handle, timedelta(days=90))

            async def second_review() -> None:
                assert await reviews(casework_db, case_id) == [1, 2]

            await eventually(second_review, timeout=20)
            assert await announced(casework_db) == 2

            await handle.signal(ReviewCycle.case_closed)
            assert await handle.result() == "closed"
            assert await reviews(casework_db, case_id) == [1, 2]

            if os.environ.get("ANKOMMEN_RECORD_HISTORIES"):
                first_run = env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
                history = await first_run.fetch_history()
                HISTORY.write_text(json.dumps(history.to_json_dict(), indent=1))

    async def test_no_review_is_recorded_for_a_case_closed_meanwhile(self, time_skipping_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        async with casework_db.begin() as conn:
            await conn.execute(store.cases.update().where(store.cases.c.id == case_id).values(closed_at=utc_now(), phase=Phase.CLOSED))
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[ReviewCycle], activities=handlers.activities(runtime(casework_db))):
            handle = await env.client.start_workflow(
                REVIEW_CYCLE_WORKFLOW, ReviewCycleInput(case_id=case_id, tenant="hamm", interval_days=90),
                id=review_cycle_workflow_id(case_id), task_queue=queue,
            )
            await env.fast_forward(handle, timedelta(days=91))
            assert await handle.result() == "closed"
        assert await reviews(casework_db, case_id) == []


class TestReviewCycleReplay:
    async def test_committed_history_replays_with_the_current_code(self) -> None:
        """Guards running workflows: a change to the workflow that breaks determinism fails here;
        such changes need workflow.patched (ARCHITECTURE.md)."""
        history = WorkflowHistory.from_json("review-cycle-recorded", json.loads(HISTORY.read_text()))
        await Replayer(workflows=[ReviewCycle], data_converter=pydantic_data_converter).replay_workflow(history)
