"""End-to-end benchmark of the intake -> casework pipeline on a fresh embedded stack.

    .venv/bin/python -m bench.intake_pipeline [--intakes 2000] [--concurrency 16]
                                              [--paced-rate 10] [--paced-seconds 30]

Phases, all on one stack started here (`ankommen up --detach` in a temporary data directory) and
stopped at the end, also on error or Ctrl-C:

1. baselines on the same Redis and Temporal: a bare FastStream Redis Streams round trip (publisher ->
   consumer-group subscriber) and a bare Temporal workflow with one activity (in-process worker);
2. pipeline: POST /intakes with bounded concurrency; per intake, POST start -> CaseOpened on
   `casework.case-opened.v1` (a background XREAD from the start of the stream matches intake_id);
3. paced: POST at a fixed rate (open loop, one task per request at its scheduled time);
4. peak memory (VmHWM) of redis, temporal and the four service processes.

Numbers go to stdout and to bench/results/intake_pipeline-<timestamp>.json. Every loop is bounded in
count and time; everything talks to loopback addresses only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from bench.profile import TICK, proc_stat, wait_until_idle
from services.contracts.workdays import BERLIN

CASE_OPENED_STREAM = "casework.case-opened.v1"
PROCESSES = ("redis", "temporal", "intake", "casework", "funding", "reporting")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent

DISTRICTS = ("Westen", "Mitte", "Norden", "Herringen", "Pelkum", "Uentrop", "Rhynern", "Bockum-Hövel", "Heessen")
PEOPLE = (  # nationality, residence status
    ("BG", "eu_free_movement"),
    ("RO", "eu_free_movement"),
    ("SY", "recognised_refugee"),
    ("UA", "third_country_with_title"),
    ("AF", "asylum_seeker"),
    ("PL", "eu_free_movement"),
)


#: The rest of the intake interview (issue 3), the same for every bench person.
INTERVIEW_DEFAULTS = {
    "sex": "female", "relation": "head", "languages": [{"code": "ar"}], "german_level": "A1", "literate": True,
    "schooling_years": 10, "highest_certificate": "secondary", "work_experience_years": 3, "health_insurance": "statutory",
    "able_to_work": True, "wants_registration": True,
}


# ---- small helpers ------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))  # ceil(p/100 * n)
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, Any]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50": _r(pct(ms, 50)),
        "p90": _r(pct(ms, 90)),
        "p99": _r(pct(ms, 99)),
        "max": _r(max(ms)) if ms else None,
        "mean": _r(sum(ms) / len(ms)) if ms else None,
    }


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def _fmt(x: float | None, nd: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def out(label: str, value: str) -> None:
    print(f"{label:<44} {value}", flush=True)


def busy(cpu: dict[str, Any]) -> str:
    return f"{_fmt(cpu['machine_busy_pct'])} (stack + bench: {_fmt(cpu['stack_and_bench_pct_of_machine'])})"


def household(i: int) -> dict[str, Any]:
    """A deterministic household for request i: 1-3 persons, cycling districts and nationalities."""
    today = datetime.now(BERLIN).date()
    persons = []
    for k in range(1 + i % 3):
        # the head is a recognised refugee, so every household opens a case (the casework path); the others vary
        nationality, status = PEOPLE[(i + k) % len(PEOPLE)] if k else ("SY", "recognised_refugee")
        persons.append(
            {
                "given_name": f"Bench{i}",
                "family_name": f"Person{k}",
                "date_of_birth": f"{1960 + (i + 7 * k) % 40}-{1 + i % 12:02d}-{1 + (i + k) % 28:02d}",  # adults (the household rule)
                "nationality": nationality,
                "residence_status": status,
                # moved in within the last two weeks, as people who come to register (§17 BMG); a fixed year
                # in the past made every ABRA person's reminder and missed deadline fire at once
                "move_in_date": (today - timedelta(days=(i + k) % 14)).isoformat(),
                **INTERVIEW_DEFAULTS,
            }
        )
    return {"household": {"district": DISTRICTS[i % len(DISTRICTS)], "persons": persons}}


# ---- the embedded stack -------------------------------------------------------------------------


def ankommen_cmd() -> list[str]:
    script = Path(sys.executable).parent / "ankommen"
    return [str(script)] if script.exists() else [sys.executable, "-m", "deploy.cli"]


class EmbeddedStack:
    """`ankommen up --detach` in a data directory of its own; `down` always (idempotent)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.state: dict[str, Any] = {}
        self.started = False

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ankommen_cmd(), "--data-dir", str(self.data_dir), *args],
            capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
        )

    def up(self) -> None:
        self.started = True
        proc = self._run("up", "--detach", timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"`ankommen up --detach` failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        self.reload()

    def reload(self) -> dict[str, Any]:
        self.state = json.loads((self.data_dir / "stack.json").read_text())
        return self.state

    def token(self) -> str:
        proc = self._run("token", "--user", "service", "--ttl", "14400", timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"`ankommen token` failed: {proc.stderr[-2000:]}")
        return proc.stdout.strip()

    def down(self) -> None:
        if not self.started:
            return
        self.started = False
        try:
            proc = self._run("down", timeout=120)
            if proc.returncode != 0:
                print(f"warning: `ankommen down` exited {proc.returncode}: {proc.stderr[-2000:]}", file=sys.stderr)
        except subprocess.TimeoutExpired:
            print("warning: `ankommen down` timed out", file=sys.stderr)

    @property
    def redis_url(self) -> str:
        return self.state["redis"]["url"]

    @property
    def temporal_address(self) -> str:
        return self.state["temporal"]["address"]

    def url(self, service: str) -> str:
        return self.state["services"][service]["url"]

    def pids(self) -> dict[str, int | None]:
        state = self.reload()
        pids: dict[str, int | None] = {"redis": state["redis"].get("pid"), "temporal": state["temporal"].get("pid")}
        for name, info in state["services"].items():
            pids[name] = info.get("pid")
        return pids


# the spans of one intake's way through the stack, as the services name them (see `ankommen trace`)
STAGE_SPANS = {
    "post": ("intake", "POST /intakes"),
    "intake_publish": ("intake", "intake.intake-completed.v1 publish"),
    "casework_process": ("casework", "intake.intake-completed.v1 process"),
    "start_workflow": ("casework", "StartWorkflow:ReviewCycle"),
    "case_opened_publish": ("casework", "casework.case-opened.v1 publish"),
}


def trace_breakdown(traces_dir: Path, split_at: int, max_lines: int = 2_000_000) -> dict[str, Any]:
    """Where an intake's time goes, from the span files of intake and casework: per trace (one intake),
    the gaps between the spans of STAGE_SPANS, as percentiles in ms, for the first `split_at` traces
    (pipeline run) and the rest (paced run). Empty if the spans are not there (e.g. OTLP export)."""
    wanted = {v: k for k, v in STAGE_SPANS.items()}
    by_trace: dict[str, dict[str, tuple[int, int]]] = {}
    for service in {svc for svc, _ in STAGE_SPANS.values()}:
        path = traces_dir / f"{service}.jsonl"
        if not path.exists():
            return {}
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f):
                if n >= max_lines:
                    break
                try:
                    span = json.loads(line)
                except ValueError:
                    continue
                stage = wanted.get((service, span.get("name")))
                if stage and span.get("start_ns") and span.get("end_ns"):
                    by_trace.setdefault(span["trace_id"], {})[stage] = (span["start_ns"], span["end_ns"])
    rows = []
    for stages in by_trace.values():
        if len(stages) != len(STAGE_SPANS):
            continue
        post, ip, proc, sw, cp = (stages[k] for k in STAGE_SPANS)
        rows.append(
            (
                post[0],
                {
                    "intake: POST handled (server span)": post[1] - post[0],
                    "intake: response -> outbox relay publishes": ip[0] - post[1],
                    "stream: published -> casework starts handling": proc[0] - ip[1],
                    "casework: handling -> StartWorkflow": sw[0] - proc[0],
                    "casework: StartWorkflow call": sw[1] - sw[0],
                    "casework: StartWorkflow -> handler done (tx)": proc[1] - sw[1],
                    "casework: handler done -> outbox relay publishes": cp[0] - proc[1],
                },
            )
        )
    rows.sort(key=lambda r: r[0])
    result = {}
    for name, part in (("pipeline", rows[:split_at]), ("paced", rows[split_at:])):
        if part:
            result[name] = {k: summary_ms([r[1][k] / 1e9 for r in part]) for k in part[0][1]}
    return result


