"""CPU per SQL statement through the kit's Database on SQLite: aiosqlite's connection thread vs the inline
driver (services/kit/sqlite_inline.py), with the services' pragmas (WAL, synchronous=NORMAL).

    .venv/bin/python -m bench.sqlite_driver [--transactions 2000]

Each transaction is what a consumer does for one event: BEGIN IMMEDIATE, an inbox insert, an effect
insert, a read by key, COMMIT. Prints CPU µs per statement (process time: every thread) and wall µs.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from services.kit.db import Database

METADATA = sa.MetaData()
INBOX = sa.Table("inbox", METADATA, sa.Column("consumer", sa.String, primary_key=True), sa.Column("event_id", sa.String, primary_key=True))
FACTS = sa.Table("facts", METADATA, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.String), sa.Column("data", sa.String))


async def measure(path: Path, inline: bool, n: int) -> tuple[float, float]:
    db = Database(f"sqlite+aiosqlite:///{path}", sqlite_inline=inline)
    async with db.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        async with db.begin() as conn:
            await conn.execute(INBOX.insert().values(consumer="bench", event_id=str(uuid.uuid4())))
            await conn.execute(FACTS.insert().values(kind="arrival", data="x" * 80))
            (await conn.execute(sa.select(FACTS.c.kind).where(FACTS.c.id == i + 1))).first()
    statements = n * 5  # BEGIN, three statements, COMMIT
    result = ((time.process_time() - cpu) / statements * 1e6, (time.perf_counter() - wall) / statements * 1e6)
    await db.engine.dispose()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ankommen-sqlite-") as tmp:
        for name, inline in (("thread (aiosqlite)", False), ("inline", True)):
            cpu, wall = asyncio.run(measure(Path(tmp) / f"{inline}.db", inline, args.transactions))
            print(f"{name:<20} CPU {cpu:7.1f} µs per statement, wall {wall:7.1f} µs per statement", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
