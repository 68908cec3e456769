"""Benchmark: hardship decisions per second on the approval path with 4 concurrent deciders.

    .venv/bin/python -m bench.funding_decisions                 # 400 decisions through the stack
    .venv/bin/python -m bench.funding_decisions --decisions 200 --handler-only

Through the stack (default): starts its own embedded stack (`ankommen up --detach`) in a temporary data
directory, raises the hardship budget so that it does not run out, gives N cases (casework's CaseOpened
+ CaseAssigned published into Redis), applies N times (not measured), then 4 fund managers each decide
their quarter of the applications one after another (4 decisions in flight). Each decision is the full
path: HTTP POST -> four-eyes pre-check -> Temporal update (validator) -> activity -> ledger reservation,
decision, events in one transaction -> update result -> audit record. Also measures the handler alone
(the activity body on SQLite, 4 concurrent) for comparison. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DECIDERS = ("fundmanager", "fundmanager2", "fundmanager3", "service")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def report(label: str, n: int, seconds: float, latencies: list[float]) -> None:
    print(f"{label}: {n} decisions in {seconds:.2f} s = {n / seconds:.1f} decisions/s; "
          f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {pct(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")


async def through_stack(n: int) -> None:
    from services.contracts.casework import CaseAssigned, CaseOpened
    from tests.support.funding import publish
    from tests.support.stack import RunningStack

    stack = RunningStack(Path(tempfile.mkdtemp(prefix="bench-funding-")))
    stack.up()
    try:
        year = date.today().year
        async with stack.client("funding", "fundmanager", timeout=60) as c:
            r = await c.put(f"/budgets/hardship/{year}", json={"amount_cents": 10**11})
            assert r.status_code == 200, r.text
        cases = []
        for _ in range(n):
            case_id, person_id = uuid.uuid4(), uuid.uuid4()
            common = dict(tenant="hamm", correlation_id=case_id, case_id=case_id)
            await publish(stack.redis_url, CaseOpened(**common, household_id=uuid.uuid4(), programme="Soziales Fallmanagement", district="Westen", member_ids=[person_id]))
            await publish(stack.redis_url, CaseAssigned(**common, caseworker="caseworker", reason="initial"))
            cases.append((case_id, person_id))
        today = date.today()
        ids: list[str] = []
        sem = asyncio.Semaphore(8)
        async with stack.client("funding", "caseworker", timeout=60) as c:
            async def apply(case_id: uuid.UUID, person_id: uuid.UUID) -> None:
                body = {
                    "case_id": str(case_id), "person_id": str(person_id), "amount_cents": 5_000, "purpose": "Bedarf", "purpose_category": "other",
                    "justification": "kurzfristig", "period_start": today.isoformat(), "period_end": (today + timedelta(days=30)).isoformat(),
                    "criteria": {"legal_entitlement_elsewhere": False, "caused_by_authority_error": False, "undermines_self_reliance": False},
                }
                async with sem:
                    for _ in range(200):
                        r = await c.post("/hardship/applications", json=body)
                        if r.status_code == 201:
                            ids.append(r.json()["application_id"])
                            return
                        await asyncio.sleep(0.05)  # the case projection is not there yet
                    raise RuntimeError(r.text)

            await asyncio.gather(*(apply(*case) for case in cases))
        latencies: list[float] = []

        async def decider(user: str, share: list[str]) -> None:
            async with stack.client("funding", user, timeout=60) as c:
                for application_id in share:
                    t0 = time.perf_counter()
                    r = await c.post(f"/hardship/applications/{application_id}/decisions", json={"decision": "approve"})
                    latencies.append(time.perf_counter() - t0)
                    assert r.status_code == 200 and r.json()["status"] == "approved", r.text

        start = time.perf_counter()
        await asyncio.gather(*(decider(user, ids[i:: len(DECIDERS)]) for i, user in enumerate(DECIDERS)))
        report("stack (HTTP -> workflow update -> activity -> ledger)", len(ids), time.perf_counter() - start, latencies)
        async with stack.client("funding", "fundmanager") as c:
            rec = (await c.get(f"/budgets/hardship/{year}/reconciliation")).json()
        print(f"reconciliation after the run: matches={rec['matches']}, committed {rec['ledger_committed_cents']} cents")
    finally:
        stack.down()


async def handler_only(n: int) -> None:
    from services.contracts.funding_workflows import HardshipCommand, HardshipStepInput
    from services.funding import handlers_hardship
    from services.funding.domain import Fund
    from tests.support.funding import funding_runtime, given_budget, given_hardship

    with tempfile.TemporaryDirectory() as d:
        rt = await funding_runtime(f"sqlite+aiosqlite:///{Path(d) / 'f.db'}")
        await given_budget(rt, Fund.HARDSHIP, 2990, 10**11)
        ids = [await given_hardship(rt, 5_000, 2990) for _ in range(n)]
        latencies: list[float] = []

        async def decider(user: str, share: list[uuid.UUID]) -> None:
            for app in share:
                t0 = time.perf_counter()
                await handlers_hardship.hardship_step(rt, HardshipStepInput(application_id=app, tenant="b", command=HardshipCommand(actor=user, step="decide", decision="approve")))
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(decider(u, ids[i:: len(DECIDERS)]) for i, u in enumerate(DECIDERS)))
        report("handler only (SQLite, no Temporal/HTTP)", n, time.perf_counter() - start, latencies)
        await rt.db.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--decisions", type=int, default=400)
    p.add_argument("--handler-only", action="store_true")
    args: Any = p.parse_args(argv)
    asyncio.run(handler_only(args.decisions))
    if not args.handler_only:
        asyncio.run(through_stack(args.decisions))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