def peak_memory(pids: dict[str, int | None]) -> dict[str, dict[str, float | None]]:
    """VmHWM (peak resident set) and VmRSS of each process, in MiB, from /proc/PID/status."""
    result: dict[str, dict[str, float | None]] = {}
    for name in PROCESSES:
        pid = pids.get(name)
        entry: dict[str, float | None] = {"pid": pid, "vm_hwm_mib": None, "vm_rss_mib": None}
        if pid:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    key, _, rest = line.partition(":")
                    if key in ("VmHWM", "VmRSS"):
                        kib = int(rest.split()[0])
                        entry["vm_hwm_mib" if key == "VmHWM" else "vm_rss_mib"] = round(kib / 1024, 1)
        result[name] = entry
    return result


def cpu_seconds(pids: dict[str, int | None]) -> dict[str, float | None]:
    """User + system CPU seconds each process has used so far (/proc/PID/stat), this one as "bench"."""
    result: dict[str, float | None] = {}
    for name, pid in {**pids, "bench": os.getpid()}.items():
        fields = proc_stat(pid) if pid else None
        result[name] = (int(fields[11]) + int(fields[12])) / TICK if fields else None  # utime, stime
    return result


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by each stack process, this process and the whole machine between start() and stop()."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack

    def start(self) -> None:
        self._pids = self.stack.pids()
        self._procs = cpu_seconds(self._pids)
        self._machine = machine_cpu()
        self._t = time.perf_counter()

    def stop(self, units: int) -> dict[str, Any]:
        procs, machine, wall = cpu_seconds(self._pids), machine_cpu(), time.perf_counter() - self._t
        used = {
            name: round(procs[name] - before, 2)
            for name, before in self._procs.items()
            if before is not None and procs.get(name) is not None
        }
        busy, total = machine[0] - self._machine[0], machine[1] - self._machine[1]
        cores = os.cpu_count() or 1
        ours = sum(used.values())
        return {
            "wall_s": round(wall, 2),
            "cpu_s": used,
            "cpu_ms_per_unit": {k: round(v * 1000 / units, 2) for k, v in used.items()} if units else {},
            "machine_busy_pct": round(100 * busy / total, 1) if total else None,
            "stack_and_bench_pct_of_machine": round(100 * ours / (wall * cores), 1) if wall else None,
        }


