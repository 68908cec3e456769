"""kill -9 of the intake process while ABRA clearings are pending (issue 3 acceptance): the stack's
supervisor restarts it; no clearing is lost, no appointment is booked twice and no reminder is sent
twice (outbox + inbox, business-key workflow ids, idempotent activities)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import uuid
from collections import Counter
from datetime import timedelta

import httpx
import pytest

from services.contracts.events import ClearingAppointmentBooked, ClearingStarted
from services.contracts.intake_workflows import household_clearing_workflow_id
from tests.support.eventually import eventually
from tests.support.intake import events, publish_slots, today
from tests.support.stack import FAST_RECLAIM, TIME_SKIPPING, RunningStack, intake_payload, person

pytestmark = pytest.mark.stack

INTAKES = 30
KILL_AFTER = 12


def rows(stack: RunningStack, sql: str) -> list[tuple]:
    with sqlite3.connect(stack.data_dir / "intake.db") as conn:
        return conn.execute(sql).fetchall()


def kill_intake(stack: RunningStack) -> int:
    pid = stack.state["services"]["intake"]["pid"]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return pid


async def restarted(stack: RunningStack, old_pid: int) -> None:
    async def healthy() -> None:
        assert stack.state["services"]["intake"]["pid"] != old_pid
        async with stack.client("intake", user=None) as c:
            try:
                assert (await c.get("/health")).status_code == 200
            except httpx.HTTPError as exc:
                raise AssertionError(str(exc)) from exc

    await eventually(healthy, timeout=90, interval=0.5)


class TestIntakeKilledWhileClearingsPending:
    async def test_no_clearing_lost_no_appointment_twice_no_reminder_twice(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        stack = RunningStack(tmp_path_factory.mktemp("clearing-crash"), env={**FAST_RECLAIM, **TIME_SKIPPING})
        stack.up()
        try:
            await publish_slots(stack, days=30, per_day=4, capacity=10)
            answered: dict[str, dict] = {}
            failed: set[str] = set()
            killed: list[int] = []
            gate = asyncio.Semaphore(6)

            async with stack.client("intake", "frontdesk", timeout=10) as c:

                async def submit(i: int) -> None:
                    key = f"ro-{i}"
                    payload = intake_payload(person(f"Crash{i}", "Test", "1990-01-01", "RO", move_in_date=today().isoformat()))
                    async with gate:
                        try:
                            r = await c.post("/intakes", json=payload, headers={"Idempotency-Key": key})
                        except httpx.HTTPError:
                            failed.add(key)
                            return
                    if r.status_code in (200, 201):
                        answered[key] = r.json()
                        if len(answered) == KILL_AFTER and not killed:
                            killed.append(kill_intake(stack))
                    else:
                        failed.add(key)

                await asyncio.gather(*(submit(i) for i in range(INTAKES)))
            assert killed, "the intake process was never killed"
            await restarted(stack, killed[0])
            async with stack.client("intake", "frontdesk", timeout=10) as c:  # the front desk retries what failed
                for key in sorted(failed):
                    i = int(key.split("-")[1])
                    payload = intake_payload(person(f"Crash{i}", "Test", "1990-01-01", "RO", move_in_date=today().isoformat()))
                    r = await c.post("/intakes", json=payload, headers={"Idempotency-Key": key})
                    assert r.status_code in (200, 201), r.text
                    answered[key] = r.json()
            assert len(answered) == INTAKES
            person_ids = {a["person_ids"][0] for a in answered.values()}

            async def all_booked() -> None:
                booked = dict(rows(stack, "SELECT lower(person_id), attempt FROM clearings WHERE appointment_at IS NOT NULL"))
                assert {p.replace("-", "") for p in person_ids} <= {k.replace("-", "") for k in booked}, len(booked)

            await eventually(all_booked, timeout=90, interval=0.5)

            # second crash: while day-10 reminders are being sent
            for a in answered.values():  # one person per intake, one clearing workflow per intake's household
                assert await stack.fast_forward(household_clearing_workflow_id(uuid.UUID(a["intake_id"])), timedelta(days=11))
            second = kill_intake(stack)
            await restarted(stack, second)

            async def reminded() -> None:
                per_clearing = Counter(r[0] for r in rows(stack, "SELECT subject_id FROM alerts WHERE kind = 'clearing_reminder'"))
                assert len(per_clearing) == INTAKES and set(per_clearing.values()) == {1}

            await eventually(reminded, timeout=120, interval=1.0)

            # exactly one clearing and one booking per person; slots count each booking once
            assert rows(stack, "SELECT count(*), count(DISTINCT person_id) FROM clearings") == [(INTAKES, INTAKES)]
            assert rows(stack, "SELECT count(*), count(DISTINCT clearing_id) FROM slot_bookings") == [(INTAKES, INTAKES)]
            assert rows(stack, "SELECT sum(booked) FROM abra_slots") == [(INTAKES,)]

            async def announced_once() -> None:
                started = await events(stack, ClearingStarted)
                booked = await events(stack, ClearingAppointmentBooked)
                assert len({e["event_id"] for e in started}) == INTAKES
                per_clearing = Counter(e["clearing_id"] for e in {e["event_id"]: e for e in booked}.values())
                assert len(per_clearing) == INTAKES and set(per_clearing.values()) == {1}

            await eventually(announced_once, timeout=30, interval=0.5)
            client = await stack.temporal()
            running = await client.count_workflows("WorkflowType = 'HouseholdClearing' AND ExecutionStatus = 'Running'")  # one per intake, here one person each
            assert running.count == INTAKES
        finally:
            stack.down()
