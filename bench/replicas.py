"""Scale-out on one machine: the intake pipeline on PostgreSQL with 1 and with 2 processes per service,
then a run with 2 where one replica of intake and one of casework are SIGKILLed mid-run.

    .venv/bin/python -m bench.replicas [--intakes 400] [--concurrency 16] [--kill-at 0.3] [--skip-kill]

1. a fresh stack `ankommen up --detach --postgres --replicas 1` (temporary data directory): POST
   /intakes with `--concurrency` in flight, CaseOpened read from `casework.case-opened.v1` (the helpers of
   bench/intake_pipeline.py); prints intakes/s, POST p50/p99, POST -> CaseOpened p50/p99 and the CPU
   seconds of every process (PostgreSQL with its backends) from the first POST until the last case;
2. the same on a fresh stack with `--replicas 2`;
3. on that stack again: the same load with Idempotency-Keys (a POST that fails is retried with its key),
   and once `--kill-at` of the intakes were answered, SIGKILL of the second replica of intake and of
   casework (the supervisor starts them again). Once settled: sent / answered / cases / lost /
   duplicated (intakes per key, cases per intake, event ids per stream) / pending / dead letters.

Every stack is stopped at the end, also on error or Ctrl-C. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from bench.intake_pipeline import CaseOpenedWatcher, EmbeddedStack, Poster, _fmt, household, out, pipeline_run, summary_ms
from bench.profile import TICK, proc_stat
from deploy import postgres
from deploy.stack import Stack
from services.kit.migrations import SERVICES


class ReplicaStack(EmbeddedStack):
    """`ankommen up --detach --postgres --replicas N` in a data directory of its own."""

    def __init__(self, replicas: int) -> None:
        data_dir = Path(tempfile.mkdtemp(prefix=f"ankommen-bench-r{replicas}-"))
        data_dir.chmod(0o711)  # run as root, PostgreSQL runs as user postgres and must reach its cluster
        super().__init__(data_dir)
        self.replicas = replicas

    def up(self) -> None:
        self.started = True
        proc = self._run("up", "--detach", "--postgres", "--replicas", str(self.replicas), timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"`ankommen up --detach --postgres --replicas {self.replicas}` failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        self.reload()

    def processes(self) -> dict[str, int]:
        """Every process of the stack by name (each replica on its own), this one as "bench"."""
        state = self.reload()
        procs = {r["name"]: r["pid"] for svc in state["services"].values() for r in svc["replicas"]}
        for name in ("postgres", "temporal", "redis", "web", "mail"):
            if state.get(name, {}).get("pid"):
                procs[name] = state[name]["pid"]
        procs["bench"] = os.getpid()
        return procs

    def database_url(self, svc: str) -> str:
        return Stack.of_running(self.data_dir).database_url(svc)

    def remove(self) -> None:
        self.down()
        shutil.rmtree(self.data_dir, ignore_errors=True)


# ---- CPU ------------------------------------------------------------------------------------------


def process_cpu(pid: int, with_children: bool = False) -> float:
    """User + system CPU seconds of a process (and of its reaped children); with `with_children` also of
    its live children (PostgreSQL: the postmaster and every backend)."""
    fields = proc_stat(pid)
    if fields is None:
        return 0.0
    total = sum(int(fields[i]) for i in (11, 12, 13, 14))
    if with_children:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                child = proc_stat(int(entry.name))
                if child is not None and child[1] == str(pid):
                    total += int(child[11]) + int(child[12])
    return total / TICK


def cpu_snapshot(procs: dict[str, int]) -> dict[str, float]:
    return {name: process_cpu(pid, with_children=name == "postgres") for name, pid in procs.items()}


def print_cpu(label: str, before: dict[str, float], after: dict[str, float], intakes: int) -> dict[str, float]:
    used = {name: after[name] - before.get(name, 0.0) for name in after}
    stack_total = sum(v for k, v in used.items() if k != "bench")
    out(f"{label}: CPU s per process", ", ".join(f"{k} {v:.1f}" for k, v in used.items()))
    out(f"{label}: stack CPU s / ms per intake", f"{stack_total:.1f} / {1000 * stack_total / intakes:.1f}" if intakes else "n/a")
    return used


# ---- runs -----------------------------------------------------------------------------------------


async def scaling_run(stack: ReplicaStack, args: argparse.Namespace) -> dict[str, Any]:
    label = f"{stack.replicas} replica{'s' if stack.replicas > 1 else ''}"
    print(f"== {label} per service on PostgreSQL: {args.intakes} intakes, {args.concurrency} in flight ==", flush=True)
    token = stack.token()
    redis = Redis.from_url(stack.redis_url)
    watcher = CaseOpenedWatcher(redis)
    watcher.start()
    limits = httpx.Limits(max_connections=max(args.concurrency, 64), max_keepalive_connections=max(args.concurrency, 64))
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=httpx.Timeout(30.0)) as client:
            procs = stack.processes()
            before = cpu_snapshot(procs)
            result = await pipeline_run(
                Poster(client, f"{stack.url('intake')}/intakes"), watcher, intakes=args.intakes, concurrency=args.concurrency,
                start_index=0, timeout=args.phase_timeout, drain_timeout=args.drain_timeout,
            )
            after = cpu_snapshot(procs)
    finally:
        await watcher.stop()
        await redis.aclose()
    out(f"{label}: intakes created / case opened", f"{result['created']}/{result['requests']} / {result['case_opened']}")
    if result["errors"]:
        out(f"{label}: errors", json.dumps(result["errors"]))
    out(f"{label}: throughput intakes/s", _fmt(result["throughput_intakes_per_s"]))
    p, e = result["post_ms"], result["post_to_case_opened_ms"]
    out(f"{label}: POST ms p50 / p99", f"{_fmt(p['p50'])} / {_fmt(p['p99'])}")
    out(f"{label}: POST->CaseOpened ms p50 / p99", f"{_fmt(e['p50'])} / {_fmt(e['p99'])}")
    result["cpu_s"] = print_cpu(label, before, after, result["case_opened"])
    return result


async def post_with_key(client: httpx.AsyncClient, url: str, i: int, key: str, deadline: float) -> tuple[str | None, float]:
    """POSTs intake i until it is answered (201, or 200: stored by an earlier try of the key) or the deadline; (intake id, seconds)."""
    start = time.perf_counter()
    while time.monotonic() < deadline:
        try:
            r = await client.post(url, json=household(i), headers={"Idempotency-Key": key})
            if r.status_code in (200, 201):
                return str(r.json()["intake_id"]), time.perf_counter() - start
        except httpx.HTTPError:
            pass  # the replica died under this connection: the next one goes to a live replica
        await asyncio.sleep(0.2)
    return None, time.perf_counter() - start


async def kill_run(stack: ReplicaStack, args: argparse.Namespace) -> dict[str, Any]:
    n, offset = args.intakes, 1_000_000  # other households than the scaling run's
    kill_after = max(1, int(n * args.kill_at))
    print(f"== 2 replicas, one replica of intake and one of casework SIGKILLed after {kill_after} of {n} answered ==", flush=True)
    state = stack.reload()
    victims = {svc: state["services"][svc]["replicas"][1]["pid"] for svc in ("intake", "casework")}
    token = stack.token()
    answered: dict[str, str] = {}
    latencies: list[float] = []
    gate = asyncio.Semaphore(args.concurrency)
    deadline = time.monotonic() + args.phase_timeout
    url = f"{stack.url('intake')}/intakes"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(30.0)) as client:

        async def one(i: int) -> None:
            key = f"bench-kill-{i}"
            async with gate:
                intake_id, seconds = await post_with_key(client, url, offset + i, key, deadline)
            if intake_id is not None:
                answered[key] = intake_id
                latencies.append(seconds)
                if len(answered) == kill_after:
                    for pid in victims.values():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)

        await asyncio.gather(*(one(i) for i in range(n)))
    settled = await wait_settled(stack, set(answered.values()), args.drain_timeout)
    found = await count_effects(stack, answered)
    result = {"sent": n, "answered": len(answered), "killed": victims, "settled": settled, **found, "post_ms": summary_ms(latencies)}
    out("kill run: sent / answered", f"{n} / {len(answered)}")
    out("kill run: killed pids", ", ".join(f"{svc} {pid}" for svc, pid in victims.items()))
    out("kill run: POST ms p50 / p99 (with retries)", f"{_fmt(result['post_ms']['p50'])} / {_fmt(result['post_ms']['p99'])}")
    out("kill run: intakes stored / cases", f"{found['stored']} / {found['cases']}")
    out("kill run: lost (answered without case)", str(found["lost"]))
    out("kill run: duplicated (intakes per key, cases per intake, events per stream)",
        f"{found['duplicate_intakes']} / {found['duplicate_cases']} / {found['duplicate_events']}")
    out("kill run: pending entries / unpublished outbox rows / dead letters", f"{found['pending']} / {found['unpublished']} / {found['dead_letters']}")
    out("kill run: settled", "yes" if settled else f"no, after {args.drain_timeout:g} s")
    return result


async def query(url: str, sql: str) -> list[tuple]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(sa.text(sql))).all()]
    finally:
        await engine.dispose()


async def wait_settled(stack: ReplicaStack, intake_ids: set[str], timeout: float) -> bool:
    """Until every answered intake has its case and nothing is unpublished or pending (at most `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cases = {str(r[0]) for r in await query(stack.database_url("casework"), "SELECT intake_id FROM cases WHERE intake_id IS NOT NULL")}
        found = await backlog(stack)
        if intake_ids <= cases and not any(found.values()):
            return True
        await asyncio.sleep(1.0)
    return False


async def backlog(stack: ReplicaStack) -> dict[str, int]:
    unpublished = 0
    for svc in SERVICES:
        unpublished += (await query(stack.database_url(svc), "SELECT count(*) FROM outbox WHERE published_at IS NULL"))[0][0]
    pending = dead = 0
    redis = Redis.from_url(stack.redis_url)
    try:
        async for stream in redis.scan_iter(_type="stream", count=1000):
            if stream.endswith(b".dlq"):
                dead += await redis.xlen(stream)
                continue
            pending += sum(g["pending"] for g in await redis.xinfo_groups(stream))
    finally:
        await redis.aclose()
    return {"unpublished": unpublished, "pending": pending, "dead_letters": dead}


async def count_effects(stack: ReplicaStack, answered: dict[str, str]) -> dict[str, int]:
    from faststream.redis.parser.binary import BinaryMessageFormatV1

    stored = await query(stack.database_url("intake"), "SELECT idempotency_key FROM intakes WHERE idempotency_key LIKE 'bench-kill-%'")
    keys = Counter(str(r[0]) for r in stored)
    cases = Counter(str(r[0]) for r in await query(stack.database_url("casework"), "SELECT intake_id FROM cases WHERE intake_id IS NOT NULL"))
    ours = set(answered.values())
    duplicate_events = 0
    redis = Redis.from_url(stack.redis_url)
    try:
        async for stream in redis.scan_iter(_type="stream", count=1000):
            ids: Counter[str] = Counter()
            last = "-"
            for _ in range(10_000):  # pages of 1000: bounded
                page = await redis.xrange(stream, min=last, max="+", count=1000)
                for _entry_id, fields in page:
                    with contextlib.suppress(Exception):
                        ids[str(BinaryMessageFormatV1.parse(fields[b"__data__"])[1].get("event_id"))] += 1
                if len(page) < 1000:
                    break
                last = "(" + page[-1][0].decode()
            duplicate_events += sum(n - 1 for n in ids.values() if n > 1)
    finally:
        await redis.aclose()
    return {
        "stored": sum(keys.values()),
        "cases": sum(cases[i] for i in ours),
        "lost": sum(1 for i in ours if cases[i] == 0),
        "duplicate_intakes": sum(n - 1 for n in keys.values() if n > 1),
        "duplicate_cases": sum(cases[i] - 1 for i in ours if cases[i] > 1),
        "duplicate_events": duplicate_events,
        **await backlog(stack),
    }


# ---- main -----------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, stacks: list[ReplicaStack], results: dict[str, Any]) -> None:
    for replicas in (1, 2):
        if replicas == 1 and args.skip_single:
            continue
        stack = ReplicaStack(replicas)
        stacks.append(stack)
        print(f"starting a stack with {replicas} replica(s) per service on PostgreSQL in {stack.data_dir} ...", flush=True)
        t = time.perf_counter()
        stack.up()
        out(f"{replicas} replica(s): stack start s", f"{time.perf_counter() - t:.1f}")
        results[f"replicas_{replicas}"] = await scaling_run(stack, args)
        if replicas == 1:
            stack.remove()
    if not args.skip_kill:
        results["kill"] = await kill_run(stacks[-1], args)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__.split("\n\n")[0])
    p.add_argument("--intakes", type=int, default=400, help="intakes per run (default 400)")
    p.add_argument("--concurrency", type=int, default=16, help="POSTs in flight (default 16)")
    p.add_argument("--kill-at", type=float, default=0.3, help="share of the kill run's intakes answered before the kill (default 0.3)")
    p.add_argument("--skip-single", action="store_true", help="no run with 1 replica")
    p.add_argument("--skip-kill", action="store_true", help="no kill run")
    p.add_argument("--phase-timeout", type=float, default=900.0, help="upper bound of one run's POSTs, s")
    p.add_argument("--drain-timeout", type=float, default=300.0, help="wait for the last case at most this long, s")
    args = p.parse_args(argv)
    if args.intakes < 1 or args.concurrency < 1 or not 0 < args.kill_at < 1:
        p.error("--intakes and --concurrency must be at least 1, --kill-at between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if postgres.bindir() is None:
        print("bench.replicas needs PostgreSQL's server binaries (Debian: apt-get install postgresql)", file=sys.stderr)
        return 2

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # unwinds through the finally below, which stops the stacks

    signal.signal(signal.SIGTERM, on_term)
    stacks: list[ReplicaStack] = []
    results: dict[str, Any] = {"benchmark": "replicas", "args": vars(args), "cpus": os.cpu_count()}
    out("load average before start (1/5/15 min)", " / ".join(f"{x:.2f}" for x in os.getloadavg()))
    code = 0
    try:
        asyncio.run(run(args, stacks, results))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for stack in stacks:
            stack.remove()
        r1, r2 = results.get("replicas_1", {}), results.get("replicas_2", {})
        if r1.get("throughput_intakes_per_s") and r2.get("throughput_intakes_per_s"):
            out("2 replicas / 1 replica: throughput", f"{r2['throughput_intakes_per_s'] / r1['throughput_intakes_per_s']:.2f}x")
        out("load average at the end (1/5/15 min)", " / ".join(f"{x:.2f}" for x in os.getloadavg()))
    return code


if __name__ == "__main__":
    sys.exit(main())