# ---- CaseOpened watcher -------------------------------------------------------------------------


class CaseOpenedWatcher:
    """Reads `casework.case-opened.v1` from the beginning (plain XREAD, no consumer group, so the
    services' groups are untouched) and records when each intake's CaseOpened was read."""

    def __init__(self, redis: Redis, stream: str = CASE_OPENED_STREAM, max_lifetime_s: float = 4 * 3600) -> None:
        self.redis = redis
        self.stream = stream
        self.seen: dict[str, float] = {}  # intake_id -> perf_counter when read
        self.entries = 0
        self.undecodable = 0
        self._progress = asyncio.Event()
        self._stop = False
        self._max_lifetime_s = max_lifetime_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="case-opened-watcher")

    async def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)

    async def _run(self) -> None:
        from faststream.redis.parser.binary import BinaryMessageFormatV1

        last_id = "0-0"
        deadline = time.monotonic() + self._max_lifetime_s
        while not self._stop and time.monotonic() < deadline:  # ends by stop(); each read blocks <= 200 ms
            try:
                response = await self.redis.xread({self.stream: last_id}, count=1000, block=200)
            except Exception as exc:  # a hiccup must not end the watcher; the phase timeouts bound the run
                print(f"watcher: xread failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                await asyncio.sleep(0.2)
                continue
            now = time.perf_counter()
            for _stream, entries in response or ():
                for entry_id, fields in entries:
                    last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    self.entries += 1
                    try:
                        body, _headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
                        intake_id = str(json.loads(body)["intake_id"])
                    except Exception:
                        self.undecodable += 1
                        continue
                    if intake_id not in self.seen:
                        self.seen[intake_id] = now
            if response:
                self._progress.set()

    async def wait_for(self, ids: set[str], timeout: float) -> int:
        """Waits until every id in `ids` was seen or `timeout` passed; returns how many are missing."""
        deadline = time.monotonic() + timeout
        while True:
            missing = sum(1 for i in ids if i not in self.seen)
            remaining = deadline - time.monotonic()
            if missing == 0 or remaining <= 0:
                return missing
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), min(remaining, 1.0))


