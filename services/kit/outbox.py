"""Transactional outbox: a state change and the events it causes are written in one transaction;
the relay publishes them afterwards and marks them sent.

A crash between commit and publish loses nothing (the relay finds the row on restart); after a crash
between publish and mark the restarted relay finds the event on its stream and marks the row without
sending it again (`skip_published`; should it still go out twice, consumers absorb it through their
inbox, idempotent on the event id). While the database cannot be written (disk full, locked) the relay backs off and keeps the
sequence numbers it already published, to mark them when it can, so nothing is sent twice meanwhile.
The trace context of the writing request travels with the row, so the publish span and everything
downstream join the request's trace.

Redis may lose what it acknowledged: a Redis without persistence loses everything when it dies, one
with `appendfsync everysec` up to a second on an OS crash, a failover the replica's lag. The relay keeps
the stream entry id of each recently published row (`verify_window` rows, in memory) and, when
`services.kit.redis_watch` sees a new Redis (its run_id changed), looks them up on their streams and
publishes the missing ones again (consumers absorb any duplicate through their inbox).

Several relays on one PostgreSQL database (replicas of a service) each claim unsent rows with
`SELECT … FOR UPDATE SKIP LOCKED`, so a row is relayed by one of them at a time (events of different
transactions may go out in a different order than their seq; consumers never relied on it, they handle
entries concurrently). A relay killed between publish and mark releases its rows to a live peer, which
must not send them again: before publishing, a relay writes a claim per row to Redis
(`outbox-claim:<name>:<seq>`, dropped after the mark); a row that still has a claim was taken by a relay
that failed or died, so it is looked up on its stream first (as `skip_published` does) and only marked
if it is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa
from opentelemetry import context as otel_context
from opentelemetry import propagate
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts import Event
from services.kit.db import Database, KitTables, utc_now
from services.kit.errors import StorageUnavailable

if TYPE_CHECKING:
    from faststream.redis import RedisBroker
    from redis.asyncio import Redis

log = logging.getLogger(__name__)


def event_headers(event: Event) -> dict[str, str]:
    """Message headers: the envelope's routing facts and the W3C trace context (values are strings)."""
    headers = {
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "schema_version": str(event.schema_version),
        "correlation_id": str(event.correlation_id),
    }
    propagate.inject(headers)
    return headers


async def enqueue(conn: AsyncConnection, tables: KitTables, event: Event) -> None:
    row = dict(
        event_id=event.event_id, stream=event.stream, event_type=event.event_type, payload=event.model_dump_json(),
        headers=json.dumps(event_headers(event)), created_at=utc_now(),
    )
    await conn.execute(tables.outbox.insert(), row)  # values as parameters: the statement's cache key stays the same (db.py)


class Tx:
    """One unit of work: a connection inside a transaction, and the events it emits through the outbox."""

    def __init__(self, conn: AsyncConnection, tables: KitTables) -> None:
        self.conn = conn
        self._tables = tables
        self.emitted: list[Event] = []

    async def emit(self, event: Event) -> None:
        await enqueue(self.conn, self._tables, event)
        self.emitted.append(event)


