"""The kit's INSERT ... ON CONFLICT helpers (services/kit/db.py) on SQLite and PostgreSQL: what they
write, that typed values (UUID, UTC datetime, JSON) come back as written, and that each statement shape
is compiled once and then served from SQLAlchemy's cache (the dialect constructs had no cache key)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine.default import CACHE_HIT, CACHE_MISS

from services.kit.db import Database, UTCDateTime, Uuid
from services.kit.on_conflict import insert_ignoring_conflicts, upsert

METADATA = sa.MetaData()
ITEMS = sa.Table(
    "items", METADATA,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("label", sa.String(40), nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
    sa.Column("data", sa.JSON, nullable=True),
    sa.Column("count", sa.Integer, nullable=False),
)
PAIRS = sa.Table("pairs", METADATA, sa.Column("token", sa.String(20), primary_key=True), sa.Column("owner", Uuid, primary_key=True))
AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> Any:
    database = Database(database_url)
    async with database.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    yield database
    await database.dispose()


async def rows(db: Database, table: sa.Table) -> list[sa.Row]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(table).order_by(*table.primary_key.columns))).all())


async def test_upsert_inserts_updates_increments_and_keeps(db: Database) -> None:
    key = uuid.uuid4()
    async with db.begin() as conn:
        await upsert(conn, ITEMS, {"id": key, "label": "first", "seen_at": AT, "data": {"a": [1, 2]}, "count": 1}, keys=["id"], increment={"count": 1})
    assert [tuple(r) for r in await rows(db, ITEMS)] == [(key, "first", AT, {"a": [1, 2]}, 1)]

    async with db.begin() as conn:  # the conflict: label and the rest overwritten, count incremented
        await upsert(conn, ITEMS, {"id": key, "label": "second", "seen_at": AT + timedelta(days=1), "data": None, "count": 5},
                     keys=["id"], increment={"count": 5})
    assert [tuple(r) for r in await rows(db, ITEMS)] == [(key, "second", AT + timedelta(days=1), None, 6)]

    async with db.begin() as conn:  # only_insert: an existing row stays as it is
        await upsert(conn, ITEMS, {"id": key, "label": "third", "seen_at": AT, "data": {}, "count": 0}, keys=["id"], only_insert=True)
    assert [r.label for r in await rows(db, ITEMS)] == ["second"]


async def test_insert_ignoring_conflicts_keeps_existing_rows(db: Database) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    async with db.begin() as conn:
        await insert_ignoring_conflicts(conn, PAIRS, ["token", "owner"], [{"token": "x", "owner": a}, {"token": "y", "owner": a}])
        await insert_ignoring_conflicts(conn, PAIRS, ["token", "owner"], [{"token": "x", "owner": a}, {"token": "x", "owner": b}])
        await insert_ignoring_conflicts(conn, PAIRS, ["token", "owner"], [])
    assert sorted((r.token, r.owner) for r in await rows(db, PAIRS)) == sorted([("x", a), ("y", a), ("x", b)])


async def test_each_statement_shape_is_compiled_once(db: Database) -> None:
    stats: list[object] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            stats.append(context.cache_hit)

    event.listen(db.engine.sync_engine, "after_cursor_execute", note)
    try:
        for n in range(3):
            async with db.begin() as conn:
                await upsert(conn, ITEMS, {"id": uuid.uuid4(), "label": f"l{n}", "seen_at": AT, "data": None, "count": n}, keys=["id"], increment={"count": n})
                await insert_ignoring_conflicts(conn, PAIRS, ["token", "owner"], [{"token": f"t{n}", "owner": uuid.uuid4()}])
    finally:
        event.remove(db.engine.sync_engine, "after_cursor_execute", note)
    assert stats == [CACHE_MISS, CACHE_MISS] + [CACHE_HIT] * 4