# ---- POSTing intakes ----------------------------------------------------------------------------


@dataclass
class Post:
    index: int
    start: float
    end: float = 0.0
    status: int = 0
    intake_id: str | None = None
    error: str | None = None


@dataclass
class Poster:
    client: httpx.AsyncClient
    url: str
    posts: list[Post] = field(default_factory=list)

    async def post(self, i: int) -> Post:
        p = Post(i, time.perf_counter())
        self.posts.append(p)
        try:
            resp = await self.client.post(self.url, json=household(i))
            p.status = resp.status_code
            if resp.status_code == 201:
                p.intake_id = str(resp.json()["intake_id"])
            else:
                p.error = resp.text[:300]
        except httpx.HTTPError as exc:
            p.error = f"{type(exc).__name__}: {exc}"
        p.end = time.perf_counter()
        return p


def post_stats(posts: list[Post], watcher: CaseOpenedWatcher) -> dict[str, Any]:
    ok = [p for p in posts if p.intake_id]
    e2e = [watcher.seen[p.intake_id] - p.start for p in ok if p.intake_id in watcher.seen]
    errors: dict[str, int] = {}
    for p in posts:
        if not p.intake_id:
            key = str(p.status or p.error)
            errors[key] = errors.get(key, 0) + 1
    return {
        "requests": len(posts),
        "created": len(ok),
        "errors": errors,
        "case_opened": len(e2e),
        "post_ms": summary_ms([p.end - p.start for p in posts if p.end]),
        "post_to_case_opened_ms": summary_ms(e2e),
        "_ok": ok,
    }


