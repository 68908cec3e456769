"""What the fault scripts share: a fresh embedded stack that is always stopped, synthetic intakes (no
real person), the stack's SQLite files and Redis streams read from outside, and kill -9 of one process
with the wait for the supervisor's restart. Loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, TypeVar

import httpx
from redis.asyncio import Redis

from deploy.embedded import RunningStack
from deploy.stack import pid_alive
from services.contracts import Event
from services.contracts.workdays import BERLIN, is_working_day

T = TypeVar("T")


def out(label: str, value: object) -> None:
    print(f"{label:<44} {value}", flush=True)


@contextlib.contextmanager
def fresh_stack(env: dict[str, str], keep: bool = False, prefix: str = "ankommen-fault-") -> Iterator[RunningStack]:
    """`ankommen up --detach` on a new temporary data directory; `ankommen down` at the end, always."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    stack = RunningStack(data_dir, env=env)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        if keep:
            print(f"data directory kept: {data_dir}")
        else:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)


def today() -> date:
    return datetime.now(BERLIN).date()


def person(i: int, nationality: str, move_in: date | None = None) -> dict[str, Any]:
    """A synthetic newcomer (name "Faultprobe <i>"): BG/RO go to an ABRA clearing, SY refugees to casework."""
    status = "eu_free_movement" if nationality in ("BG", "RO") else "recognised_refugee"
    return {
        "given_name": f"Faultprobe{i}", "family_name": "Synthetic", "date_of_birth": "1990-01-01", "sex": "female", "relation": "head",
        "nationality": nationality, "languages": [{"code": "ar"}], "german_level": "A1", "literate": True,
        "schooling_years": 10, "highest_certificate": "secondary", "vocational_qualification": None,
        "work_experience_years": 5, "able_to_work": True, "wants_registration": True, "health_insurance": "statutory",
        "residence_status": status, "move_in_date": (move_in or today()).isoformat(),
        "consents": [{"partner": "social_casework", "purpose": "counselling", "given_on": today().isoformat()}],
    }


def intake(p: dict[str, Any]) -> dict[str, Any]:
    return {"household": {"district": "Westen", "persons": [p]}}


async def publish_slots(stack: RunningStack, days: int = 30, per_day: int = 8, capacity: int = 20) -> None:
    """ABRA coaches publish appointment slots on the working days ahead, so every clearing books at once."""
    slots = []
    for d in range(days):
        day = today() + timedelta(days=d)
        if is_working_day(day):
            slots += [{"starts_at": datetime.combine(day, clock(8 + h), tzinfo=BERLIN).isoformat(), "capacity": capacity} for h in range(per_day)]
    async with stack.client("intake", "abra") as c:
        r = await c.post("/abra/slots", json={"slots": slots})
        r.raise_for_status()


async def post_intakes(stack: RunningStack, payloads: list[dict[str, Any]], concurrency: int = 8, prefix: str = "fault") -> list[dict[str, Any]]:
    """POSTs each intake (Idempotency-Key, retried on a transport error); returns the 201 bodies in order."""
    gate = asyncio.Semaphore(concurrency)
    async with stack.client("intake", "frontdesk", timeout=60) as c:

        async def one(i: int, body: dict[str, Any]) -> dict[str, Any]:
            async with gate:
                for _ in range(5):
                    with contextlib.suppress(httpx.TransportError):
                        r = await c.post("/intakes", json=body, headers={"Idempotency-Key": f"{prefix}-{i}"})
                        r.raise_for_status()
                        return r.json()
                    await asyncio.sleep(1)
                raise RuntimeError(f"intake {i} not accepted")

        return await asyncio.gather(*(one(i, b) for i, b in enumerate(payloads)))


def db_file(stack: RunningStack, db: str) -> Path:
    """A service's SQLite file: in the data directory, or where its <SERVICE>_DATABASE_URL points."""
    url = stack.env.get(f"{db.upper()}_DATABASE_URL", "")
    return Path(url.removeprefix("sqlite+aiosqlite:///")) if url.startswith("sqlite") else stack.data_dir / f"{db}.db"


def rows(stack: RunningStack, db: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{db_file(stack, db)}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql, params).fetchall()


def hex_id(value: Any) -> str:
    """An id as SQLite stores it (32 hex digits) from its string form."""
    return str(value).replace("-", "")


async def stream_events(redis_url: str, cls: type[Event]) -> list[dict[str, Any]]:
    """Every entry of an event's stream as its JSON body (unreadable entries are left out)."""
    from faststream.redis.parser.binary import BinaryMessageFormatV1

    redis = Redis.from_url(redis_url)
    try:
        entries = await redis.xrange(cls.stream)
    finally:
        await redis.aclose()
    found = []
    for _, fields in entries:
        with contextlib.suppress(Exception):
            body, _ = BinaryMessageFormatV1.parse(fields[b"__data__"])
            found.append(json.loads(body))
    return found


def duplicates(values: list[Any]) -> int:
    """How many values occur more than once (each extra occurrence counted)."""
    return sum(n - 1 for n in Counter(values).values() if n > 1)


async def until(check: Callable[[], Awaitable[T]], timeout: float, interval: float = 0.5) -> T | None:
    """Polls `check` until it returns a truthy value or `timeout` passes (then its last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


def kill_and_wait_restart(stack: RunningStack, child: str, ready: Callable[[], bool], timeout: float = 120) -> float:
    """SIGKILL one child of the stack (`temporal`, `casework`, ...) and wait until the supervisor runs a
    new one and `ready()` holds; returns the seconds from the kill to ready (raises if it never is)."""
    state = stack.state
    pid = state[child]["pid"] if child in state else state["services"][child]["pid"]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    while time.monotonic() - killed < timeout:
        state = stack.state
        new = state[child]["pid"] if child in state else state["services"][child]["pid"]
        if new != pid and pid_alive(new) and ready():
            return time.monotonic() - killed
        time.sleep(0.2)
    raise RuntimeError(f"{child} was not restarted within {timeout:.0f} s (see {stack.data_dir / 'logs'})")
