"""500 open cases with running review cycles survive a restart of the Temporal dev server and of the
casework process (kill -9; the stack's supervisor restarts them): every review comes due exactly once,
also when the casework process is killed again in the middle of the wave of due reviews."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import uuid
from datetime import date, timedelta

import httpx
import pytest
from temporalio.client import Client

from services.contracts.events import IntakeCompleted, PersonProfile
from services.contracts.vocab import AgeGroup, Prospect, ResidenceStatus, Route, Sex
from tests.support.events import publish_events
from tests.support.eventually import eventually
from tests.support.stack import FAST_RECLAIM, TIME_SKIPPING, RunningStack

pytestmark = pytest.mark.stack

CASES = 500
DISTRICTS = ("Westen", "Mitte", "Herringen", "Pelkum", "Uentrop", "Heessen")


def scalar(stack: RunningStack, sql: str) -> int:
    with sqlite3.connect(stack.data_dir / "casework.db") as conn:
        return int(conn.execute(sql).fetchone()[0])


def intake(i: int) -> IntakeCompleted:
    intake_id = uuid.uuid4()
    person = PersonProfile(
        person_id=uuid.uuid4(), adult=True, age_group=AgeGroup.AGE_25_44, sex=Sex.UNSPECIFIED, residence_status=ResidenceStatus.RECOGNISED_REFUGEE,
        prospect=Prospect.GOOD, employable=True, routes=[Route.CASEWORK], german_level="none",
    )
    return IntakeCompleted(tenant="hamm", correlation_id=intake_id, intake_id=intake_id, household_id=uuid.uuid4(),
                           district=DISTRICTS[i % len(DISTRICTS)], move_in_date=date.today(), persons=[person])


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def restarted(stack: RunningStack, name: str, old_pid: int) -> None:
    async def up() -> None:
        state = stack.state["services"].get(name) or stack.state[name]
        assert state["pid"] != old_pid
        try:
            if name == "temporal":
                client = await asyncio.wait_for(Client.connect(stack.temporal_address), 5)
                healthy = await client.service_client.check_health()
            else:
                async with httpx.AsyncClient(base_url=stack.url(name), timeout=2) as c:
                    healthy = (await c.get("/health")).status_code == 200
        except (httpx.HTTPError, RuntimeError, OSError, TimeoutError) as exc:
            raise AssertionError(f"{name} not up yet: {exc}") from exc
        assert healthy

    await eventually(up, timeout=120, interval=0.5)


class TestReviewCyclesSurviveRestarts:
    async def test_500_reviews_come_due_exactly_once_across_restarts(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        stack = RunningStack(tmp_path_factory.mktemp("restart"), env={**FAST_RECLAIM, **TIME_SKIPPING})
        stack.up()
        try:
            await publish_events(stack.redis_url, (intake(i) for i in range(CASES)))

            async def half_open() -> None:
                assert scalar(stack, "SELECT count(*) FROM cases") >= CASES // 2

            await eventually(half_open, timeout=300, interval=0.2)
            # kill -9 Temporal and casework while cases are still being opened
            state = stack.state
            kill(state["temporal"]["pid"])
            kill(state["services"]["casework"]["pid"])
            await restarted(stack, "temporal", state["temporal"]["pid"])
            await restarted(stack, "casework", state["services"]["casework"]["pid"])

            async def all_open() -> None:
                assert scalar(stack, "SELECT count(*) FROM cases") == CASES

            await eventually(all_open, timeout=300, interval=1)
            client = await Client.connect(stack.temporal_address)

            async def cycles_running() -> None:
                assert (await client.count_workflows("WorkflowType = 'ReviewCycle' AND ExecutionStatus = 'Running'")).count == CASES

            await eventually(cycles_running, timeout=120, interval=1)
            assert scalar(stack, "SELECT count(*) FROM reviews_due") == 0

            # 91 days pass for every cycle; casework is killed again in the middle of the wave of due reviews
            with sqlite3.connect(stack.data_dir / "casework.db") as conn:
                case_ids = [str(uuid.UUID(hex=str(r[0]).replace("-", ""))) for r in conn.execute("SELECT id FROM cases")]
            gate = asyncio.Semaphore(20)

            async def pass_91_days(case_id: str) -> None:
                async with gate:
                    await stack.fast_forward(f"review-cycle-{case_id}", timedelta(days=91))

            wave = asyncio.gather(*(pass_91_days(c) for c in case_ids))

            async def some_due() -> None:
                assert scalar(stack, "SELECT count(*) FROM reviews_due") >= CASES // 5

            await eventually(some_due, timeout=300, interval=0.2)
            due_before = scalar(stack, "SELECT count(*) FROM reviews_due")
            killed_again = stack.state["services"]["casework"]["pid"]
            kill(killed_again)
            await restarted(stack, "casework", killed_again)
            await wave
            print(f"\ndue when casework was killed again {due_before} of {CASES}")

            async def all_due() -> None:
                assert scalar(stack, "SELECT count(*) FROM reviews_due") == CASES

            await eventually(all_due, timeout=300, interval=1)
            await eventually(lambda: _published(stack), timeout=60, interval=0.5)
            assert scalar(stack, "SELECT count(*) FROM outbox WHERE event_type = 'ReviewDue'") == CASES
            assert scalar(stack, "SELECT count(DISTINCT case_id) FROM reviews_due WHERE cycle = 1") == CASES
            assert scalar(stack, "SELECT count(*) FROM reviews_due WHERE cycle > 1") == 0
            assert due_before < CASES  # the kill hit the wave of due reviews
            assert (await client.count_workflows("WorkflowType = 'ReviewCycle' AND ExecutionStatus = 'Running'")).count == CASES
        finally:
            stack.down()


async def _published(stack: RunningStack) -> None:
    assert scalar(stack, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
