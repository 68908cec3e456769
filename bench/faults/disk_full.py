"""F8: a service whose database cannot be written (disk full, locked by another process) answers 503 with
Retry-After and a clear message, never 500; stores nothing half; keeps its outbox; its consumers leave
events pending instead of dead-lettering them; and it recovers by itself when the cause goes.

    .venv/bin/python -m bench.faults.disk_full                 # 20 s per fault, needs root (tmpfs)

How the faults are made, and why: the data directory's intake and casework databases live on two small
tmpfs filesystems of their own (`mount -t tmpfs -o size=64m`; the stack's INTAKE_/CASEWORK_DATABASE_URL
point there). A full disk is a filler file written until the kernel answers ENOSPC, so SQLite gets the
real "database or disk is full" from write(2) on its WAL, exactly as on a full volume; deleting the file
gives the space back. Neither RLIMIT_FSIZE (EFBIG, a different error, and a signal) nor max_page_count
(only the main file's page count, not the WAL) is the same fault. A lock is a second process holding
`BEGIN EXCLUSIVE` on intake.db (deploy.embedded.exclusive_lock), as an operator's sqlite3 shell would.

Phases, on a fresh embedded stack: warm-up intakes; (1) intake's disk full while intakes are POSTed;
(2) casework's disk full while intakes flow to it (its consumer must not dead-letter them); (3)
intake.db locked while intakes are POSTed. Per phase it prints the answers during the fault (503, 500,
other), outbox rows before/after, intakes answered 503 but stored (must be 0), and the recovery time
from the cause's end to the first success.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from bench.faults.common import duplicates, fresh_stack, intake, out, person, rows, stream_events, until
from deploy.embedded import FAST_RECLAIM, RunningStack, exclusive_lock
from services.contracts.intake import IntakeCompleted

_keys = itertools.count()


@contextlib.contextmanager
def small_filesystems(names: list[str], size_mb: int) -> Iterator[dict[str, Path]]:
    root = Path(tempfile.mkdtemp(prefix="ankommen-fs-"))
    mounted: list[Path] = []
    try:
        for name in names:
            point = root / name
            point.mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(point)], check=True, capture_output=True)
            mounted.append(point)
        yield {name: root / name for name in names}
    finally:
        for point in mounted:
            subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)
        with contextlib.suppress(OSError):
            for point in mounted:
                point.rmdir()
            root.rmdir()


@contextlib.contextmanager
def disk_full(directory: Path) -> Iterator[int]:
    """Writes a filler file until the filesystem answers ENOSPC; removing it gives the space back."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    written = 0
    try:
        with contextlib.suppress(OSError):
            while True:
                written += os.write(fd, b"\0" * (1 << 20))
        with contextlib.suppress(OSError):
            while True:  # the last bytes
                written += os.write(fd, b"\0" * 512)
        yield written
    finally:
        os.close(fd)
        filler.unlink()


def outbox(stack: RunningStack, db: str) -> tuple[int, int]:
    """(rows, unpublished rows) of a service's outbox."""
    (total, unpublished), = rows(stack, db, "SELECT count(*), count(*) - count(published_at) FROM outbox")
    return int(total), int(unpublished)


def stored_keys(stack: RunningStack) -> set[str]:
    return {k for (k,) in rows(stack, "intake", "SELECT idempotency_key FROM intakes WHERE idempotency_key IS NOT NULL")}


async def post(c: httpx.AsyncClient) -> tuple[int, str, httpx.Response | None]:
    key = f"f8-{next(_keys)}"
    body = intake(person(next(_keys), "SY"))
    try:
        r = await c.post("/intakes", json=body, headers={"Idempotency-Key": key})
    except httpx.HTTPError:
        return 0, key, None
    return r.status_code, key, r


async def during(stack: RunningStack, fault: Callable[[], AbstractContextManager[Any]], seconds: float, writers: int) -> dict[str, Any]:
    """POSTs intakes with `writers` in flight while `fault` holds; then until the first 201 after it ended."""
    answers: Counter[str] = Counter()
    refused: set[str] = set()
    sample: dict[str, Any] = {}
    async with stack.client("intake", "frontdesk", timeout=30) as c:
        with fault():
            ends = time.monotonic() + seconds

            async def writer() -> None:
                while time.monotonic() < ends:
                    status, key, r = await post(c)
                    answers["503" if status == 503 else "500" if status == 500 else "transport error" if status == 0 else f"other ({status})"] += 1
                    if status == 503 and r is not None:
                        refused.add(key)
                        sample.setdefault("body", r.json())
                        sample.setdefault("retry_after", r.headers.get("Retry-After"))
                    if status != 503:
                        await asyncio.sleep(0.2)

            await asyncio.gather(*(writer() for _ in range(writers)))
        released = time.monotonic()

        async def recovered() -> bool:
            return (await post(c))[0] == 201

        ok = await until(recovered, timeout=120, interval=0.1)
        recovery = time.monotonic() - released if ok else None
    return {"answers": answers, "refused": refused, "sample": sample, "recovery_s": recovery}


async def settled_outbox(stack: RunningStack, db: str) -> tuple[int, int]:
    await until(lambda: _no_unpublished(stack, db), timeout=60)
    return outbox(stack, db)


async def _no_unpublished(stack: RunningStack, db: str) -> bool:
    return outbox(stack, db)[1] == 0


