"""F2: SIGKILL the embedded stack's Redis five times during a burst of 300 intakes.

    .venv/bin/python -m bench.faults.redis_kill                      # AOF everysec, as `ankommen up` runs it
    .venv/bin/python -m bench.faults.redis_kill --redis-persistence none   # a Redis that forgets everything

Starts the stack (`ankommen up --detach`, fresh temporary data directory, fast reclaim), POSTs the
intakes (an Idempotency-Key each, `--concurrency` in flight; a request that fails is sent again with
the same key, at most 3 times) and kills Redis with SIGKILL each time another sixth of the burst was
answered. The stack's supervisor restarts it on the same port and data directory (the script only
waits for the new pid to answer PING). Afterwards it polls (bounded) until everything settled and
prints: every stored intake has exactly one case, every outbox event of every service is on its
stream, nothing pending, no dead letters, reporting counted each intake and case once, and how many
events Redis lost although the relay had marked them published (the relays published them again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from faststream.redis.parser.binary import BinaryMessageFormatV1
from redis.asyncio import Redis

from deploy.embedded import FAST_RECLAIM, RunningStack
from deploy.stack import _redis_ready
from services.kit.migrations import SERVICES


def intake_payload(i: int) -> dict[str, Any]:
    """One person's complete intake interview (a recognised refugee: the casework route), fictitious."""
    return {"household": {"district": "Westen", "persons": [{
        "given_name": f"Fault{i}", "family_name": "Probe", "date_of_birth": f"{1960 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}", "sex": "female",
        "relation": "head", "nationality": "SY", "languages": [{"code": "ar"}], "german_level": "A1", "literate": True, "schooling_years": 10,
        "highest_certificate": "secondary", "vocational_qualification": None, "work_experience_years": 5, "able_to_work": True,
        "wants_registration": True, "health_insurance": "statutory", "residence_status": "recognised_refugee", "move_in_date": "2026-11-02",
        "consents": [{"partner": "social_casework", "purpose": "counselling", "given_on": "2026-11-02"}],
    }]}}


def out(label: str, value: object) -> None:
    print(f"{label:<52} {value}", flush=True)


def rows(data_dir: Path, db: str, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(data_dir / f"{db}.db", timeout=10)) as conn:
        return conn.execute(sql).fetchall()


@dataclass
class Burst:
    answered: dict[str, str] = field(default_factory=dict)  # idempotency key -> intake id
    failed: set[str] = field(default_factory=set)
    retries: int = 0
    last_error: str = ""
    kills: list[float] = field(default_factory=list)  # seconds until the restarted Redis answered


async def kill_redis(stack: RunningStack, timeout: float = 60) -> float:
    """SIGKILL to Redis, then waits until the supervisor's new Redis answers; returns the seconds it took."""
    old = stack.state["redis"]["pid"]
    port = stack.state["redis"]["port"]
    started = time.monotonic()
    os.kill(old, signal.SIGKILL)
    deadline = started + timeout
    while time.monotonic() < deadline:
        pid = stack.state["redis"]["pid"]
        if pid != old and _redis_ready(port):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise RuntimeError(f"Redis was not restarted within {timeout:.0f} s (the stack's supervisor restarts dead children)")


