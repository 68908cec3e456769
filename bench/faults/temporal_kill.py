"""F3 / T1: kill -9 the Temporal dev server (and, with --kill-worker, casework, whose process runs the
review cycles' worker) while ABRA clearings and review cycles wait on their timers; the stack's
supervisor restarts each on the same port and SQLite file. Then every workflow must still be there,
and fast-forwarding each one (per-workflow time skipping) must fire every timer exactly once.

    .venv/bin/python -m bench.faults.temporal_kill                       # F3: 50 clearings + 50 review cycles
    .venv/bin/python -m bench.faults.temporal_kill --clearings 0 --review-cycles 500 --kill-worker   # T1

On a fresh embedded stack (temporary data directory, time skipping on):
1. publishes ABRA slots; POSTs intakes of BG/RO newcomers moving in today (intake starts
   `clearing-<person id>`) and of refugees (casework opens a case and starts `review-cycle-<case id>`);
   waits until each of these workflows runs;
2. SIGKILLs the Temporal server, waits for the supervisor's restart, and looks every workflow up;
3. fast-forwards each clearing 15 days (day-10 reminder, day-14 RegistrationDeadlineMissed) and each
   review cycle 91 days (ReviewDue), waits until the review is due, then 15 more days (escalation:
   CaseEscalated review_overdue); with --kill-worker casework is SIGKILLed halfway through;
4. counts, per kind, the effects on the Redis streams (by event id and by workflow) and in the alerts
   tables, and prints expected/actual, duplicates and missing. Exit code 0 when nothing is missing,
   duplicated or lost.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from bench.faults.common import (
    duplicates,
    fresh_stack,
    hex_id,
    intake,
    kill_and_wait_restart,
    out,
    person,
    post_intakes,
    publish_slots,
    rows,
    stream_events,
    until,
)
from deploy.embedded import FAST_RECLAIM, TIME_SKIPPING, RunningStack
from deploy.stack import _http_ready, _temporal_ready
from services.contracts.casework import CaseEscalated, ReviewDue
from services.contracts.intake import RegistrationDeadlineMissed

CLEARING_DAYS = timedelta(days=15)  # past the day-10 reminder and the day-14 registration deadline
REVIEW_DAYS = timedelta(days=91)  # past the first review (every 90 days)
ESCALATE_DAYS = timedelta(days=15)  # past the 14 days after which an unrecorded review escalates


class Run:
    def __init__(self, stack: RunningStack, args: argparse.Namespace) -> None:
        self.stack, self.args = stack, args
        self.clearings: dict[str, str] = {}  # workflow id -> clearing id (hex)
        self.households: set[str] = set()  # of the clearings' newcomers (hex)
        self.cycles: dict[str, str] = {}  # workflow id -> case id (hex)
        self.durations: dict[str, float] = {}
        self.worker_killed_after: int | None = None
        self.unanswered_forwards = 0

    async def client(self) -> Client:
        from temporalio.contrib.pydantic import pydantic_data_converter

        return await Client.connect(self.stack.temporal_address, data_converter=pydantic_data_converter)

    def timed(self, name: str, started: float) -> None:
        self.durations[name] = time.monotonic() - started
        print(f"  ... {name}: {self.durations[name]:.1f} s", flush=True)

    # ---- 1. open workflows ------------------------------------------------------------------------

    async def open_workflows(self) -> None:
        started = time.monotonic()
        if self.args.clearings:
            await publish_slots(self.stack)
        payloads = [intake(person(i, "BG" if i % 2 else "RO")) for i in range(self.args.clearings)]
        payloads += [intake(person(i, "SY")) for i in range(self.args.clearings, self.args.clearings + self.args.review_cycles)]
        answers = await post_intakes(self.stack, payloads, concurrency=self.args.concurrency)
        newcomers = {hex_id(pid) for a in answers[: self.args.clearings] for pid in a["person_ids"]}
        self.households = {hex_id(a["household_id"]) for a in answers[: self.args.clearings]}
        refugees = {hex_id(a["intake_id"]) for a in answers[self.args.clearings :]}
        self.timed("post intakes", started)

        async def recorded() -> bool:
            clearings = rows(self.stack, "intake", "SELECT person_id, id FROM clearings")
            cases = rows(self.stack, "casework", "SELECT intake_id, id FROM cases WHERE intake_id IS NOT NULL")
            self.clearings = {f"clearing-{_uuid(p)}": c for p, c in clearings if p in newcomers}
            self.cycles = {f"review-cycle-{_uuid(c)}": c for i, c in cases if i in refugees}
            return len(self.clearings) == len(newcomers) and len(self.cycles) == len(refugees)

        await until(recorded, timeout=self.args.timeout)
        client = await self.client()
        await until(lambda: self.all_running(client), timeout=self.args.timeout, interval=1)
        self.timed("open workflows (POST to all running)", started)

    async def all_running(self, client: Client) -> bool:
        return len(await self.running(client)) == len(self.clearings) + len(self.cycles)

    async def running(self, client: Client) -> set[str]:
        gate = asyncio.Semaphore(20)

        async def status(wid: str) -> str | None:
            async with gate:
                try:
                    d = await client.get_workflow_handle(wid).describe()
                except RPCError:
                    return None
                return wid if d.status == WorkflowExecutionStatus.RUNNING else None

        found = await asyncio.gather(*(status(w) for w in [*self.clearings, *self.cycles]))
        return {w for w in found if w}

    # ---- 2. kill the server -------------------------------------------------------------------------

    async def kill_server(self) -> set[str]:
        port = self.stack.state["temporal"]["port"]
        self.durations["temporal restart (kill to healthy)"] = await asyncio.to_thread(
            kill_and_wait_restart, self.stack, "temporal", lambda: _temporal_ready(port)
        )
        print(f"  ... temporal SIGKILLed, healthy again after {self.durations['temporal restart (kill to healthy)']:.1f} s", flush=True)
        started = time.monotonic()
        client = await self.client()
        found = await until(lambda: self.running(client), timeout=60, interval=1) or set()
        self.timed("look up after restart", started)
        return found

    # ---- 3. fast-forward ----------------------------------------------------------------------------

    async def fast_forward(self) -> None:
        started = time.monotonic()
        gate = asyncio.Semaphore(self.args.concurrency)
        done = 0
        total = len(self.clearings) + len(self.cycles)

        async def after(step: Callable[[], Awaitable[Any]]) -> None:
            nonlocal done
            async with gate:
                await step()
            done += 1
            if self.args.kill_worker and self.worker_killed_after is None and done >= total // 2:
                self.worker_killed_after = done
                port = self.stack.state["services"]["casework"]["port"]
                self.durations["casework restart (kill to healthy)"] = await asyncio.to_thread(
                    kill_and_wait_restart, self.stack, "casework", lambda: _http_ready(port), self.args.timeout
                )
                print(f"  ... casework SIGKILLed after {done} fast-forwards, healthy again after "
                      f"{self.durations['casework restart (kill to healthy)']:.1f} s", flush=True)

        await asyncio.gather(
            *(after(lambda w=w: self.forward(w, CLEARING_DAYS)) for w in self.clearings),  # type: ignore[misc]
            *(after(lambda w=w: self.review_and_escalate(w)) for w in self.cycles),  # type: ignore[misc]
        )
        self.timed("fast-forward all", started)

    async def forward(self, wid: str, by: timedelta) -> None:
        """One fast-forward; a call whose completion poll does not answer within a minute is counted
        (the skip itself is applied: the effects are counted on their own)."""
        try:
            await asyncio.wait_for(retried(lambda: self.stack.fast_forward(wid, by)), self.args.forward_timeout)
        except TimeoutError:
            self.unanswered_forwards += 1

    async def review_and_escalate(self, wid: str) -> None:
        await self.forward(wid, REVIEW_DAYS)
        client = await self.stack.temporal()

        async def due() -> bool:  # the review is due (its activity ran): the escalation timer is set
            try:
                return (await client.get_workflow_handle(wid).query("due"))["due_on"] is not None
            except Exception:  # the worker is being restarted
                return False

        if not await until(due, timeout=self.args.timeout, interval=0.5):
            raise RuntimeError(f"{wid}: review not due after fast-forwarding")
        await self.forward(wid, ESCALATE_DAYS)

    # ---- 4. count --------------------------------------------------------------------------------

    async def count(self) -> dict[str, dict[str, Any]]:
        redis = self.stack.redis_url
        missed = [e for e in await stream_events(redis, RegistrationDeadlineMissed) if hex_id(e["clearing_id"]) in self.clearings.values()]
        due = [e for e in await stream_events(redis, ReviewDue) if e["cycle"] == 1 and hex_id(e["case_id"]) in self.cycles.values()]
        escalated = [
            e for e in await stream_events(redis, CaseEscalated) if e["kind"] == "review_overdue" and hex_id(e["case_id"]) in self.cycles.values()
        ]
        intake_alerts = rows(self.stack, "intake", "SELECT kind, subject_id FROM alerts")
        case_alerts = rows(self.stack, "casework", "SELECT kind, subject_id FROM alerts")
        clearing_ids, case_ids = set(self.clearings.values()), set(self.cycles.values())
        kinds: dict[str, dict[str, Any]] = {
            "reminder (alert clearing_reminder)": _alerts(intake_alerts, "clearing_reminder", clearing_ids, hex_id),
            "deadline missed (RegistrationDeadlineMissed)": _events(missed, "clearing_id", clearing_ids),
            "deadline missed (alert, per household)": _alerts(intake_alerts, "registration_deadline_missed", self.households, hex_id),
            "review due (ReviewDue)": _events(due, "case_id", case_ids),
            "review due (alert review_due)": _alerts(case_alerts, "review_due", case_ids, hex_id),
            "escalation (CaseEscalated review_overdue)": _events(escalated, "case_id", case_ids),
            "escalation (alert review_overdue)": _alerts(case_alerts, "review_overdue", case_ids, hex_id),
        }
        return {k: v for k, v in kinds.items() if v["expected"]}

    async def settle(self) -> dict[str, dict[str, Any]]:
        started = time.monotonic()
        figures: dict[str, dict[str, Any]] = {}

        async def complete() -> bool:
            nonlocal figures
            figures = await self.count()
            return all(f["actual"] >= f["expected"] for f in figures.values())

        await until(complete, timeout=self.args.timeout, interval=1)
        self.timed("fast-forward done to all effects counted", started)
        await asyncio.sleep(self.args.linger)  # late duplicates (a retried activity, a republished event) would show now
        return await self.count()


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


def _tally(subjects: list[str], expected: int) -> dict[str, int]:
    return {"actual": len(set(subjects)), "duplicates": duplicates(subjects), "missing": max(0, expected - len(set(subjects)))}


def _events(events: list[dict[str, Any]], key: str, subjects: set[str]) -> dict[str, Any]:
    per_subject = [hex_id(e[key]) for e in events]
    return {
        "expected": len(subjects), "entries": len(events), "duplicate event ids": duplicates([e["event_id"] for e in events]),
        **_tally(per_subject, len(subjects)), "missing": len(subjects - set(per_subject)),
    }


def _alerts(alerts: list[tuple[str, str]], kind: str, subjects: set[str], norm: Callable[[str], str]) -> dict[str, Any]:
    of_kind = [norm(s) for k, s in alerts if k == kind and norm(s) in subjects]
    return {"expected": len(subjects), **_tally(of_kind, len(subjects)), "missing": len(subjects - set(of_kind))}


async def retried(step: Callable[[], Awaitable[Any]], attempts: int = 30) -> Any:
    """A fast-forward call retried while the server or the worker is coming back."""
    for attempt in range(attempts):
        try:
            return await step()
        except RPCError:  # the server is not answering yet: the skip was not issued
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1)
    return None


async def run(stack: RunningStack, args: argparse.Namespace) -> int:
    r = Run(stack, args)
    await r.open_workflows()
    started = len(r.clearings) + len(r.cycles)
    found = await r.kill_server()
    await r.fast_forward()
    figures = await r.settle()
    print()
    out("clearings / review cycles started", f"{len(r.clearings)} / {len(r.cycles)} (running: {started})")
    out("Temporal server SIGKILLed, found after restart", f"{len(found)} of {started}")
    if args.kill_worker:
        out("casework (worker) SIGKILLed after fast-forwards", f"{r.worker_killed_after} of {started}")
    out("fast-forward calls unanswered within timeout", r.unanswered_forwards)
    problems = started - len(found)
    for kind, f in figures.items():
        extra = f", {f['duplicate event ids']} duplicate event ids in {f['entries']} entries" if "entries" in f else ""
        out(f"fired {kind}", f"expected {f['expected']}, actual {f['actual']}, duplicates {f['duplicates']}, missing {f['missing']}{extra}")
        problems += f["duplicates"] + f["missing"] + f.get("duplicate event ids", 0)
    for name, seconds in r.durations.items():
        out(f"duration {name}", f"{seconds:.1f} s")
    out("verdict", "every workflow found, every timer fired once" if problems == 0 else f"{problems} problems")
    return 0 if problems == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clearings", type=int, default=50, help="ABRA clearings (BG/RO newcomers)")
    parser.add_argument("--review-cycles", type=int, default=50, help="review cycles (refugee cases)")
    parser.add_argument("--kill-worker", action="store_true", help="also SIGKILL casework (the review cycles' worker) halfway through the fast-forwards")
    parser.add_argument("--concurrency", type=int, default=8, help="POSTs and fast-forwards in flight")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each phase")
    parser.add_argument("--forward-timeout", type=float, default=60, help="seconds to wait for one fast-forward call's completion")
    parser.add_argument("--linger", type=float, default=10, help="seconds to wait for late duplicates after all effects are there")
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args(argv)
    try:
        with fresh_stack({**FAST_RECLAIM, **TIME_SKIPPING}, keep=args.keep_data) as stack:
            return asyncio.run(run(stack, args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
