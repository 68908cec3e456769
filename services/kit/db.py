"""Database engine per service: SQLite file by default, PostgreSQL by URL (SQLAlchemy 2 async, Core).

SQLite runs in WAL mode. A SQLite database belongs to one service process, so write transactions
queue on an in-process lock (first come, first served) and start with BEGIN IMMEDIATE; SQLite's own
busy handler would make concurrent writers sleep and retry, which collapses under load. Reads use a
deferred BEGIN and run beside the writer (WAL). PostgreSQL needs neither: it locks rows itself.

A database that cannot be written (disk full, locked by another process longer than the busy timeout,
server unreachable) raises `StorageUnavailable` from `begin()`/`read()` (the transaction rolled back:
nothing half-written); writers that queued behind a transaction which waited out the busy timeout in
vain fail at once instead of each waiting again. The next transaction after the cause is gone
succeeds: nothing to reset.

Statements on hot paths are built once. SQLAlchemy caches a statement's compiled SQL under a cache key
that it computes by walking the statement's tree, and it memoizes that key on the statement object. A
statement built anew for every call (`sa.select(t).where(t.c.id == x)`, `t.insert().values(**row)`)
walks its tree again each time: 70-120 µs of CPU per execution on these machines, two thirds of a
simple statement's cost. So a store keeps such statements as module constants with bind parameters
(named `b_...`: a name of a column is reserved for the values of an INSERT or UPDATE), or, for a table
it is given, builds them once per table (`functools.cache`); an INSERT gets its row as parameters
(`conn.execute(t.insert(), row)`), not as `.values(...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from services.kit.errors import StorageUnavailable
from services.kit.sqlite_inline import creator as sqlite_inline_creator
from services.kit.sqlite_inline import sqlite_cause

Uuid = sa.Uuid(as_uuid=True)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; ankommen stores aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class KitTables:
    """The tables every service database has: outbox, inbox, audit log and staff alerts."""

    def __init__(self, metadata: sa.MetaData) -> None:
        self.outbox = metadata.tables["outbox"]
        self.inbox = metadata.tables["inbox"]
        self.audit = metadata.tables["audit_log"]
        self.audit_chain = metadata.tables["audit_chain"]
        self.alerts = metadata.tables["alerts"]


def add_kit_tables(metadata: sa.MetaData) -> KitTables:
    """Adds outbox, inbox, audit log and alerts to a service's metadata (each service owns its copies)."""
    _outbox_table(metadata)
    _inbox_table(metadata)
    _audit_table(metadata)
    _audit_chain_table(metadata)
    _alerts_table(metadata)
    return KitTables(metadata)


def _outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", Uuid, nullable=False, unique=True),
        sa.Column("stream", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=True),
        sa.Index("ix_outbox_unpublished", "published_at", "seq"),
    )


def _inbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_id", Uuid, primary_key=True),
        sa.Column("processed_at", UTCDateTime, nullable=False),
    )


def _audit_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "audit_log",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("record_type", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(100), nullable=True),
        sa.Column("outcome", sa.String(50), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("seq", sa.Integer, nullable=True),  # position in the hash chain (services/kit/audit.py)
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=True),
        sa.Index("ix_audit_record", "record_type", "record_id"),
        sa.Index("ix_audit_seq", "seq", unique=True),
        sa.Index("ix_audit_actor_at", "actor", "at"),
        sa.Index("ix_audit_at", "at"),
    )


def _audit_chain_table(metadata: sa.MetaData) -> sa.Table:
    """The audit chain's head: one row (id 1) with the last record's seq and hash; `legacy_until`:
    the highest audit_log id written before the chain existed (chained at start-up, nothing later)."""
    return sa.Table(
        "audit_chain",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("legacy_until", sa.Integer, nullable=False),
    )


def _alerts_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "alerts",
        metadata,
        sa.Column("id", Uuid, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("subject_type", sa.String(100), nullable=False),
        sa.Column("subject_id", sa.String(100), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=True),
        sa.Column("raised_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime, nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Index("ix_alerts_open", "resolved_at", "role"),
        sa.Index("ix_alerts_subject", "subject_type", "subject_id"),
    )


def create_engine(url: str, *, pool_size: int = 10, busy_timeout_s: float = 5.0, sqlite_inline: bool = True) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if sqlite_inline and path and path != ":memory:":  # statements on the loop's thread (services/kit/sqlite_inline.py)
            engine = create_async_engine(url, async_creator=sqlite_inline_creator(path, busy_timeout_s))
            _configure_sqlite(engine, 0.0)  # lock waits are asyncio sleeps in the driver, not SQLite's blocking busy handler
        else:
            engine = create_async_engine(url, connect_args={"timeout": busy_timeout_s})
            _configure_sqlite(engine, busy_timeout_s)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine, busy_timeout_s: float) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")  # deleted or overwritten text is zeroed, not left in free pages (GDPR Art. 17)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(_NO_TRANSACTION):
            return
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


_READ_ONLY = "ankommen_read_only"
#: key in a write connection's `info`: writes to repeat in a new transaction if this one rolls back
KEEP_ON_ROLLBACK = "ankommen_keep_on_rollback"
_NO_TRANSACTION = "ankommen_no_transaction"

