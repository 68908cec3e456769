"""Two processes per service on PostgreSQL (`ankommen up --replicas 2 --postgres`), and one replica of
intake and one of casework killed with SIGKILL while a burst of intakes is in flight: nothing lost,
nothing done twice. Every intake is stored once and answered (a retry with the same Idempotency-Key gets
the stored intake), every casework-route intake opens exactly one case, every ABRA person gets exactly
one clearing appointment, every event is on its stream once, reporting counts each intake once, and
nothing stays pending or dead-lettered."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from deploy import postgres
from services.kit.migrations import SERVICES
from tests.support.eventually import eventually
from tests.support.intake import publish_slots, today
from tests.support.stack import FAST_RECLAIM, RunningStack, cli, intake_payload, person

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(postgres.bindir() is None, reason="no PostgreSQL server binaries (Debian: apt-get install postgresql; .ci/run installs it)"),
]

CASEWORK_ROUTE = 48  # households of one Syrian recognised refugee: one case each
ABRA_ROUTE = 12  # households of one Bulgarian newcomer: one clearing appointment each, no case yet
KILL_AFTER = 15  # answered intakes before the kill


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    # PostgreSQL runs as user postgres when the tests run as root: a directory it can reach
    data_dir = Path(tempfile.mkdtemp(prefix="ankommen-replicas-"))
    data_dir.chmod(0o711)
    s = RunningStack(data_dir, env=dict(FAST_RECLAIM), up_args=("--replicas", "2", "--postgres"))
    try:
        s.up()
        yield s
    finally:
        s.down()
        shutil.rmtree(data_dir, ignore_errors=True)


async def rows(stack: RunningStack, service: str, sql: str) -> list[tuple]:
    engine = create_async_engine(stack.database_url(service))
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(sa.text(sql))).all()]
    finally:
        await engine.dispose()


def payload(i: int) -> dict:
    if i < CASEWORK_ROUTE:
        return intake_payload(person(given=f"R{i}"))
    return intake_payload(person(given=f"A{i}", nationality="BG", move_in_date=today().isoformat()))


async def submit_burst(stack: RunningStack, victims: list[int]) -> dict[str, str]:
    """POSTs every intake (8 in flight), retrying with the same Idempotency-Key after a connection
    error or a 5xx; SIGKILLs the victims once KILL_AFTER were answered. Returns key -> intake id."""
    answered: dict[str, str] = {}
    gate = asyncio.Semaphore(8)
    killed = asyncio.Event()

    async with stack.client("intake", timeout=20) as client:

        async def submit(i: int) -> None:
            key = f"replica-burst-{i}"
            async with gate:
                for _attempt in range(20):
                    try:
                        r = await client.post("/intakes", json=payload(i), headers={"Idempotency-Key": key})
                    except httpx.HTTPError:
                        await asyncio.sleep(0.2)  # the kernel sends the next connection to a live replica
                        continue
                    if r.status_code < 500:
                        break
                    await asyncio.sleep(0.2)
            assert r.status_code in (200, 201), r.text  # 200: stored by an earlier try of this key
            assert key not in answered
            answered[key] = r.json()["intake_id"]
            if len(answered) == KILL_AFTER and not killed.is_set():
                for pid in victims:
                    os.kill(pid, signal.SIGKILL)
                killed.set()

        await asyncio.gather(*(submit(i) for i in range(CASEWORK_ROUTE + ABRA_ROUTE)))
    assert killed.is_set()
    return answered


async def settled(stack: RunningStack) -> None:
    """Every outbox row published, every group read up to its stream's end with nothing pending, no dead letter."""
    for svc in SERVICES:
        assert await rows(stack, svc, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == [(0,)], svc
    redis = Redis.from_url(stack.redis_url)
    try:
        async for stream in redis.scan_iter(_type="stream"):
            assert not stream.endswith(b".dlq"), f"dead letter in {stream!r}"
            last = (await redis.xinfo_stream(stream))["last-generated-id"]
            for group in await redis.xinfo_groups(stream):
                assert group["pending"] == 0, (stream, group["name"])
                assert group["last-delivered-id"] == last, (stream, group["name"], "not yet read")
    finally:
        await redis.aclose()


async def stream_events(stack: RunningStack) -> dict[str, list[dict]]:
    """Every entry of every event stream, decoded: stream -> [event]."""
    from faststream.redis.parser.binary import BinaryMessageFormatV1

    redis = Redis.from_url(stack.redis_url)
    found: dict[str, list[dict]] = {}
    try:
        async for stream in redis.scan_iter(_type="stream"):
            for _entry_id, fields in await redis.xrange(stream):
                body, _headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
                found.setdefault(stream.decode(), []).append(json.loads(body))
    finally:
        await redis.aclose()
    return found


class TestKillingOneReplicaDuringABurst:
    async def test_nothing_lost_nothing_twice(self, stack: RunningStack) -> None:
        for svc in SERVICES:
            assert len(stack.replica_pids(svc)) == 2, stack.state["services"][svc]
        await publish_slots(stack, days=10, per_day=4, capacity=10)
        victims = [stack.replica_pids("intake")[1], stack.replica_pids("casework")[1]]

        answered = await submit_burst(stack, victims)
        assert len(answered) == CASEWORK_ROUTE + ABRA_ROUTE
        assert len(set(answered.values())) == len(answered)

        async def restarted() -> None:  # the supervisor started the killed replicas again
            alive = {pid for svc in ("intake", "casework") for pid in stack.replica_pids(svc)}
            assert len(alive) == 4 and not alive & set(victims)

        await eventually(restarted, timeout=60, interval=0.5)

        async def all_cases() -> None:
            cases = await rows(stack, "casework", "SELECT intake_id FROM cases WHERE intake_id IS NOT NULL")
            assert len(cases) == CASEWORK_ROUTE
            await settled(stack)

        await eventually(all_cases, timeout=90, interval=1.0)

        # every answered intake stored once, under its key
        stored = dict(await rows(stack, "intake", "SELECT idempotency_key, CAST(id AS text) FROM intakes"))
        assert stored == answered
        # one case per casework-route intake, none for another
        cases = Counter(str(r[0]) for r in await rows(stack, "casework", "SELECT intake_id FROM cases WHERE intake_id IS NOT NULL"))
        casework_keys = {f"replica-burst-{i}" for i in range(CASEWORK_ROUTE)}
        assert cases == Counter({answered[k]: 1 for k in casework_keys})
        # every event on its stream once; one IntakeCompleted per intake, one appointment per ABRA person
        events = await stream_events(stack)
        for stream, entries in events.items():
            repeated = [e for e, n in Counter(e["event_id"] for e in entries).items() if n > 1]
            assert not repeated, f"{stream}: {len(repeated)} events published twice"
        completed = Counter(e["intake_id"] for e in events["intake.intake-completed.v1"])
        assert completed == Counter({i: 1 for i in answered.values()})
        opened = Counter(e["intake_id"] for e in events["casework.case-opened.v1"])
        assert opened == Counter({answered[k]: 1 for k in casework_keys})
        booked = Counter(e["correlation_id"] for e in events.get("intake.clearing-appointment-booked.v1", []))
        assert booked == Counter({answered[f"replica-burst-{i}"]: 1 for i in range(CASEWORK_ROUTE, CASEWORK_ROUTE + ABRA_ROUTE)})
        # reporting counted each intake and each case once
        counts = dict(await rows(stack, "reporting", "SELECT kind, count(*) FROM facts WHERE kind IN ('IntakeCompleted', 'CaseOpened') GROUP BY kind"))
        assert counts == {"IntakeCompleted": len(answered), "CaseOpened": CASEWORK_ROUTE}
        # the audit chains of both replicas' writes are whole
        verified = cli(stack.data_dir, "audit", "verify", check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        print(f"\nintakes {len(answered)}, cases {sum(cases.values())}, appointments {sum(booked.values())}, "
              f"events {sum(len(v) for v in events.values())} on {len(events)} streams")
