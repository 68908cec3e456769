"""Event consumption over Redis Streams with FastStream.

Each subscription gets one consumer group per service (created at id 0, so events published before
the first subscriber started are not skipped), a primary subscriber reading new entries with bounded
concurrency, and a reclaimer (XAUTOCLAIM) that takes over entries left pending by a dead or stuck
consumer. A handler failure leaves the entry pending; on its last allowed delivery (default 5) the entry
moves to `<stream>.dlq`, so a poison event never blocks the events behind it. A subscription with
`batch` set reads up to that many entries at once and handles them together (one read, one middleware
pass and one XACK for the lot, each event still in its own span): for a consumer that handles a burst in
one group commit (reporting). The entries handled are acknowledged; one that failed stays pending and the
reclaimer hands it over on its own, so the delivery count and the dead-lettering are those of the
single-entry path. A failure because the
service's database cannot be written (StorageUnavailable: disk full, locked) never dead-letters: the
entry stays pending and is reclaimed every `reclaim_idle_ms` until the database is back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from faststream.redis import RedisBroker, StreamSub
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, TracerProvider
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from services.contracts import Event
from services.kit import deadletters, inbox, telemetry, wire
from services.kit.errors import StorageUnavailable
from services.kit.outbox import Outbox, Tx
from services.kit.settings import PlatformSettings

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    """What a handler gets with its event: the delivery count, the inbox check and a unit of work
    that records the event id together with the handler's effects."""

    event: Event
    deliveries: int
    consumer: str
    outbox: Outbox

    async def already_handled(self) -> bool:
        return await inbox.was_handled(self.outbox.db, self.outbox.tables, self.consumer, self.event.event_id)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.outbox.transaction() as tx:
            await inbox.record(tx.conn, self.outbox.tables, self.consumer, self.event.event_id)
            yield tx


