"""Database engine per service: SQLite file by default, PostgreSQL by URL (SQLAlchemy 2 async, Core).

SQLite runs in WAL mode. A SQLite database belongs to one service process, so write transactions
queue on an in-process lock (first come, first served) and start with BEGIN IMMEDIATE; SQLite's own
busy handler would make concurrent writers sleep and retry, which collapses under load. Reads use a
deferred BEGIN and run beside the writer (WAL). PostgreSQL needs neither: it locks rows itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

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
        self.alerts = metadata.tables["alerts"]


def add_kit_tables(metadata: sa.MetaData) -> KitTables:
    """Adds outbox, inbox, audit log and alerts to a service's metadata (each service owns its copies)."""
    _outbox_table(metadata)
    _inbox_table(metadata)
    _audit_table(metadata)
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
        sa.Index("ix_audit_record", "record_type", "record_id"),
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


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 60})
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")  # deleted or overwritten text is zeroed, not left in free pages (GDPR Art. 17)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(_NO_TRANSACTION):
            return
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


_READ_ONLY = "ankommen_read_only"
_NO_TRANSACTION = "ankommen_no_transaction"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._writer = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: commits on success, rolls back on error."""
        if self._writer is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._writer, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction that never waits for the writer (a consistent snapshot)."""
        async with self.engine.connect() as conn:
            await conn.execution_options(**{_READ_ONLY: True})
            try:
                yield conn
            finally:
                await conn.rollback()

    async def truncate_wal(self) -> bool:
        """After an erasure: copies the WAL into the database and truncates it to zero bytes, so the
        erased text's old page images do not stay in the -wal file (secure_delete zeroes the database
        pages only). Best effort: True when the checkpoint completed (a long reader can hold it back;
        the next erasure or SQLite's own checkpoint then does it). Nothing to do on PostgreSQL."""
        if self._writer is None:
            return True
        async with self._writer, self.engine.connect() as conn:
            await conn.execution_options(**{_NO_TRANSACTION: True})
            busy, _, _ = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
            await conn.commit()
            return busy == 0

    async def dispose(self) -> None:
        await self.engine.dispose()


def _dialect_insert(conn: AsyncConnection, table: sa.Table):  # type: ignore[no-untyped-def]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def insert_ignoring_conflicts(conn: AsyncConnection, table: sa.Table, keys: list[str]):  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT (keys) DO NOTHING on SQLite and PostgreSQL, for a multi-row execute."""
    return _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=keys)


async def upsert(
    conn: AsyncConnection, table: sa.Table, values: dict, *, keys: list[str], increment: dict[str, int] | None = None, only_insert: bool = False,
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE on SQLite and PostgreSQL; `increment` adds to columns
    instead of overwriting them (a concurrency-safe counter); `only_insert` keeps an existing row."""
    stmt = _dialect_insert(conn, table).values(**values)
    update = {} if only_insert else {k: v for k, v in values.items() if k not in keys and k not in (increment or {})}
    for column, by in (increment or {}).items():
        update[column] = table.c[column] + by
    await conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update) if update else stmt.on_conflict_do_nothing(index_elements=keys))