async def burst(stack: RunningStack, n: int, concurrency: int, kills: int) -> Burst:
    b = Burst()
    gate = asyncio.Semaphore(concurrency)
    thresholds = [n * (k + 1) // (kills + 1) for k in range(kills)]
    kill_lock = asyncio.Lock()

    async def maybe_kill() -> None:
        async with kill_lock:
            if thresholds and len(b.answered) >= thresholds[0]:
                thresholds.pop(0)
                b.kills.append(await kill_redis(stack))

    async with stack.client("intake", timeout=15) as client:

        async def submit(i: int) -> None:
            key = f"redis-kill-{i}"
            for attempt in range(3):
                async with gate:
                    try:
                        r = await client.post("/intakes", json=intake_payload(i), headers={"Idempotency-Key": key})
                    except httpx.HTTPError:
                        r = None
                if r is not None and r.status_code in (200, 201):
                    b.answered[key] = r.json()["intake_id"]
                    b.failed.discard(key)
                    await maybe_kill()
                    return
                b.failed.add(key)
                b.last_error = f"{r.status_code} {r.text[:200]}" if r is not None else "no answer"
                b.retries += attempt < 2
                await asyncio.sleep(0.5)

        await asyncio.gather(*(submit(i) for i in range(n)))
    while thresholds:  # a burst answered faster than the kills: the rest now
        thresholds.pop(0)
        b.kills.append(await kill_redis(stack))
    return b


async def stream_events(redis: Redis) -> tuple[dict[str, Counter[str]], int, int]:
    """Per stream the event ids on it (with how often), pending entries of all groups, dead letters."""
    on_stream: dict[str, Counter[str]] = {}
    pending = dead = 0
    async for key in redis.scan_iter(_type="stream"):
        stream = key.decode()
        if stream.endswith(".dlq"):
            dead += await redis.xlen(stream)
            continue
        ids: Counter[str] = Counter()
        for _, fields in await redis.xrange(stream):
            with contextlib.suppress(Exception):
                ids[str(BinaryMessageFormatV1.parse(fields[b"__data__"])[1]["event_id"])] += 1
        on_stream[stream] = ids
        pending += sum(int(g["pending"]) for g in await redis.xinfo_groups(stream))
    return on_stream, pending, dead


async def figures(stack: RunningStack) -> dict[str, Any]:
    d = stack.data_dir
    stored = {k: v.replace("-", "") for k, v in rows(d, "intake", "SELECT idempotency_key, id FROM intakes")}
    cases = Counter(str(r[0]).replace("-", "") for r in rows(d, "casework", "SELECT intake_id FROM cases"))
    outbox = {svc: rows(d, svc, "SELECT event_id, stream, published_at FROM outbox") for svc in SERVICES}
    redis = Redis.from_url(stack.redis_url)
    try:
        on_stream, pending, dead = await stream_events(redis)
    finally:
        await redis.aclose()
    lost = sum(1 for svc in SERVICES for event_id, stream, _ in outbox[svc] if on_stream.get(stream, Counter())[_uuid(event_id)] == 0)
    facts = dict(rows(d, "reporting", "SELECT kind, count(*) FROM facts WHERE kind IN ('IntakeCompleted', 'CaseOpened') GROUP BY kind"))
    return {
        "stored": len(stored),
        "cases": sum(cases.values()),
        "intakes without a case": len(set(stored.values()) - set(cases)),
        "intakes with more than one case": sum(1 for c in cases.values() if c > 1),
        "outbox events": sum(len(v) for v in outbox.values()),
        "outbox unpublished": sum(1 for v in outbox.values() for r in v if r[2] is None),
        "lost": lost,
        "entries on a stream more than once": sum(c - 1 for ids in on_stream.values() for c in ids.values() if c > 1),
        "pending": pending,
        "dead letters": dead,
        "reporting IntakeCompleted": facts.get("IntakeCompleted", 0),
        "reporting CaseOpened": facts.get("CaseOpened", 0),
    }


def _uuid(value: Any) -> str:
    text = str(value).replace("-", "")
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def settled(f: dict[str, Any]) -> bool:
    return (f["cases"] == f["stored"] and f["intakes without a case"] == 0 and f["outbox unpublished"] == 0 and f["lost"] == 0
            and f["pending"] == 0 and f["reporting IntakeCompleted"] == f["stored"] and f["reporting CaseOpened"] == f["stored"])


async def health(stack: RunningStack) -> dict[str, dict[str, Any]]:
    result = {}
    for svc in SERVICES:
        async with stack.client(svc, timeout=10) as c:
            result[svc] = (await c.get("/health")).json()
    return result


async def run(args: argparse.Namespace, stack: RunningStack) -> int:
    t0 = time.monotonic()
    b = await burst(stack, args.intakes, args.concurrency, args.kills)
    burst_s = time.monotonic() - t0
    deadline = time.monotonic() + args.settle_timeout
    f = await figures(stack)
    while not settled(f) and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        f = await figures(stack)
    settle_s = time.monotonic() - t0 - burst_s
    h = await health(stack)
    out("Redis persistence", args.redis_persistence)
    out("intakes sent", args.intakes)
    out("answered (201/200)", len(b.answered))
    out("failed after 3 attempts", len(b.failed))
    out("requests sent again (same Idempotency-Key)", b.retries)
    if b.failed:
        out("last failure", b.last_error)
    out("Redis kills (SIGKILL)", len(b.kills))
    out("Redis back after kill, s (each)", ", ".join(f"{s:.1f}" for s in b.kills))
    for label in ("stored", "cases", "intakes without a case", "intakes with more than one case", "outbox events", "outbox unpublished",
                  "lost", "entries on a stream more than once", "pending", "dead letters", "reporting IntakeCompleted", "reporting CaseOpened"):
        out(label, f[label])
    out("duplicated (cases or reporting counts above one per intake)",
        f["intakes with more than one case"] + max(0, f["reporting IntakeCompleted"] - f["stored"]) + max(0, f["reporting CaseOpened"] - f["stored"]))
    out("events Redis lost, relay republished (per service)", ", ".join(f"{s} {h[s].get('outbox_republished', 0)}" for s in SERVICES))
    out("events Redis lost, relay republished (total)", sum(h[s].get("outbox_republished", 0) for s in SERVICES))
    out("Redis restarts seen (per service)", ", ".join(f"{s} {h[s].get('redis_restarts_seen', 0)}" for s in SERVICES))
    out("duplicates absorbed by inboxes (per service)", ", ".join(f"{s} {h[s]['consumed']['duplicates']}" for s in SERVICES))
    out("burst s / settle s", f"{burst_s:.1f} / {settle_s:.1f}")
    ok = settled(f) and f["stored"] >= len(b.answered) > 0 and f["dead letters"] == 0 and set(b.answered) <= _keys(stack)
    out("verdict", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def _keys(stack: RunningStack) -> set[str]:
    return {r[0] for r in rows(stack.data_dir, "intake", "SELECT idempotency_key FROM intakes")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--intakes", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--redis-persistence", choices=["aof", "none"], default="aof")
    p.add_argument("--settle-timeout", type=float, default=240)
    p.add_argument("--keep-data", action="store_true")
    args = p.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="ankommen-redis-kill-"))
    stack = RunningStack(data_dir, env={**FAST_RECLAIM, "ANKOMMEN_REDIS_PERSISTENCE": args.redis_persistence})
    print(f"data directory (fresh): {data_dir}", flush=True)
    try:
        stack.up()
        return asyncio.run(run(args, stack))
    finally:
        stack.down()
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