Handler = Callable[[Any, Delivery], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """A service consumes `event` with `handler`. `name` identifies the handler in the inbox."""

    event: type[Event]
    handler: Handler
    name: str = ""
    concurrency: int | None = None
    batch: int = 0  # >0: the primary reader takes up to this many entries per read and handles them together

    @property
    def stream(self) -> str:
        return self.event.stream


def make_broker(settings: PlatformSettings, provider: TracerProvider | None) -> RedisBroker:
    middlewares = [_telemetry(provider)] if provider is not None else []
    return RedisBroker(settings.redis_url, middlewares=middlewares, logger=logging.getLogger("faststream"))


def _telemetry(provider: TracerProvider) -> Any:
    from faststream import BaseMiddleware
    from faststream.redis.opentelemetry import RedisTelemetryMiddleware

    class SpansPerEvent(RedisTelemetryMiddleware):
        """FastStream's spans, except around a batch read: that span would start a trace of its own,
        mentioning the first event's correlation id (noise in `ankommen trace`); the kit gives each event
        of a batch its own span in its producer's trace instead (`Consumers._handle_traced`)."""

        def __call__(self, msg: Any, /, *, context: Any) -> Any:
            if isinstance(msg, dict) and msg.get("type") == "bstream":
                return BaseMiddleware(msg, context=context)
            return super().__call__(msg, context=context)

    return SpansPerEvent(tracer_provider=provider)


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


@dataclass
class Consumers:
    """Registers a service's subscriptions on a broker and keeps counters for health and tests."""

    service: str
    settings: PlatformSettings
    outbox: Outbox
    broker: RedisBroker
    handled: int = 0
    duplicates: int = 0
    failures: int = 0
    dead: int = 0
    revived: int = 0
    batches: int = 0  # batch reads handled (and the entries in them): how well reads are batched
    batched: int = 0
    tracer_provider: TracerProvider | None = None  # None: the process's (telemetry.setup); tests pass their own
    _subscriptions: list[Subscription] = field(default_factory=list)
    _subscribers: list[Any] = field(default_factory=list)

    def add(self, sub: Subscription) -> None:
        self._subscriptions.append(sub)
        process = self._processor(sub)
        base = f"{self.service}-{self.settings.consumer_name}"

        # The handlers take the message as their decoded body (`wire.the_message`), not through a
        # `RedisStreamMessage` (Context) annotation: FastStream resolves a Context field through a sync
        # call that fast_depends runs in a worker thread, a thread hand-off per message that cost more
        # than the rest of the delivery (bench/consumer_path.py measures both).
        async def reclaimer(msg: Any) -> None:
            await process(msg, first=False)

        reader = self._primary(sub, process, base)
        reclaim = self.broker.subscriber(
            stream=StreamSub(
                sub.stream,
                group=self.service,
                consumer=f"{base}-reclaimer",
                min_idle_time=self.settings.reclaim_idle_ms,
                polling_interval=self.settings.reclaim_poll_ms,
            ),
            parser=wire.tolerant_parser,
            decoder=wire.the_message,
            title=f"{self.service}:{sub.stream}:reclaim",
            include_in_schema=False,
        )
        reclaim(reclaimer)
        self._subscribers += [reader, reclaim]

    def _primary(self, sub: Subscription, process: Callable[..., Awaitable[None]], consumer: str) -> Any:
        """The reader of new entries: `sub.batch` entries per read handled together, or one entry at a
        time with up to `concurrency` in flight."""
        title = f"{self.service}:{sub.stream}"
        if sub.batch:
            stream = StreamSub(sub.stream, group=self.service, consumer=consumer, polling_interval=1000, batch=True, max_records=sub.batch)
            reader = self.broker.subscriber(stream=stream, parser=wire.tolerant_batch_parser, decoder=wire.the_message, title=title)

            async def primary_batch(msg: Any) -> None:
                await self._process_batch(msg, sub)

            reader(primary_batch)
            return reader
        workers = sub.concurrency or self.settings.consumer_concurrency
        stream = StreamSub(sub.stream, group=self.service, consumer=consumer, polling_interval=1000, max_records=workers)
        reader = self.broker.subscriber(stream=stream, max_workers=workers, parser=wire.tolerant_parser, decoder=wire.the_message, title=title)

        async def primary(msg: Any) -> None:
            await process(msg, first=True)

        reader(primary)
        return reader

    async def ensure_groups(self, redis: Redis) -> None:
        for sub in self._subscriptions:
            await ensure_group(redis, sub.stream, self.service)

    async def revive(self, redis: Redis) -> int:
        """Restarts subscribers FastStream stopped because their group vanished (NOGROUP: a Redis
        without persistence restarted, or the stream was deleted), with the groups made again at id 0."""
        stopped = [s for s in self._subscribers if not s.running]
        if not stopped:
            return 0
        await self.ensure_groups(redis)
        for subscriber in stopped:
            await subscriber.start()
        self.revived += len(stopped)
        log.warning("%s: %d subscribers restarted after their consumer group vanished", self.service, len(stopped))
        return len(stopped)

    @property
    def streams(self) -> list[str]:
        return [s.stream for s in self._subscriptions]

    @cached_property
    def _tracer(self) -> trace.Tracer:
        return trace.get_tracer(__name__, tracer_provider=self.tracer_provider)

    def _consumer(self, sub: Subscription) -> str:
        return f"{self.service}:{sub.name or sub.handler.__name__}"

    async def _handle(self, sub: Subscription, headers: Any, body: bytes, deliveries: int) -> None:
        """One entry to its handler: returns once handled or found a duplicate, raises otherwise."""
        event = wire.parse(sub.event, headers, body)
        delivery = Delivery(event=event, deliveries=deliveries, consumer=self._consumer(sub), outbox=self.outbox)
        try:
            await sub.handler(event, delivery)
        except inbox.AlreadyHandled:
            self.duplicates += 1
            return
        self.handled += 1

    def _processor(self, sub: Subscription) -> Callable[..., Awaitable[None]]:
        consumer = self._consumer(sub)

        async def process(msg: Any, *, first: bool) -> None:
            if wire.replay_for_other_group(msg.raw_message["data"], self.service):
                return  # a dead letter replayed for another group: this group already handled or dead-lettered it
            # XREADGROUP ">" hands out entries never delivered before: the first delivery, no XPENDING round
            # trip needed; only the reclaimer (XAUTOCLAIM) sees redeliveries and asks Redis how many
            deliveries = 1 if first else await msg.get_delivery_count()
            headers = msg.headers or {}
            event_id = _uuid_text(headers.get("event_id"))
            telemetry.mark(event_id=event_id or "unknown", deliveries=deliveries)
            try:
                await self._handle(sub, headers, msg.body, deliveries)
            except Exception as exc:
                self.failures += 1
                if deliveries < self.settings.max_deliveries or isinstance(exc, StorageUnavailable):
                    # a database that cannot be written now (disk full, locked) is no fault of the event: it
                    # stays pending and is reclaimed until the database is back, never dead-lettered for it
                    log.warning(
                        "handler %s failed on delivery %d of %s (event %s): %s",
                        consumer, deliveries, sub.stream, event_id, type(exc).__name__,
                    )
                    raise
                await self._dead_letter(msg, sub, event_id, deliveries, exc)

        return process

    async def _process_batch(self, msg: Any, sub: Subscription) -> None:
        """A batch read: every entry handled at once, each in its own span under its producer's trace.
        The entries handled are acknowledged; one that failed stays pending for the reclaimer, which hands
        it over again on its own (delivery count, dead letter), so no handler sees an event twice."""
        entries = [e for e in wire.batch_entries(msg.raw_message) if not wire.replay_for_other_group(e[1], self.service)]
        self.batches += 1
        self.batched += len(entries)
        results = await asyncio.gather(*(self._handle_traced(sub, headers, body) for _, _, headers, body in entries), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if not failed:
            return  # FastStream acknowledges the whole batch
        self.failures += len(failed)
        log.warning(
            "handler %s failed on %d of %d entries of a batch of %s (%s): the reclaimer hands them over one by one",
            self._consumer(sub), len(failed), len(entries), sub.stream, type(failed[0]).__name__,
        )
        failed_ids = {e[0] for e, r in zip(entries, results, strict=True) if isinstance(r, BaseException)}
        done = [entry_id for entry_id in msg.raw_message["message_ids"] if entry_id not in failed_ids]
        if done:
            await msg.consumer.xack(sub.stream, self.service, *done)
        raise failed[0]  # FastStream acknowledges nothing more: the failed entries stay pending

    async def _handle_traced(self, sub: Subscription, headers: dict[str, Any], body: bytes) -> None:
        with self._tracer.start_as_current_span(f"{sub.stream} process", context=propagate.extract(headers), kind=SpanKind.CONSUMER):
            telemetry.mark(event_id=_uuid_text(headers.get("event_id")) or "unknown", deliveries=1)
            await self._handle(sub, headers, body, 1)

    async def _dead_letter(self, msg: Any, sub: Subscription, event_id: str, deliveries: int, exc: Exception) -> None:
        self.dead += 1
        log.error("event %s on %s dead-lettered for %s after %d deliveries", event_id, sub.stream, self.service, deliveries)
        await deadletters.dead_letter(
            msg.consumer,
            stream=sub.stream,
            group=self.service,
            entry_id=msg.raw_message["message_ids"][0],
            fields=msg.raw_message["data"],
            event_id=event_id or str(uuid.UUID(int=0)),
            event_type=sub.event.__name__,
            deliveries=deliveries,
            error=deadletters.describe_error(exc),
        )


def _uuid_text(value: Any) -> str:
    """The event_id header if it is a UUID, else "" (a poison entry's header is not echoed to logs or the DLQ list)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return ""