async def pipeline_run(
    poster: Poster, watcher: CaseOpenedWatcher, *, intakes: int, concurrency: int, start_index: int, timeout: float, drain_timeout: float
) -> dict[str, Any]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(start_index, start_index + intakes):
        queue.put_nowait(i)
    posts_before = len(poster.posts)

    async def worker() -> None:
        while True:  # bounded by the queue's length
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await poster.post(i)

    t0 = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    done, pending = await asyncio.wait(workers, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    post_seconds = time.perf_counter() - t0
    posts = poster.posts[posts_before:]
    ids = {p.intake_id for p in posts if p.intake_id}
    missing = await watcher.wait_for(ids, drain_timeout)
    stats = post_stats(posts, watcher)
    ok = stats.pop("_ok")
    seen = [watcher.seen[p.intake_id] for p in ok if p.intake_id in watcher.seen]
    first_start = min(p.start for p in posts) if posts else t0
    span = (max(seen) - first_start) if seen else None
    stats.update(
        {
            "concurrency": concurrency,
            "timed_out_posts": bool(pending),
            "missing_case_opened": missing,
            "post_phase_s": _r(post_seconds, 2),
            "post_rate_per_s": _r(len(posts) / post_seconds if post_seconds else None, 1),
            "span_s": _r(span, 2),
            "throughput_intakes_per_s": _r(len(seen) / span if span else None, 1),
        }
    )
    return stats


async def paced_run(
    poster: Poster, watcher: CaseOpenedWatcher, *, rate: float, seconds: float, start_index: int, drain_timeout: float
) -> dict[str, Any]:
    """Open loop: request k starts at t0 + k/rate whatever the previous ones do."""
    n = int(rate * seconds)
    posts_before = len(poster.posts)
    tasks: list[asyncio.Task[Post]] = []
    t0 = time.perf_counter()
    lag: list[float] = []
    for k in range(n):
        target = t0 + k / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag.append(max(0.0, time.perf_counter() - target))
        tasks.append(asyncio.create_task(poster.post(start_index + k)))
    _done, pending = await asyncio.wait(tasks, timeout=60) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    posts = poster.posts[posts_before:]
    ids = {p.intake_id for p in posts if p.intake_id}
    missing = await watcher.wait_for(ids, drain_timeout)
    stats = post_stats(posts, watcher)
    stats.pop("_ok")
    stats.update(
        {
            "rate_per_s": rate,
            "seconds": seconds,
            # intakes answered 201 per second, from the first POST's start to the last answer
            "achieved_rate_per_s": _r(len(ids) / (max(p.end for p in posts) - t0), 2) if ids else None,
            "max_schedule_lag_ms": _r(max(lag) * 1000 if lag else None, 1),
            "missing_case_opened": missing,
        }
    )
    return stats


# ---- baselines ----------------------------------------------------------------------------------


async def redis_roundtrip(redis_url: str, *, n: int, concurrency: int, timeout: float) -> dict[str, Any]:
    """Bare FastStream: RedisBroker publisher -> StreamSub consumer-group subscriber on a fresh stream,
    with the services' read settings (max_records 20, 20 workers, 1 s block). No middlewares, no
    per-message logging."""
    from faststream.redis import RedisBroker, StreamSub

    stream = f"bench.roundtrip.{uuid.uuid4().hex[:12]}"
    broker = RedisBroker(redis_url, logger=None)
    received: dict[int, float] = {}
    all_in = asyncio.Event()
    sent: dict[int, float] = {}

    @broker.subscriber(
        stream=StreamSub(stream, group="bench", consumer="bench-1", polling_interval=1000, max_records=20),
        max_workers=20,
    )
    async def handle(body: dict) -> None:
        received.setdefault(int(body["i"]), time.perf_counter())
        if len(received) >= n:
            all_in.set()

    publisher = broker.publisher(stream=stream)
    await broker.start()
    try:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)

        async def pub() -> None:
            while True:  # bounded by the queue
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                sent[i] = time.perf_counter()
                await publisher.publish({"i": i})

        t0 = time.perf_counter()
        pubs = [asyncio.create_task(pub()) for _ in range(concurrency)]
        _done, pending = await asyncio.wait(pubs, timeout=timeout)
        for task in pending:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), max(1.0, timeout - (time.perf_counter() - t0)))
        lat = [received[i] - sent[i] for i in received if i in sent]
        span = (max(received.values()) - t0) if received else None
    finally:
        await broker.stop()
        redis = Redis.from_url(redis_url)
        try:
            await redis.delete(stream)
        finally:
            await redis.aclose()
    return {
        "messages": n,
        "received": len(received),
        "publish_concurrency": concurrency,
        "span_s": _r(span, 3),
        "messages_per_s": _r(len(received) / span if span else None, 1),
        "latency_ms": summary_ms(lat),
    }


async def temporal_baseline(address: str, *, n: int, in_flight: int, timeout: float) -> dict[str, Any]:
    """Bare Temporal: a workflow that runs one activity, started and awaited by the client, run by an
    in-process worker on its own task queue; `in_flight` workflows at a time."""
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    from bench.baseline_workflows import Ping, ping

    client = await Client.connect(address, namespace="default", data_converter=pydantic_data_converter)
    tag = uuid.uuid4().hex[:12]
    task_queue = f"bench-ping-{tag}"
    latencies: list[float] = []
    failures: dict[str, int] = {}

    async def one(i: int) -> None:
        t = time.perf_counter()
        try:
            result = await client.execute_workflow(Ping.run, i, id=f"bench-ping-{tag}-{i}", task_queue=task_queue)
            if result != i:
                raise ValueError(f"wrong result {result}")
            latencies.append(time.perf_counter() - t)
        except Exception as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1

    async with Worker(client, task_queue=task_queue, workflows=[Ping], activities=[ping], max_concurrent_activities=in_flight):
        await asyncio.wait_for(asyncio.gather(*(one(-1 - k) for k in range(min(in_flight, 20)))), 60)  # warm-up
        latencies.clear()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)

        async def runner() -> None:
            while True:  # bounded by the queue
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await one(i)

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(runner()) for _ in range(in_flight)]
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        elapsed = time.perf_counter() - t0
    return {
        "workflows": n,
        "completed": len(latencies),
        "failures": failures,
        "in_flight": in_flight,
        "elapsed_s": _r(elapsed, 2),
        "workflows_per_s": _r(len(latencies) / elapsed if elapsed else None, 1),
        "latency_ms": summary_ms(latencies),
    }


# ---- main ---------------------------------------------------------------------------------------


