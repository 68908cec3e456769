"""Benchmark: open N casework cases, each with its workflow (the review cycle, which since v3 also runs
the first contact), on a fresh embedded stack.

    .venv/bin/python -m bench.casework_open_cases [--cases 5000] [--publish-batch 50] [--keep-data]

It starts its own stack (`ankommen up --detach` in a temporary data directory), publishes N
`IntakeCompleted` events (one adult with the casework route each, spread over the districts) straight
onto `intake.intake-completed.v1`, so casework is what is measured, and stops the stack at the end.

Printed: time from the first publish to the last case committed; cases/s; workflow starts/s (one per
case: ReviewCycle); time until Temporal lists N running ReviewCycle workflows (and how many
CaseOnboarding workflows run: none for cases opened since v3);
RSS now and peak (VmRSS, VmHWM) of the casework process (its worker, consumers and API) and of the
Temporal dev server; casework's database size. Every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DISTRICTS = ("Westen", "Mitte", "Herringen", "Pelkum", "Uentrop", "Bockum-Hövel", "Heessen", "Rhynern")


def cli(data_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.cli", "--data-dir", str(data_dir), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def memory(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = round(int(value.split()[0]) / 1024, 1)
    except FileNotFoundError:
        pass
    return out


def count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


async def run(cases: int, batch: int, data_dir: Path) -> dict[str, object]:
    from faststream.redis import RedisBroker
    from temporalio.client import Client

    from services.contracts.events import IntakeCompleted, PersonProfile
    from services.contracts.vocab import AgeGroup, Prospect, ResidenceStatus, Route, Sex

    state = json.loads((data_dir / "stack.json").read_text())
    db = data_dir / "casework.db"
    events = []
    for i in range(cases):
        intake_id = uuid.uuid4()
        person = PersonProfile(
            person_id=uuid.uuid4(), adult=True, age_group=AgeGroup.AGE_25_44, sex=Sex.UNSPECIFIED, residence_status=ResidenceStatus.RECOGNISED_REFUGEE,
            prospect=Prospect.GOOD, employable=True, routes=[Route.CASEWORK], german_level="none", languages=["ar"] if i % 3 else ["ru"],
        )
        events.append(IntakeCompleted(tenant="hamm", correlation_id=intake_id, intake_id=intake_id, household_id=uuid.uuid4(),
                                      district=DISTRICTS[i % len(DISTRICTS)], move_in_date=date.today(), persons=[person]))
    broker = RedisBroker(state["redis"]["url"])
    await broker.connect()
    t0 = time.monotonic()
    for start in range(0, cases, batch):
        await asyncio.gather(*(
            broker.publish(e.model_dump_json().encode(), stream=e.stream, headers={"event_id": str(e.event_id), "event_type": e.event_type})
            for e in events[start:start + batch]
        ))
    published = time.monotonic() - t0
    await broker.stop()

    deadline = t0 + max(600.0, cases * 0.5)
    progress_at = time.monotonic()
    while (opened := count(db, "SELECT count(*) FROM cases")) < cases:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {opened} of {cases} cases opened in time")
        if time.monotonic() - progress_at > 15:
            print(f"  ... {opened} cases, {time.monotonic() - t0:.0f} s", flush=True)
            progress_at = time.monotonic()
        await asyncio.sleep(0.5)
    all_open = time.monotonic() - t0

    client = await Client.connect(state["temporal"]["address"])
    while (await client.count_workflows("WorkflowType = 'ReviewCycle' AND ExecutionStatus = 'Running'")).count < cases:
        if time.monotonic() > deadline:
            raise SystemExit("not every review cycle is listed as running in time")
        await asyncio.sleep(0.5)
    listed = time.monotonic() - t0
    running_onboarding = (await client.count_workflows("WorkflowType = 'CaseOnboarding' AND ExecutionStatus = 'Running'")).count

    state = json.loads((data_dir / "stack.json").read_text())
    return {
        "cases": cases,
        "publish_s": round(published, 2),
        "time_to_open_all_s": round(all_open, 2),
        "cases_per_s": round(cases / all_open, 1),
        "workflow_starts_per_s": round(cases / all_open, 1),
        "review_cycles_listed_running_s": round(listed, 2),
        "running_review_cycles": cases,
        "running_onboarding": running_onboarding,
        "queued_cases": count(db, "SELECT count(*) FROM cases WHERE caseworker IS NULL"),
        "memory_mib": {
            "casework (API, consumers, worker)": memory(state["services"]["casework"]["pid"]),
            "temporal dev server": memory(state["temporal"]["pid"]),
        },
        "casework_db_mib": round(db.stat().st_size / 2**20, 1),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--publish-batch", type=int, default=50)
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="ankommen-bench-casework-"))
    print(f"starting a stack in {data_dir} ...", flush=True)
    up = cli(data_dir, "up", "--detach")
    if up.returncode != 0:
        raise SystemExit(f"ankommen up failed: {up.stderr}")
    try:
        result = asyncio.run(run(args.cases, args.publish_batch, data_dir))
        for key, value in result.items():
            print(f"{key:34} {value}")
    finally:
        cli(data_dir, "down")
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