class Outbox:
    """Opens units of work and relays what they emitted."""

    #: longest pause of the relay while its database cannot be written
    MAX_BACKOFF_S = 30.0

    #: how long a claim outlives a relay that died holding it (longer than any relay batch)
    CLAIM_TTL_S = 3600

    def __init__(
        self, db: Database, tables: KitTables, *, batch: int = 200, poll_s: float = 0.5, verify_window: int = 20_000, name: str = "outbox",
    ) -> None:
        self.db = db
        self.name = name  # the service: its relays' claims in Redis
        self._redis: Redis | None = None
        self._relay_id = uuid.uuid4().hex
        self.tables = tables
        self.batch = batch
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self.published = 0
        self.republished = 0
        #: (seq, stream, entry id) of the last rows published, for `republish_missing`
        self._recent: deque[tuple[int, str, bytes]] = deque(maxlen=verify_window)
        self._relaying = asyncio.Lock()  # a publish and its mark are never split by a republish
        self._unmarked: list[int] = []  # seqs published but not yet marked because the database could not be written

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.db.begin() as conn:
            tx = Tx(conn, self.tables)
            yield tx
        if tx.emitted:
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def relay_forever(self, broker: RedisBroker, redis: Redis | None = None) -> None:
        """Relays until cancelled. With `redis`, it first marks what a relay killed between publish and
        mark had already published (`skip_published`), so a process kill does not send an event twice."""
        if redis is not None:
            self._redis = redis
            try:
                await self.skip_published(redis)
            except Exception:
                log.exception("outbox relay: could not look for events published before a restart; they may be sent twice")
        unavailable = 0  # rounds in a row the database could not be written
        while True:
            try:
                sent = await self.relay_once(broker)
                unavailable = 0
            except asyncio.CancelledError:
                raise
            except StorageUnavailable as exc:  # disk full or locked: back off, keep what was published to mark later
                unavailable += 1
                delay = min(self.MAX_BACKOFF_S, 0.5 * 2**unavailable)
                log.warning("outbox relay: database unavailable (%s); %d published events to mark; retrying in %.1f s", exc.cause, len(self._unmarked), delay)
                await asyncio.sleep(delay)
                continue
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if sent < self.batch:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def relay_once(self, broker: RedisBroker, redis: Redis | None = None) -> int:
        """Publishes the oldest unsent events in order and marks them sent; returns how many."""
        if redis is not None:
            self._redis = redis
        async with self._relaying:
            return await self._relay_batch(broker)

    async def _relay_batch(self, broker: RedisBroker) -> int:
        outbox = self.tables.outbox
        query = (
            sa.select(outbox.c.seq, outbox.c.stream, outbox.c.payload, outbox.c.headers)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(self.batch)
        )
        if self.db.dialect == "postgresql":
            # several replicas may relay the same database: each claims rows the others don't hold
            query = query.add_columns(outbox.c.event_id, outbox.c.created_at)
            async with self.db.begin() as conn:
                rows = (await conn.execute(query.with_for_update(skip_locked=True))).all()
                if not rows:
                    return 0
                redis = self._redis or _redis_of(broker)
                sent = await self._claim(redis, rows)
                await self._publish(broker, [r for r in rows if r.seq not in sent])
                await self._mark(conn, [r.seq for r in rows])
            await self._unclaim(redis, rows)
            return len(rows)
        if self._unmarked:  # published in a round whose mark failed (disk full, locked): marked, not sent again
            async with self.db.begin() as conn:
                await self._mark(conn, self._unmarked)
            self._unmarked = []
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return 0
        await self._publish(broker, rows, self._unmarked)  # a Redis failure mid-batch: the published ones are marked next round
        async with self.db.begin() as conn:
            await self._mark(conn, self._unmarked)
        self._unmarked = []
        return len(rows)

    def _claim_key(self, seq: int) -> str:
        return f"outbox-claim:{self.name}:{seq}"

    async def _claim(self, redis: Redis, rows: list[sa.Row]) -> set[int]:
        """Claims `rows` in Redis before they are published; returns the seqs of rows a relay that failed
        or died had claimed and already published (found on their streams): marked, not sent again."""
        keys = [self._claim_key(r.seq) for r in rows]
        async with redis.pipeline(transaction=False) as pipe:
            pipe.mget(keys)
            for key in keys:
                pipe.set(key, self._relay_id, ex=self.CLAIM_TTL_S)
            claimed, *_ = await pipe.execute()
        taken = [row for row, owner in zip(rows, claimed, strict=True) if owner is not None]
        if not taken:
            return set()
        sent = set(await self._on_streams(redis, taken))
        if sent:
            log.warning("outbox relay: %d events published by a relay that failed before marking them: marked, not sent again", len(sent))
        return sent

    async def _unclaim(self, redis: Redis, rows: list[sa.Row]) -> None:
        with contextlib.suppress(Exception):  # a claim left behind costs one stream lookup, should the row come back
            await redis.delete(*(self._claim_key(r.seq) for r in rows))

    async def _publish(self, broker: RedisBroker, rows: list[sa.Row], done: list[int] | None = None) -> None:
        """Publishes `rows` in order, in one Redis round trip (a pipeline of XADDs; each still goes through
        the broker's middlewares, so it gets its publish span and trace headers); `done` gets the seq of
        each row Redis added, up to the first it refused (then that error is raised)."""
        if not rows:
            return
        async with _redis_of(broker).pipeline(transaction=False) as pipe:
            for row in rows:
                headers = json.loads(row.headers)
                token = otel_context.attach(propagate.extract(headers))
                try:
                    await broker.publish(row.payload.encode(), stream=row.stream, headers=headers, pipeline=pipe)
                finally:
                    otel_context.detach(token)
            entry_ids = await pipe.execute(raise_on_error=False)
        for row, entry_id in zip(rows, entry_ids, strict=True):
            if isinstance(entry_id, Exception):
                raise entry_id
            self._recent.append((row.seq, row.stream, entry_id))
            self.published += 1
            if done is not None:
                done.append(row.seq)

    async def _mark(self, conn: AsyncConnection, seqs: list[int]) -> None:
        if seqs:
            outbox = self.tables.outbox
            await conn.execute(outbox.update().where(outbox.c.seq.in_(seqs)).values(published_at=utc_now()))

    async def republish_missing(self, redis: Redis) -> int:
        """Marks unsent again every recently published row whose stream entry Redis no longer has, so
        the relay publishes it again; returns how many."""
        async with self._relaying:
            by_stream: dict[str, list[tuple[int, bytes]]] = {}
            for seq, stream, entry_id in self._recent:
                by_stream.setdefault(stream, []).append((seq, entry_id))
            missing: set[int] = set()
            for stream, rows in by_stream.items():
                ids = [entry_id for _, entry_id in rows]
                present = await _entries_between(redis, stream, min(ids, key=_entry_key), max(ids, key=_entry_key))
                missing.update(seq for seq, entry_id in rows if entry_id not in present)
            if not missing:
                return 0
            outbox = self.tables.outbox
            ordered = sorted(missing)
            async with self.db.begin() as conn:
                for i in range(0, len(ordered), 500):
                    await conn.execute(outbox.update().where(outbox.c.seq.in_(ordered[i:i + 500])).values(published_at=None))
            self._recent = deque((r for r in self._recent if r[0] not in missing), maxlen=self._recent.maxlen)
            self._unmarked = [seq for seq in self._unmarked if seq not in missing]
            self.republished += len(missing)
        log.warning("Redis lost %d published events; the relay publishes them again", len(missing))
        self._wake.set()
        return len(missing)

    async def skip_published(self, redis: Redis, scan: int = 10_000) -> int:
        """Marks sent, without sending again, the oldest unsent rows (one batch) whose event is already on
        its stream: a relay killed after publishing and before marking left them. Looks at the entries
        added since the row was written (at most `scan` per stream); returns how many were marked."""
        outbox = self.tables.outbox
        async with self.db.read() as conn:
            rows = (await conn.execute(
                sa.select(outbox.c.seq, outbox.c.stream, outbox.c.event_id, outbox.c.created_at)
                .where(outbox.c.published_at.is_(None)).order_by(outbox.c.seq).limit(self.batch)
            )).all()
        found = await self._on_streams(redis, rows, scan)
        if found:
            async with self.db.begin() as conn:
                await self._mark(conn, found)
            log.warning("outbox relay: %d events published before a restart were marked sent, not sent again", len(found))
        return len(found)

    @staticmethod
    async def _on_streams(redis: Redis, rows: list[sa.Row], scan: int = 10_000) -> list[int]:
        """The seqs of `rows` whose event is on its stream, among the entries added since the row was
        written (at most `scan` per stream)."""
        by_stream: dict[str, list[sa.Row]] = {}
        for row in rows:
            by_stream.setdefault(row.stream, []).append(row)
        found: list[int] = []
        for stream, waiting in by_stream.items():
            since = int(min(r.created_at for r in waiting).timestamp() * 1000) - 1000
            on_stream = {_event_id(fields) for _, fields in await redis.xrange(stream, min=str(since), max="+", count=scan)}
            found += [r.seq for r in waiting if str(r.event_id) in on_stream]
        return found

    async def pending(self) -> int:
        outbox = self.tables.outbox
        async with self.db.read() as conn:
            count = (await conn.execute(sa.select(sa.func.count()).where(outbox.c.published_at.is_(None)))).scalar_one()
        return int(count)


def _redis_of(broker: RedisBroker) -> Redis:
    """The connected broker's Redis client (what FastStream's own `_connect` returns)."""
    return broker.config.broker_config.connection.client  # type: ignore[no-any-return]


def _event_id(fields: dict[bytes, bytes]) -> str | None:
    """The event id in a stream entry's headers (FastStream's binary message format), or None."""
    from faststream.redis.parser.binary import BinaryMessageFormatV1

    try:
        _, headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
    except Exception:
        return None
    return str(headers.get("event_id")) if headers.get("event_id") else None


def _entry_key(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


async def _entries_between(redis: Redis, stream: str, first: bytes, last: bytes, page: int = 1000) -> set[bytes]:
    """The ids of `stream`'s entries from `first` to `last` (inclusive), read page by page."""
    found: set[bytes] = set()
    start = first
    while True:
        entries = await redis.xrange(stream, min=start, max=last, count=page)
        found.update(entry_id for entry_id, _ in entries)
        if len(entries) < page:
            return found
        start = b"(" + entries[-1][0]
