"""The review-cycle workflow with its real activities and database, on a Temporal server with time
skipping: a review comes due after the interval with a reminder, is recorded through a validated
update, escalates 14 days overdue, continues as new each cycle and ends with the case; recorded
histories of v1 and v2 replay with the current code."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowHistory, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from services.casework import activities, store
from services.casework.domain import Phase
from services.contracts.activities import REVIEW_CYCLE_WORKFLOW, ReviewCycleInput, review_cycle_workflow_id
from services.contracts.casework_workflows import ReviewUpdate
from services.kit.db import Database, utc_now
from services.kit.temporal import make_worker
from tests.integration.casework_support import alerts, events, open_case, runtime
from tests.support.eventually import eventually
from workflows.review_cycle import ReviewCycle

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def reviews(db: Database, case_id: uuid.UUID) -> list[int]:
    async with db.begin() as conn:
        rows = await conn.execute(sa.select(store.reviews_due.c.cycle).where(store.reviews_due.c.case_id == case_id).order_by("cycle"))
        return [r.cycle for r in rows]


async def start(env, db: Database, case_id: uuid.UUID, queue: str):  # type: ignore[no-untyped-def]
    return await env.client.start_workflow(
        REVIEW_CYCLE_WORKFLOW, ReviewCycleInput(case_id=case_id, tenant="hamm", interval_days=90),
        id=review_cycle_workflow_id(case_id), task_queue=queue,
    )


def review(cycle: int) -> ReviewUpdate:
    return ReviewUpdate(cycle=cycle, goals=[], measures=[], recorded_by="caseworker")


class TestReviewCycle:
    async def test_a_review_comes_due_every_interval_and_is_recorded_until_the_case_closes(self, time_skipping_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[ReviewCycle], activities=activities.activities(runtime(casework_db))):
            handle = await start(env, casework_db, case_id, queue)
            await env.fast_forward(handle, timedelta(days=91))

            async def first_due() -> None:
                assert await reviews(casework_db, case_id) == [1]
                assert len(await alerts(casework_db, "review_due")) == 1

            await eventually(first_due, timeout=20)
            assert await handle.execute_update(ReviewCycle.record_review, review(1)) == "recorded"
            await env.fast_forward(handle, timedelta(days=90))

            async def second_due() -> None:
                assert await reviews(casework_db, case_id) == [1, 2]

            await eventually(second_due, timeout=20)
            assert await handle.execute_update(ReviewCycle.record_review, review(2)) == "recorded"
            assert len(await events(casework_db, "ReviewDue")) == 2
            completed = await events(casework_db, "ReviewCompleted")
            assert [e["cycle"] for e in completed] == [1, 2]
            assert await alerts(casework_db, "review_overdue") == []

            await handle.signal(ReviewCycle.case_closed)
            assert await handle.result() == "closed"
            assert await reviews(casework_db, case_id) == [1, 2]

            if os.environ.get("ANKOMMEN_RECORD_HISTORIES"):
                first_run = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
                history = await first_run.fetch_history()
                (HISTORIES / "review_cycle_v2.json").write_text(json.dumps(history.to_json_dict(), indent=1))

    async def test_an_unrecorded_review_escalates_to_the_team_lead_14_days_after_it_is_due(self, time_skipping_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[ReviewCycle], activities=activities.activities(runtime(casework_db))):
            handle = await start(env, casework_db, case_id, queue)
            await env.fast_forward(handle, timedelta(days=91))
            await eventually(lambda: _assert_len(alerts(casework_db, "review_due"), 1), timeout=20)
            assert await alerts(casework_db, "review_overdue") == []
            await env.fast_forward(handle, timedelta(days=14))

            async def escalated() -> None:
                overdue = await alerts(casework_db, "review_overdue")
                assert [(a.role, a.subject_id) for a in overdue] == [("team_lead", str(case_id))]
                assert [e["kind"] for e in await events(casework_db, "CaseEscalated")] == ["review_overdue"]

            await eventually(escalated, timeout=20)
            await handle.execute_update(ReviewCycle.record_review, review(1))
            completed = await events(casework_db, "ReviewCompleted")
            assert completed[0]["days_overdue"] >= 14
            open_alerts = [a for a in await alerts(casework_db, "review_overdue") if a.resolved_at is None]
            assert open_alerts == []
            await handle.signal(ReviewCycle.case_closed)
            assert await handle.result() == "closed"

    async def test_a_review_is_refused_before_it_is_due_for_another_cycle_and_twice(self, time_skipping_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[ReviewCycle], activities=activities.activities(runtime(casework_db))):
            handle = await start(env, casework_db, case_id, queue)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(ReviewCycle.record_review, review(1))
            await env.fast_forward(handle, timedelta(days=91))
            await eventually(lambda: _assert_len(alerts(casework_db, "review_due"), 1), timeout=20)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(ReviewCycle.record_review, review(2))
            await handle.execute_update(ReviewCycle.record_review, review(1))
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(ReviewCycle.record_review, review(1))
            assert len(await events(casework_db, "ReviewCompleted")) == 1
            await handle.signal(ReviewCycle.case_closed)
            await handle.result()

    async def test_no_review_is_recorded_for_a_case_closed_meanwhile(self, time_skipping_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        async with casework_db.begin() as conn:
            await conn.execute(store.cases.update().where(store.cases.c.id == case_id).values(closed_at=utc_now(), phase=Phase.CLOSED))
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[ReviewCycle], activities=activities.activities(runtime(casework_db))):
            handle = await start(env, casework_db, case_id, queue)
            await env.fast_forward(handle, timedelta(days=91))
            assert await handle.result() == "closed"
        assert await reviews(casework_db, case_id) == []


async def _assert_len(coro, n: int) -> None:  # type: ignore[no-untyped-def]
    assert len(await coro) == n


class TestReviewCycleReplay:
    @pytest.mark.parametrize("name", ["review_cycle_v1.json", "review_cycle_v2.json", "review_cycle_v3.json"])
    async def test_committed_history_replays_with_the_current_code(self, name: str) -> None:
        """Guards running workflows: v1 histories (before the review update), v2 and v3 (with the first contact) replay;
        a change that breaks determinism fails here and needs workflow.patched (ARCHITECTURE.md)."""
        history = WorkflowHistory.from_json("review-cycle-recorded", json.loads((HISTORIES / name).read_text()))
        await Replayer(workflows=[ReviewCycle], data_converter=pydantic_data_converter).replay_workflow(history)
