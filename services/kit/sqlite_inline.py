"""SQLite for SQLAlchemy's asyncio engine without a thread per connection: each statement runs at once
on the event loop's thread (SQLAlchemy's `async_creator` with the aiosqlite dialect's adapter).

Why: aiosqlite hands every call (cursor, execute, fetch, close, commit) to the connection's own thread
and back, about four round trips per statement. Measured on this project's 2-core machine with WAL and
`synchronous=NORMAL` (`bench/sqlite_driver.py`, through the kit's Database): 499.5 µs of CPU per
statement through aiosqlite, 138.2 µs inline. The statements of a service are short (indexed
reads and small writes, no network: a local file whose commits do not fsync in WAL mode), so running
them on the loop costs less than the thread hand-off did.

What must not block the loop is waiting for a lock another process holds: the connection has no busy
timeout of its own (`timeout=0`); a statement SQLite refuses with SQLITE_BUSY/LOCKED is tried again after
an asyncio sleep (2 ms doubling to 100 ms) until `busy_timeout_s` has passed, then the error is raised
as before (the kit answers 503, `services.kit.db.storage_cause`). A refused statement did nothing, so
trying it again is safe. `ANKOMMEN_SQLITE_DRIVER=thread` goes back to aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

_SQLITE_CAUSES = {sqlite3.SQLITE_FULL: "disk_full", sqlite3.SQLITE_BUSY: "locked", sqlite3.SQLITE_LOCKED: "locked"}


def sqlite_cause(exc: sqlite3.Error) -> str | None:
    """Why SQLite refused: "locked" (SQLITE_BUSY/LOCKED, "database is locked"), "disk_full" (SQLITE_FULL,
    "database or disk is full"), or None for any other error. Read by the driver's lock waits here and
    by `db.storage_cause`."""
    code = getattr(exc, "sqlite_errorcode", None)
    cause = _SQLITE_CAUSES.get(code & 0xFF) if isinstance(code, int) else None
    text = str(exc).lower()
    return cause or ("disk_full" if "disk is full" in text else "locked" if "is locked" in text else None)


def _busy(exc: sqlite3.OperationalError) -> bool:
    return sqlite_cause(exc) == "locked"


class _Requests:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's isolation_level setter uses directly."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineCursor:
    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await self._connection.run(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> InlineCursor:
        await self._connection.run(self._cursor.executemany, sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size) if size is not None else self._cursor.fetchmany()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """The part of aiosqlite's Connection that SQLAlchemy's aiosqlite adapter uses."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout_s: float) -> None:
        self._conn = conn
        self._tx = _Requests()
        self.busy_timeout_s = busy_timeout_s

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` now; while another process holds the lock, again after a pause (not blocking the loop)."""
        loop = asyncio.get_running_loop()
        deadline, delay = None, 0.002
        while True:
            try:
                return function(*args)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                deadline = deadline or loop.time() + self.busy_timeout_s
                if loop.time() >= deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)

    async def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return await InlineCursor(self, self._conn.cursor()).execute(sql, parameters)

    async def commit(self) -> None:
        await self.run(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    def stop(self) -> None:
        self._conn.close()


def creator(path: str, busy_timeout_s: float) -> Callable[[], Any]:
    """`async_creator` for `create_async_engine("sqlite+aiosqlite:///<path>", ...)`."""

    async def connect() -> InlineConnection:
        return InlineConnection(sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False), busy_timeout_s)

    return connect
