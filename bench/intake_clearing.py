"""Benchmark of the intake interview with ABRA pre-registration clearing on a fresh embedded stack.

    .venv/bin/python -m bench.intake_clearing [--intakes 1000] [--concurrency 16] [--abra-share 0.3]

1. `ankommen up --detach` in a temporary data directory (stopped at the end, also on error or Ctrl-C);
2. ABRA coaches publish enough appointment slots for the next working days (POST /abra/slots);
3. POST /intakes for `--intakes` mixed households (1-3 persons; `--abra-share` of the households are
   Bulgarian/Romanian and take the ABRA route, the rest Syrian, Afghan, Ukrainian, Polish, ...) with
   bounded concurrency; per intake, POST start -> every ABRA person's ClearingAppointmentBooked on
   `intake.clearing-appointment-booked.v1` (correlation_id = intake id; a background XREAD).

Prints intakes/s, POST /intakes latency (p50/p90/p99) and intake-to-appointment-booked latency, the CPU
time each process of the stack (and the benchmark client) used from the first POST until the last booking,
and writes bench/results/intake_clearing-<timestamp>.json. Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from bench.intake_pipeline import INTERVIEW_DEFAULTS, RESULTS_DIR, EmbeddedStack, out, summary_ms
from bench.profile import Profiler, cpu_seconds, idle_cpu_rate, thread_cpu, wait_until_idle
from services.contracts.workdays import BERLIN, add_working_days

BOOKED_STREAM = "intake.clearing-appointment-booked.v1"
DISTRICTS = ("Westen", "Mitte", "Norden", "Herringen", "Pelkum", "Uentrop", "Rhynern", "Bockum-Hövel", "Heessen")
OTHERS = (("SY", "recognised_refugee"), ("AF", "asylum_seeker"), ("UA", "third_country_with_title"), ("PL", "eu_free_movement"),
          ("XK", "enforceably_obliged_to_leave"))


def household(i: int, abra: bool) -> tuple[dict[str, Any], int]:
    """(payload, persons on the ABRA route) for request i."""
    today = datetime.now(BERLIN).date()
    persons = []
    for k in range(1 + i % 3):
        if abra:
            nationality, status = ("BG", "RO")[(i + k) % 2], "eu_free_movement"
        else:  # the head is a recognised refugee, so every other household opens a case (the casework path)
            nationality, status = OTHERS[(i + k) % len(OTHERS)] if k else ("SY", "recognised_refugee")
        persons.append(
            {
                **INTERVIEW_DEFAULTS, "given_name": f"Bench{i}", "family_name": f"Person{k}",
                "date_of_birth": f"{1960 + (i + 7 * k) % 40}-{1 + i % 12:02d}-{1 + (i + k) % 28:02d}",
                "nationality": nationality, "residence_status": status, "move_in_date": today.isoformat(),
                **({"status_since": "2020-01-01"} if status == "tolerated" else {}),
            }
        )
    return {"household": {"district": DISTRICTS[i % len(DISTRICTS)], "persons": persons}}, (len(persons) if abra else 0)


class BookedWatcher:
    """Counts ClearingAppointmentBooked per correlation id (= intake id) from the start of the stream."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.count: Counter[str] = Counter()
        self.first_seen: dict[str, float] = {}
        self.seen_event_ids: set[str] = set()
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop = True
        if self._task:
            await asyncio.wait_for(self._task, 5)

    async def _run(self) -> None:
        from faststream.redis.parser.binary import BinaryMessageFormatV1

        last = "0-0"
        deadline = time.monotonic() + 3 * 3600
        while not self._stop and time.monotonic() < deadline:
            try:
                response = await self.redis.xread({BOOKED_STREAM: last}, count=1000, block=200)
            except Exception as exc:  # a hiccup must not end the watcher
                print(f"watcher: {type(exc).__name__}: {exc}", file=sys.stderr)
                await asyncio.sleep(0.2)
                continue
            now = time.perf_counter()
            for _stream, entries in response or ():
                for entry_id, fields in entries:
                    last = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    try:
                        body, _ = BinaryMessageFormatV1.parse(fields[b"__data__"])
                        data = json.loads(body)
                    except Exception:
                        continue
                    if data["event_id"] in self.seen_event_ids:
                        continue
                    self.seen_event_ids.add(data["event_id"])
                    key = data["correlation_id"]
                    self.count[key] += 1
                    self.first_seen.setdefault(key, now)
                    self.first_seen[f"{key}#{self.count[key]}"] = now