def report(name: str, res: dict[str, Any], before: tuple[int, int], after: tuple[int, int], stored_refused: int) -> int:
    a = res["answers"]
    others = {k: n for k, n in a.items() if k not in ("503", "500")}
    out(f"[{name}] requests during the fault", f"{sum(a.values())}: 503 {a['503']}, 500 {a['500']}, other {sum(others.values())} {others or ''}")
    if res["sample"]:
        out(f"[{name}] a 503's Retry-After / cause", f"{res['sample']['retry_after']} / {res['sample']['body'].get('cause')}")
        out(f"[{name}] its message", res["sample"]["body"]["detail"])
    out(f"[{name}] outbox rows before / after (unpublished)", f"{before[0]} ({before[1]}) / {after[0]} ({after[1]})")
    out(f"[{name}] answered 503 but stored", stored_refused)
    rec = res["recovery_s"]
    out(f"[{name}] recovery (cause gone to first 201)", f"{rec:.2f} s" if rec is not None else "NOT RECOVERED")
    return a["500"] + stored_refused + (rec is None) + (a["503"] == 0)


async def http_fault(stack: RunningStack, name: str, fault: Callable[[], AbstractContextManager[Any]], args: argparse.Namespace) -> int:
    before = outbox(stack, "intake")
    res = await during(stack, fault, args.fault_seconds, args.writers)
    after = await settled_outbox(stack, "intake")
    stored_refused = len(res["refused"] & stored_keys(stack))
    return report(name, res, before, after, stored_refused)


async def consumer_fault(stack: RunningStack, fs: Path, args: argparse.Namespace) -> int:
    """Casework's disk full while intakes flow to it: its events stay pending, none dead-lettered."""
    name = "casework disk full, consumer"
    redis = Redis.from_url(stack.redis_url)
    stream, cases_before = IntakeCompleted.stream, rows(stack, "casework", "SELECT count(*) FROM cases")[0][0]
    async with stack.client("intake", "frontdesk", timeout=30) as c:
        with disk_full(fs):
            answers = Counter([(await post(c))[0] for _ in range(args.consumer_intakes)])
            ends = time.monotonic() + args.consumer_seconds
            max_deliveries = 0
            while time.monotonic() < ends:
                pending = await redis.xpending_range(stream, "casework", min="-", max="+", count=1000)
                max_deliveries = max([max_deliveries, *(p["times_delivered"] for p in pending)])
                await asyncio.sleep(0.5)
            dead_during = await redis.xlen(stream + ".dlq")
            released = time.monotonic()

    async def all_cases() -> bool:
        return rows(stack, "casework", "SELECT count(*) FROM cases")[0][0] == cases_before + answers[201]

    ok = await until(all_cases, timeout=120, interval=0.2)
    recovery = time.monotonic() - released

    async def acknowledged() -> bool:
        return (await redis.xpending(stream, "casework"))["pending"] == 0

    await until(acknowledged, timeout=30, interval=0.2)
    pending_after = (await redis.xpending(stream, "casework"))["pending"]
    dead_after = await redis.xlen(stream + ".dlq")
    await redis.aclose()
    out(f"[{name}] intakes POSTed while casework was full", dict(answers))
    out(f"[{name}] most deliveries of one pending event", f"{max_deliveries} (dead-letter limit 5)")
    out(f"[{name}] dead-lettered during / after", f"{dead_during} / {dead_after}")
    out(f"[{name}] cases opened after space returned", f"{rows(stack, 'casework', 'SELECT count(*) FROM cases')[0][0] - cases_before} of {answers[201]}")
    out(f"[{name}] recovery (space back to all cases)", f"{recovery:.2f} s" if ok else "NOT RECOVERED")
    out(f"[{name}] still pending afterwards", pending_after)
    return dead_during + dead_after + (not ok) + pending_after


async def run(stack: RunningStack, fs: dict[str, Path], args: argparse.Namespace) -> int:
    started = time.monotonic()
    async with stack.client("intake", "frontdesk", timeout=30) as c:
        warm = Counter([(await post(c))[0] for _ in range(args.warmup)])
    out("warm-up intakes", dict(warm))
    problems = await http_fault(stack, "intake disk full", lambda: disk_full(fs["intake"]), args)
    problems += await consumer_fault(stack, fs["casework"], args)
    problems += await http_fault(stack, "intake.db locked", lambda: exclusive_lock(fs["intake"] / "intake.db"), args)
    events = await stream_events(stack.redis_url, IntakeCompleted)
    intakes = rows(stack, "intake", "SELECT count(*) FROM intakes")[0][0]
    out("intakes stored / IntakeCompleted on the stream", f"{intakes} / {len(events)} (duplicate event ids {duplicates([e['event_id'] for e in events])})")
    problems += abs(intakes - len({e['event_id'] for e in events}))
    out("duration", f"{time.monotonic() - started:.1f} s")
    out("verdict", "no 500, nothing lost or half-written, recovered by itself" if problems == 0 else f"{problems} problems")
    return 0 if problems == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault-seconds", type=float, default=20)
    parser.add_argument("--writers", type=int, default=4, help="POSTs in flight during a fault")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--consumer-intakes", type=int, default=20)
    parser.add_argument("--consumer-seconds", type=float, default=40, help="how long casework's disk stays full (redelivered past the dead-letter limit)")
    parser.add_argument("--size-mb", type=int, default=64, help="size of each database's tmpfs")
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("disk_full needs root to mount the small tmpfs filesystems the databases live on", file=sys.stderr)
        return 2
    try:
        with small_filesystems(["intake", "casework"], args.size_mb) as fs:
            env = {
                **FAST_RECLAIM,
                **{f"{svc.upper()}_DATABASE_URL": f"sqlite+aiosqlite:///{fs[svc] / f'{svc}.db'}" for svc in fs},
            }
            with fresh_stack(env, keep=args.keep_data) as stack:
                return asyncio.run(run(stack, fs, args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
