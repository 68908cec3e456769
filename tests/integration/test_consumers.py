"""Consuming events from real Redis Streams: idempotent inbox, reclaiming entries of a dead consumer,
dead letters after the last delivery, replay; each with entries read one by one and in batches."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from faststream.redis import RedisBroker
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

from services.kit import deadletters
from services.kit.broker import Consumers, Delivery, Subscription, ensure_group
from services.kit.outbox import Outbox
from services.kit.settings import PlatformSettings
from tests.integration.backbone import ThingHappened, count_effects, effects, make_outbox, thing
from tests.support.eventually import eventually

SERVICE = "backbonetest-consumer"


@dataclass
class Harness:
    outbox: Outbox
    redis: Redis
    broker: RedisBroker
    consumers: Consumers
    attempts: Counter = field(default_factory=Counter)
    heal_poison: bool = False

    async def publish(self, event: ThingHappened) -> None:
        await self.broker.publish(event.model_dump_json().encode(), stream=ThingHappened.stream,
                                  headers={"event_id": str(event.event_id), "event_type": event.event_type})

    async def pending(self) -> int:
        return int((await self.redis.xpending(ThingHappened.stream, SERVICE))["pending"])


@pytest.fixture(params=[0, 16], ids=["one-by-one", "batch"])
async def harness(request, redis_url: str, tmp_path) -> AsyncIterator[Harness]:  # type: ignore[no-untyped-def]
    redis = Redis.from_url(redis_url)
    await redis.delete(ThingHappened.stream, ThingHappened.stream + ".dlq")
    outbox = await make_outbox(f"sqlite+aiosqlite:///{tmp_path / 'consumer.db'}")
    settings = PlatformSettings(redis_url=redis_url, max_deliveries=5, reclaim_idle_ms=150, reclaim_poll_ms=20, consumer_concurrency=4, consumer_name="t")
    broker = RedisBroker(redis_url)
    consumers = Consumers(SERVICE, settings, outbox, broker)
    h = Harness(outbox, redis, broker, consumers)

    async def apply(event: ThingHappened, delivery: Delivery) -> None:
        h.attempts[event.thing_id] += 1
        if event.poison and not h.heal_poison:
            raise ValueError("this handler always fails for poison")
        async with delivery.transaction() as tx:
            await tx.conn.execute(effects.insert().values(thing_id=event.thing_id))

    consumers.add(Subscription(ThingHappened, apply, name="apply", batch=request.param))
    h.start = lambda: _start(h)  # type: ignore[attr-defined]
    yield h
    await broker.stop()
    await redis.aclose()
    await outbox.db.dispose()


async def _start(h: Harness) -> None:
    await h.consumers.ensure_groups(h.redis)
    await h.broker.start()


class TestConsumerGroups:
    async def test_events_published_before_the_first_subscriber_started_are_consumed(self, harness: Harness) -> None:
        early = [thing() for _ in range(3)]
        await harness.broker.connect()
        for e in early:
            await harness.publish(e)
        await harness.start()  # type: ignore[attr-defined]

        async def all_applied() -> None:
            assert await count_effects(harness.outbox) == 3

        await eventually(all_applied)


class TestBatchReads:
    @pytest.mark.parametrize("harness", [16], indirect=True)
    async def test_a_burst_is_read_at_once_and_each_event_keeps_its_own_span_in_its_producers_trace(self, harness: Harness) -> None:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        harness.consumers.tracer_provider = provider
        producer = provider.get_tracer("producer")
        burst = [thing() for _ in range(10)]
        parents = {}
        await harness.broker.connect()
        for e in burst:
            with producer.start_as_current_span("publish") as span:
                headers = {"event_id": str(e.event_id), "event_type": e.event_type}
                propagate.inject(headers)
                parents[str(e.event_id)] = span.get_span_context()
            await harness.broker.publish(e.model_dump_json().encode(), stream=ThingHappened.stream, headers=headers)
        await harness.start()  # type: ignore[attr-defined]

        async def handled() -> None:
            assert await count_effects(harness.outbox) == 10
            assert await harness.pending() == 0

        await eventually(handled)
        assert (harness.consumers.batches, harness.consumers.batched, harness.consumers.handled) == (1, 10, 10)
        spans = [s for s in exporter.get_finished_spans() if s.name == f"{ThingHappened.stream} process"]
        assert sorted(str(s.attributes["ankommen.event_id"]) for s in spans) == sorted(parents)
        for s in spans:
            parent = parents[str(s.attributes["ankommen.event_id"])]
            assert s.parent is not None and (s.parent.trace_id, s.parent.span_id) == (parent.trace_id, parent.span_id)
        provider.shutdown()


class TestIdempotentInbox:
    async def test_a_redelivered_event_changes_nothing(self, harness: Harness) -> None:
        await harness.start()  # type: ignore[attr-defined]
        event = thing()
        for _ in range(3):  # e.g. the outbox relay re-published after a crash before marking it sent
            await harness.publish(event)

        async def settled() -> None:
            assert harness.consumers.handled + harness.consumers.duplicates == 3
            assert await harness.pending() == 0

        await eventually(settled)
        assert await count_effects(harness.outbox, event.thing_id) == 1


class TestReclaimer:
    async def test_entries_left_pending_by_a_dead_consumer_are_taken_over(self, harness: Harness) -> None:
        await harness.broker.connect()
        await ensure_group(harness.redis, ThingHappened.stream, SERVICE)
        orphaned = [thing() for _ in range(4)]
        for e in orphaned:
            await harness.publish(e)
        # a consumer reads them and dies without acknowledging
        await harness.redis.xreadgroup(SERVICE, "dead-consumer", {ThingHappened.stream: ">"}, count=10)
        assert await harness.pending() == 4

        await harness.start()  # type: ignore[attr-defined]

        async def recovered() -> None:
            assert await count_effects(harness.outbox) == 4
            assert await harness.pending() == 0

        await eventually(recovered)


class TestDeadLetters:
    async def test_poison_event_is_dead_lettered_after_five_deliveries_without_blocking_the_rest(self, harness: Harness) -> None:
        await harness.start()  # type: ignore[attr-defined]
        poison = thing(poison=True)
        behind = [thing() for _ in range(20)]
        await harness.publish(poison)
        for e in behind:
            await harness.publish(e)

        async def rest_applied() -> None:
            assert await count_effects(harness.outbox) == 20

        await eventually(rest_applied, timeout=5)

        async def poison_dead() -> list[deadletters.DeadLetter]:
            dead = await deadletters.list_dead(harness.redis, ThingHappened.stream)
            assert len(dead) == 1
            assert await harness.pending() == 0
            return dead

        (dead,) = await eventually(poison_dead, timeout=15)
        assert dead.event_id == str(poison.event_id)
        assert dead.deliveries == 5
        assert dead.group == SERVICE
        assert "ValueError" in dead.error
        assert harness.attempts[poison.thing_id] == 5
        assert await count_effects(harness.outbox, poison.thing_id) == 0

    async def test_replayed_dead_letter_is_processed_once_the_cause_is_fixed(self, harness: Harness) -> None:
        await harness.start()  # type: ignore[attr-defined]
        poison = thing(poison=True)
        await harness.publish(poison)

        async def dead() -> deadletters.DeadLetter:
            found = await deadletters.list_dead(harness.redis, ThingHappened.stream)
            assert len(found) == 1
            return found[0]

        letter = await eventually(dead, timeout=15)
        harness.heal_poison = True
        await deadletters.replay(harness.redis, letter.dlq_stream, letter.entry_id)

        async def applied() -> None:
            assert await count_effects(harness.outbox, poison.thing_id) == 1

        await eventually(applied)
        assert await deadletters.list_dead(harness.redis, ThingHappened.stream) == []

    async def test_malformed_payload_is_dead_lettered_with_a_reason_that_does_not_echo_it(self, harness: Harness) -> None:
        await harness.start()  # type: ignore[attr-defined]
        event_id = str(uuid.uuid4())
        await harness.broker.publish(b'{"thing_id": "not-a-uuid", "secret": "Petrova"}', stream=ThingHappened.stream,
                                    headers={"event_id": event_id, "event_type": "ThingHappened"})

        async def dead() -> deadletters.DeadLetter:
            found = await deadletters.list_dead(harness.redis, ThingHappened.stream)
            assert len(found) == 1
            return found[0]

        letter = await eventually(dead, timeout=15)
        assert letter.event_id == event_id
        assert letter.error.startswith("ValidationError")
        assert "Petrova" not in letter.error