async def health(client: httpx.AsyncClient, stack: EmbeddedStack) -> dict[str, Any]:
    result = {}
    for svc in ("intake", "casework"):
        with contextlib.suppress(Exception):
            body = (await client.get(f"{stack.url(svc)}/health", timeout=5)).json()
            result[svc] = {k: body.get(k) for k in ("outbox_pending", "outbox_published", "consumed")}
    return result


async def run(args: argparse.Namespace, stack: EmbeddedStack, results: dict[str, Any]) -> None:
    cores = os.cpu_count() or 1
    in_flight = args.workflow_in_flight or 10 * cores
    token = stack.token()

    print("== baselines (same Redis and Temporal) ==", flush=True)
    meter = CpuMeter(stack)
    meter.start()
    rt = await redis_roundtrip(stack.redis_url, n=args.redis_messages, concurrency=args.concurrency, timeout=args.phase_timeout)
    rt["cpu"] = meter.stop(rt["received"])
    results["baseline_redis_roundtrip"] = rt
    out("redis round trip: messages", f"{rt['received']}/{rt['messages']}")
    out("redis round trip: messages/s", _fmt(rt["messages_per_s"]))
    out("redis round trip: latency ms p50 / p99", f"{_fmt(rt['latency_ms']['p50'])} / {_fmt(rt['latency_ms']['p99'])}")
    out("redis round trip: machine CPU busy %", busy(rt["cpu"]))

    # Collect the round trip's Redis clients now: their finalizers import modules lazily, and run inside a
    # workflow activation (by chance of the GC) they trip the sandbox's import and os.environ checks.
    gc.collect()
    meter.start()
    wf = await temporal_baseline(stack.temporal_address, n=args.workflows, in_flight=in_flight, timeout=args.phase_timeout)
    wf["cpu"] = meter.stop(wf["completed"])
    results["baseline_temporal_workflow"] = wf
    out("bare workflow: completed", f"{wf['completed']}/{wf['workflows']} ({wf['in_flight']} in flight, {cores} cores)")
    out("bare workflow: workflows/s", _fmt(wf["workflows_per_s"]))
    out("bare workflow: latency ms p50 / p99", f"{_fmt(wf['latency_ms']['p50'])} / {_fmt(wf['latency_ms']['p99'])}")
    out("bare workflow: machine CPU busy %", busy(wf["cpu"]))
    per_wf = wf["cpu"]["cpu_ms_per_unit"]
    out("bare workflow: CPU ms per workflow", ", ".join(f"{k} {per_wf[k]:.1f}" for k in ("temporal", "bench") if k in per_wf))
    if wf["failures"]:
        out("bare workflow: failures", json.dumps(wf["failures"]))

    redis = Redis.from_url(stack.redis_url)
    watcher = CaseOpenedWatcher(redis)
    watcher.start()
    limits = httpx.Limits(max_connections=max(args.concurrency, 64), max_keepalive_connections=max(args.concurrency, 64))
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=httpx.Timeout(30.0)) as client:
            poster = Poster(client, f"{stack.url('intake')}/intakes")

            print(f"== pipeline: {args.intakes} intakes, concurrency {args.concurrency} ==", flush=True)
            meter = CpuMeter(stack)
            meter.start()
            pl = await pipeline_run(
                poster, watcher, intakes=args.intakes, concurrency=args.concurrency, start_index=0,
                timeout=args.phase_timeout, drain_timeout=args.drain_timeout,
            )
            pl["cpu"] = meter.stop(pl["case_opened"])
            results["pipeline"] = pl
            out("pipeline: intakes created / case opened", f"{pl['created']}/{pl['requests']} / {pl['case_opened']}")
            if pl["errors"]:
                out("pipeline: errors", json.dumps(pl["errors"]))
            out("pipeline: throughput intakes/s", _fmt(pl["throughput_intakes_per_s"]))
            out("pipeline: POST rate/s (POST phase only)", _fmt(pl["post_rate_per_s"]))
            p, e = pl["post_ms"], pl["post_to_case_opened_ms"]
            out("pipeline: POST ms p50 / p90 / p99", f"{_fmt(p['p50'])} / {_fmt(p['p90'])} / {_fmt(p['p99'])}")
            out("pipeline: POST->case opened ms p50 / p90 / p99", f"{_fmt(e['p50'])} / {_fmt(e['p90'])} / {_fmt(e['p99'])}")
            cpu = pl["cpu"]
            out("pipeline: machine CPU busy %", busy(cpu))
            out("pipeline: CPU ms per intake", ", ".join(f"{k} {v:.1f}" for k, v in cpu["cpu_ms_per_unit"].items()))

            # the paced run measures a steady 10/s, not how fast the pipeline run's leftovers drain: the
            # events reporting, funding and the workflows still work through once every case is open
            settled = await asyncio.to_thread(wait_until_idle, {n: p for n, p in stack.pids().items() if p is not None})
            results["settle_before_paced_s"] = _r(settled, 1)
            out("stack idle again after the pipeline run, s", _fmt(_r(settled, 1)))
            print(f"== paced: {args.paced_rate:g} intakes/s for {args.paced_seconds:g} s ==", flush=True)
            pc = await paced_run(
                poster, watcher, rate=args.paced_rate, seconds=args.paced_seconds, start_index=args.intakes,
                drain_timeout=args.drain_timeout,
            )
            results["paced"] = pc
            out("paced: intakes created / case opened", f"{pc['created']}/{pc['requests']} / {pc['case_opened']}")
            if pc["errors"]:
                out("paced: errors", json.dumps(pc["errors"]))
            p, e = pc["post_ms"], pc["post_to_case_opened_ms"]
            out("paced: POST ms p50 / p99", f"{_fmt(p['p50'])} / {_fmt(p['p99'])}")
            out("paced: POST->case opened ms p50 / p99", f"{_fmt(e['p50'])} / {_fmt(e['p99'])}")
            results["health_after"] = await health(client, stack)
    finally:
        await watcher.stop()
        results["watcher"] = {"entries_read": watcher.entries, "undecodable": watcher.undecodable}
        await redis.aclose()

    print("== peak memory (VmHWM) ==", flush=True)
    mem = peak_memory(stack.pids())
    results["memory"] = mem
    for name in PROCESSES:
        out(f"memory: {name} MiB", _fmt(mem[name]["vm_hwm_mib"]))
    out("memory: total MiB", _fmt(sum(m["vm_hwm_mib"] or 0 for m in mem.values())))

    print("== ratios ==", flush=True)
    ratio_wf = pl["throughput_intakes_per_s"] / wf["workflows_per_s"] if pl["throughput_intakes_per_s"] and wf["workflows_per_s"] else None
    ratio_rt = pl["throughput_intakes_per_s"] / rt["messages_per_s"] if pl["throughput_intakes_per_s"] and rt["messages_per_s"] else None
    paced_p99 = pc["post_ms"]["p99"]
    results["ratios"] = {
        "pipeline_vs_bare_workflow": _r(ratio_wf, 3),
        "pipeline_vs_redis_roundtrip": _r(ratio_rt, 4),
        "target_pipeline_vs_bare_workflow": 0.7,
        "meets_throughput_target": ratio_wf is not None and ratio_wf >= 0.7,
        "busy_with_another_stack": bool(args.busy),
        "paced_post_p99_ms": paced_p99,
        "target_paced_post_p99_ms": 300,
        "meets_latency_target": paced_p99 is not None and paced_p99 < 300,
    }
    under = " (another stack loads the machine)" if args.busy else ""
    out("ratio: pipeline / bare workflow", f"{_fmt(ratio_wf * 100 if ratio_wf else None)} % (target >= 70 % on a quiet machine){under}")
    out("ratio: pipeline / redis round trip", f"{_fmt(ratio_rt * 100 if ratio_rt else None, 2)} %")
    out("paced POST p99 vs target", f"{_fmt(paced_p99)} ms (target < 300 ms){under}")
    achieved = pc["achieved_rate_per_s"]
    results["ratios"]["paced_achieved_per_s"] = achieved
    out("paced: achieved intakes/s", f"{_fmt(achieved)} (target >= {0.95 * args.paced_rate:g}){under}")