def stack_pids(state: dict[str, Any]) -> dict[str, int]:
    pids = {name: svc["pid"] for name, svc in state.get("services", {}).items() if svc.get("pid")}
    for name in ("temporal", "redis", "web", "mail"):
        if isinstance(state.get(name), dict) and state[name].get("pid"):
            pids[name] = state[name]["pid"]
    pids["benchmark client"] = os.getpid()
    return pids


async def publish_slots(url: str, token: str, persons: int) -> int:
    """Slots on the next working days, enough for every ABRA person within 3 working days."""
    days = [add_working_days(datetime.now(BERLIN).date(), d) for d in range(0, 4)]
    per_day = max(10, -(-persons * 2 // len(days)))
    slots = []
    for day in days:
        for h in range(32):  # every 15 minutes, 8:00 to 15:45; a slot holds at most 20 (the API's limit)
            starts = datetime.combine(day, dtime(8 + h // 4, 15 * (h % 4)), tzinfo=BERLIN)
            if starts > datetime.now(BERLIN) + timedelta(minutes=5):
                slots.append({"starts_at": starts.isoformat(), "capacity": min(20, max(1, -(-per_day // 32)))})
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        for i in range(0, len(slots), 400):
            r = await c.post("/abra/slots", json={"slots": slots[i : i + 400]})
            r.raise_for_status()
    return sum(s["capacity"] for s in slots)


async def run(args: argparse.Namespace, stack: EmbeddedStack, results: dict[str, Any]) -> None:
    frontdesk = stack._run("token", "--user", "frontdesk", "--ttl", "14400", timeout=60).stdout.strip()
    coach = stack._run("token", "--user", "abra", "--ttl", "14400", timeout=60).stdout.strip()
    plan = [household(i, (i * 37 % 100) < args.abra_share * 100) for i in range(args.intakes)]
    abra_persons = sum(n for _, n in plan)
    capacity = await publish_slots(stack.url("intake"), coach, abra_persons)
    out("ABRA persons / slot capacity published", f"{abra_persons} / {capacity}")
    if capacity < abra_persons:
        print(f"warning: {abra_persons - capacity} ABRA persons find no slot within the booking window; use fewer --intakes",
              file=sys.stderr)
    redis = Redis.from_url(stack.redis_url)
    watcher = BookedWatcher(redis)
    watcher.start()
    latencies: list[float] = []
    started: dict[str, tuple[float, int]] = {}
    errors: Counter[int] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.intakes):
        queue.put_nowait(i)
    async with httpx.AsyncClient(base_url=stack.url("intake"), headers={"Authorization": f"Bearer {frontdesk}"}, timeout=60) as c:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                payload, n_abra = plan[i]
                t0 = time.perf_counter()
                r = await c.post("/intakes", json=payload, headers={"Idempotency-Key": f"bench-{i}"})
                t1 = time.perf_counter()
                if r.status_code != 201:
                    errors[r.status_code] += 1
                    continue
                latencies.append(t1 - t0)
                if n_abra:
                    started[r.json()["intake_id"]] = (t0, n_abra)

        pids = stack_pids(stack.reload())
        profiler = None
        if args.profile:
            profiler = Profiler({n: p for n, p in pids.items() if n in PROFILED}, RESULTS_DIR / f"profiles-{datetime.now():%Y%m%d-%H%M%S}")
            if profiler.available:
                profiler.start()
            else:
                print("py-spy not found (pip install py-spy): no profile", file=sys.stderr)
                profiler = None
        stack_only = {n: p for n, p in pids.items() if n != "benchmark client"}
        idle = await asyncio.to_thread(idle_cpu_rate, stack_only)
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        threads_before = {name: thread_cpu(pids[name]) for name in PROFILED if name in pids}
        t_start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - t_start
    out("intakes posted", f"{len(latencies)} in {elapsed:.1f} s, errors {dict(errors) or 0}")
    out("intakes/s", f"{len(latencies) / elapsed:.1f}")
    post = summary_ms(latencies)
    out("POST /intakes ms p50 / p90 / p99 / max", f"{post['p50']} / {post['p90']} / {post['p99']} / {post['max']}")

    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and any(watcher.count[k] < n for k, (_, n) in started.items()):
        await asyncio.sleep(0.5)
    booked = [watcher.first_seen[f"{k}#{n}"] - t0 for k, (t0, n) in started.items() if watcher.count[k] >= n]
    missing = sum(1 for k, (_, n) in started.items() if watcher.count[k] < n)
    # the downstream work (cases, review cycles, projections) goes on after the last booking: count it too
    settled = await asyncio.to_thread(wait_until_idle, stack_only, quiet_for=QUIET_S, timeout=args.timeout)
    wall = time.perf_counter() - t_start - QUIET_S  # wait_until_idle's quiet stretch at the end is not work
    if profiler:
        profiler.stop()
    threads = {name: {k: round(v - before.get(k, 0.0), 2) for k, v in thread_cpu(pids[name]).items()} for name, before in threads_before.items()}
    cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()}
    appt = summary_ms(booked)
    out("ABRA intakes fully booked", f"{len(booked)} of {len(started)} (missing {missing})")
    out("intake -> appointment booked ms p50 / p90 / p99", f"{appt['p50']} / {appt['p90']} / {appt['p99']}")
    out("stack idle after the last POST", f"{settled:.1f} s")
    out(f"CPU s per process over {wall:.1f} s (2 cores = {2 * wall:.0f} CPU s)", "")
    for name, used in sorted(cpu.items(), key=lambda kv: -kv[1]):
        out(f"  {name}", f"{used:.1f} s  ({used / wall:.0%} of one core, {1000 * used / max(1, len(latencies)):.1f} ms per intake)")
    stack_cpu = sum(v for k, v in cpu.items() if k != "benchmark client")
    out("  all processes", f"{sum(cpu.values()):.1f} s  ({sum(cpu.values()) / wall:.0%} of one core)")
    idle_share = idle * wall  # what the stack spends anyway over the window (pollers, timers, the Temporal server's housekeeping)
    out("stack CPU at rest (before the load)", f"{idle:.1%} of one core")
    out("stack CPU per intake (without the client)", f"{1000 * stack_cpu / max(1, len(latencies)):.1f} ms")
    out("  of which the load's own (the rest subtracted)", f"{1000 * (stack_cpu - idle_share) / max(1, len(latencies)):.1f} ms")
    results.update(idle_cpu_share=round(idle, 4), load_cpu_ms_per_intake=round(1000 * (stack_cpu - idle_share) / max(1, len(latencies)), 1))
    out("CPU per thread, ms per intake", "")
    for name, kinds in threads.items():
        out(f"  {name}", ", ".join(f"{k} {1000 * v / max(1, len(latencies)):.1f}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v > 0))
    results["thread_cpu_seconds"] = threads
    if profiler:
        profile = profiler.summary()
        results["profile"] = profile
        print_profile(profile, cpu, len(latencies))
    await watcher.stop()
    await redis.aclose()
    results.update(cpu_seconds=cpu, cpu_window_s=round(wall, 2), stack_cpu_ms_per_intake=round(1000 * stack_cpu / max(1, len(latencies)), 1),
        intakes=len(latencies), errors=dict(errors), seconds=round(elapsed, 2), intakes_per_s=round(len(latencies) / elapsed, 2),
        post_ms=post, abra_intakes=len(started), abra_persons=abra_persons, booked_ms=appt, booking_missing=missing,
    )


PROFILED = ("intake", "casework", "funding", "reporting")
#: how long every process must stay quiet before the stack counts as idle (the end of the CPU window)
QUIET_S = 2.0


def print_profile(profile: dict[str, Any], cpu: dict[str, float], intakes: int) -> None:
    """Per process: ms of CPU per intake in each category (the process's CPU split by its py-spy samples)."""
    out("where the CPU goes (py-spy samples, ms per intake)", "")
    for name, prof in sorted(profile.items(), key=lambda kv: -cpu.get(kv[0], 0)):
        per_intake = 1000 * cpu.get(name, 0) / max(1, intakes)
        out(f"  {name}", f"{per_intake:.1f} ms, {prof['samples']} samples")
        for category, share in prof["categories"].items():
            if share >= 0.02:
                out(f"    {category}", f"{share * per_intake:.1f} ms ({share:.0%})")
        out("    hottest functions (self)", ", ".join(f"{f} {s:.0%}" for f, s in prof["hottest"][:5]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intakes", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--abra-share", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the bookings after the last POST")
    parser.add_argument("--profile", action="store_true", help="py-spy on each service while the load runs; prints where the CPU goes")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"bench": "intake_clearing", "at": datetime.now().isoformat(), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="ankommen-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp))
        try:
            stack.up()
            asyncio.run(run(args, stack, results))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            stack.down()
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"intake_clearing-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