_ASYNCPG_CAUSES = {
    "DiskFullError": "disk_full", "LockNotAvailableError": "locked", "CannotConnectNowError": "unreachable",
    "ConnectionDoesNotExistError": "unreachable", "ConnectionFailureError": "unreachable", "TooManyConnectionsError": "unreachable",
}


def storage_cause(exc: BaseException, *, connecting: bool = False) -> str | None:
    """Why a database error means "cannot write now" (a key of errors.STORAGE_CAUSES), or None for any
    other error. Looks through SQLAlchemy's wrapper and the exception's causes: SQLite's SQLITE_FULL
    ("database or disk is full"), SQLITE_BUSY/LOCKED ("database is locked"), asyncpg's DiskFullError,
    lock timeout and lost or refused connections. A bare OSError counts only while connecting or under a
    driver error (one raised by the transaction's own code is not the database's)."""
    seen: set[int] = set()
    stack: list[tuple[BaseException | None, bool]] = [(exc, connecting)]
    while stack:
        e, from_driver = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, sqlite3.Error):
            return sqlite_cause(e)
        if type(e).__name__ in _ASYNCPG_CAUSES and type(e).__module__.startswith("asyncpg"):
            return _ASYNCPG_CAUSES[type(e).__name__]
        if from_driver and isinstance(e, OSError):
            return "disk_full" if e.errno == 28 else "unreachable"  # 28: ENOSPC
        under = from_driver or isinstance(e, sa.exc.DBAPIError)
        stack.extend((c, under) for c in (getattr(e, "orig", None), e.__cause__, e.__context__))
    return None


class Database:
    def __init__(self, url: str, *, busy_timeout_s: float = 5.0, retry_after_s: int = 5, sqlite_inline: bool = True) -> None:
        self.url = url
        self.engine = create_engine(url, busy_timeout_s=busy_timeout_s, sqlite_inline=sqlite_inline)
        self._writer = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        self.retry_after_s = retry_after_s
        self._failed: tuple[float, str] | None = None  # (monotonic time, cause) of the last unwritable transaction

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _unavailable(self, exc: BaseException, connecting: bool) -> StorageUnavailable | None:
        cause = storage_cause(exc, connecting=connecting)
        if cause is None:
            return None
        self._failed = (time.monotonic(), cause)
        return StorageUnavailable(cause, retry_after_s=self.retry_after_s)

    def _fail_fast(self, arrived: float) -> None:
        """A writer that queued behind a transaction which then found the database locked fails at once."""
        if self._failed and self._failed[1] == "locked" and self._failed[0] > arrived:
            raise StorageUnavailable("locked", retry_after_s=self.retry_after_s)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: commits on success, rolls back on error; StorageUnavailable when the
        database cannot be written now."""
        connecting, arrived = True, time.monotonic()
        try:
            async with self._writer or contextlib.nullcontext():
                self._fail_fast(arrived)
                kept: list[Callable[[AsyncConnection], Awaitable[None]]] = []
                try:
                    async with self.engine.begin() as conn:
                        connecting = False
                        try:
                            yield conn
                        finally:
                            kept = conn.info.pop(KEEP_ON_ROLLBACK, [])
                except Exception:
                    await self._write_kept(kept)
                    raise
        except Exception as exc:
            unavailable = self._unavailable(exc, connecting)
            if unavailable is None:
                raise
            raise unavailable from exc

    async def _write_kept(self, kept: list[Callable[[AsyncConnection], Awaitable[None]]]) -> None:
        """What a rolled-back transaction registered under KEEP_ON_ROLLBACK (the audit records of a
        refusal: "not found", "forbidden"), written in a transaction of its own; best effort."""
        if not kept:
            return
        try:
            async with self.engine.begin() as conn:
                for write in kept:
                    await write(conn)
                conn.info.pop(KEEP_ON_ROLLBACK, None)
        except Exception:  # the original error is what the caller needs to see
            logging.getLogger(__name__).warning("audit records of a rolled-back transaction could not be written", exc_info=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction that never waits for the writer (a consistent snapshot)."""
        connecting = True
        try:
            async with self.engine.connect() as conn:
                await conn.execution_options(**{_READ_ONLY: True})
                connecting = False
                try:
                    yield conn
                finally:
                    await conn.rollback()
        except Exception as exc:
            unavailable = self._unavailable(exc, connecting)
            if unavailable is None:
                raise
            raise unavailable from exc

    async def truncate_wal(self, attempts: int = 5) -> bool:
        """After an erasure: copies the WAL into the database and truncates it to zero bytes, so the
        erased text's old page images do not stay in the -wal file, nor older images in the database
        file (secure_delete zeroes freed space of the current pages only). A reader on an older snapshot
        holds the checkpoint back: tried `attempts` times, 0.2 s apart. Best effort: True when it
        completed (else SQLite's next checkpoint does it). Nothing to do on PostgreSQL."""
        if self._writer is None:
            return True
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(0.2)
            try:
                async with self._writer, self.engine.connect() as conn:
                    await conn.execution_options(**{_NO_TRANSACTION: True})
                    busy, _, _ = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
                    await conn.commit()
            except (sa.exc.OperationalError, sqlite3.Error):
                continue  # the erasure itself is committed; the WAL goes at a later checkpoint
            if busy == 0:
                return True
        return False

    async def dispose(self) -> None:
        await self.engine.dispose()