def start_load_stack(in_flight: int) -> subprocess.Popen[str]:
    """bench.load_stack in a process of its own, once it posts (its stack is up)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.load_stack", "--concurrency", str(in_flight)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    for _ in range(50):  # a few lines at most before it posts
        line = proc.stdout.readline()
        if not line or line.strip() == "loading":
            break
    if proc.poll() is not None:
        raise RuntimeError("bench.load_stack ended before it loaded the machine")
    return proc


def stop_load_stack(proc: subprocess.Popen[str]) -> str:
    """Stops the load (its stack goes down); returns its last line (how many intakes it created)."""
    proc.send_signal(signal.SIGTERM)
    try:
        rest, _ = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
    lines = [line for line in (rest or "").splitlines() if line.strip()]
    return lines[-1] if lines else f"exited {proc.returncode}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.intake_pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--intakes", type=int, default=2000, help="intakes in the pipeline run (default 2000)")
    p.add_argument("--concurrency", type=int, default=16, help="POSTs in flight in the pipeline run (default 16)")
    p.add_argument("--paced-rate", type=float, default=10.0, help="intakes per second in the paced run (default 10)")
    p.add_argument("--paced-seconds", type=float, default=30.0, help="length of the paced run (default 30)")
    p.add_argument("--redis-messages", type=int, default=5000, help="messages in the Redis round-trip baseline")
    p.add_argument("--workflows", type=int, default=1000, help="workflows in the Temporal baseline")
    p.add_argument("--workflow-in-flight", type=int, default=0, help="workflows at once (default 10 per core)")
    p.add_argument("--phase-timeout", type=float, default=900.0, help="upper bound of one phase's sending, s")
    p.add_argument("--drain-timeout", type=float, default=300.0, help="wait for the last CaseOpened at most this long, s")
    p.add_argument("--keep-data", action="store_true", help="keep the stack's data directory (logs, traces) afterwards")
    p.add_argument("--busy", type=int, default=0, metavar="N",
                   help="load the machine with another stack (bench.load_stack, N intakes in flight) during every phase")
    args = p.parse_args(argv)
    for name in ("intakes", "concurrency", "redis_messages", "workflows"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.paced_rate <= 0 or args.paced_seconds < 0:
        p.error("--paced-rate must be > 0 and --paced-seconds >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # unwinds through the finally below, which stops the stack

    signal.signal(signal.SIGTERM, on_term)
    started = datetime.now(UTC)
    data_dir = Path(tempfile.mkdtemp(prefix="ankommen-bench-"))
    stack = EmbeddedStack(data_dir)
    results: dict[str, Any] = {
        "benchmark": "intake_pipeline",
        "started_at": started.isoformat(),
        "args": vars(args),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "data_dir": str(data_dir),
        "load_average_at_start": os.getloadavg(),
    }
    code = 0
    load: subprocess.Popen[str] | None = None
    try:
        print(f"starting the embedded stack in {data_dir} ...", flush=True)
        out("load average before start (1/5/15 min)", " / ".join(f"{x:.2f}" for x in os.getloadavg()))
        t = time.perf_counter()
        stack.up()
        results["stack_start_s"] = round(time.perf_counter() - t, 1)
        out("stack start s", f"{results['stack_start_s']:.1f}")
        if args.busy:
            load = start_load_stack(args.busy)
            out("busy: another stack loads the machine", f"{args.busy} intakes in flight (bench.load_stack)")
        asyncio.run(run(args, stack, results))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        results["error"] = "interrupted"
        code = 130
    except Exception as exc:
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        results["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if load is not None:
            results["busy"] = stop_load_stack(load)
            out("busy: the other stack's intakes", results["busy"])
        stack.down()
        if "pipeline" in results:
            with contextlib.suppress(Exception):
                breakdown = trace_breakdown(data_dir / "traces", split_at=results["pipeline"]["requests"])
                results["trace_breakdown_ms"] = breakdown
                for run_name, stages in breakdown.items():
                    print(f"== where the time goes, {run_name} run (from the span files), ms p50 / p90 / p99 ==")
                    for stage, st in stages.items():
                        out(f"  {stage}", f"{_fmt(st['p50'])} / {_fmt(st['p90'])} / {_fmt(st['p99'])}")
        if args.keep_data:
            print(f"data directory kept: {data_dir}", flush=True)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
        results["finished_at"] = datetime.now(UTC).isoformat()
        results["load_average_at_end"] = os.getloadavg()
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"intake_pipeline-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"results: {path}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
