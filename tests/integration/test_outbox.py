"""Transactional outbox against a real database (SQLite and PostgreSQL) and real Redis."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from faststream.redis import RedisBroker
from faststream.redis.parser.binary import BinaryMessageFormatV1
from redis.asyncio import Redis

from tests.integration.backbone import ThingHappened, effects, make_outbox, thing


async def stream_events(redis: Redis, stream: str) -> list[dict]:
    import json

    entries = await redis.xrange(stream)
    return [json.loads(BinaryMessageFormatV1.parse(fields[b"__data__"])[0]) for _, fields in entries]


@pytest.fixture
async def broker(redis_url: str):  # type: ignore[no-untyped-def]
    b = RedisBroker(redis_url)
    await b.connect()
    yield b
    await b.stop()


@pytest.fixture
async def redis(redis_url: str):  # type: ignore[no-untyped-def]
    r = Redis.from_url(redis_url)
    await r.delete(ThingHappened.stream)
    yield r
    await r.aclose()


class TestOutbox:
    async def test_event_committed_before_a_crash_is_published_by_the_next_relay(self, database_url: str, broker: RedisBroker, redis: Redis) -> None:
        writer = await make_outbox(database_url)
        event = thing()
        async with writer.transaction() as tx:
            await tx.conn.execute(effects.insert().values(thing_id=event.thing_id))
            await tx.emit(event)
        await writer.db.dispose()  # the process dies before its relay ran

        restarted = await make_outbox(database_url)
        assert await restarted.pending() == 1
        assert await restarted.relay_once(broker) == 1
        assert await restarted.pending() == 0
        published = await stream_events(redis, ThingHappened.stream)
        assert [e["event_id"] for e in published] == [str(event.event_id)]
        assert await restarted.relay_once(broker) == 0
        await restarted.db.dispose()

    async def test_rolled_back_state_change_publishes_nothing(self, database_url: str, broker: RedisBroker, redis: Redis) -> None:
        outbox = await make_outbox(database_url)
        with pytest.raises(RuntimeError):
            async with outbox.transaction() as tx:
                await tx.conn.execute(effects.insert().values(thing_id=uuid.uuid4()))
                await tx.emit(thing())
                raise RuntimeError("validation failed after the write")
        assert await outbox.pending() == 0
        assert await outbox.relay_once(broker) == 0
        assert await redis.xlen(ThingHappened.stream) == 0
        async with outbox.db.begin() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(effects))).scalar_one() == 0
        await outbox.db.dispose()

    async def test_relay_publishes_in_commit_order(self, database_url: str, broker: RedisBroker, redis: Redis) -> None:
        outbox = await make_outbox(database_url)
        events = [thing() for _ in range(120)]
        for e in events:
            async with outbox.transaction() as tx:
                await tx.emit(e)
        while await outbox.relay_once(broker):
            pass
        published = await stream_events(redis, ThingHappened.stream)
        assert [p["event_id"] for p in published] == [str(e.event_id) for e in events]
        await outbox.db.dispose()

    async def test_trace_context_of_the_writer_travels_with_the_event(self, database_url: str, broker: RedisBroker, redis: Redis) -> None:
        from opentelemetry.sdk.trace import TracerProvider

        outbox = await make_outbox(database_url)
        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("request") as span:
            async with outbox.transaction() as tx:
                await tx.emit(thing())
            trace_id = format(span.get_span_context().trace_id, "032x")
        await outbox.relay_once(broker)
        (_, fields), = await redis.xrange(ThingHappened.stream)
        _, headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
        assert trace_id in headers["traceparent"]
        await outbox.db.dispose()




class TestKilledBetweenPublishAndMark:
    """T1 found it: casework SIGKILLed while its relay had published a CaseEscalated and not yet marked
    it; the restarted relay sent the same event again (501 entries for 500 escalations)."""

    async def test_the_restarted_relay_marks_what_was_published_and_sends_it_once(self, database_url: str, broker: RedisBroker, redis: Redis) -> None:
        import asyncio

        from tests.support.eventually import eventually

        dying = await make_outbox(database_url)
        events = [thing() for _ in range(3)]
        async with dying.transaction() as tx:
            for e in events:
                await tx.emit(e)
        async with dying.db.read() as conn:
            rows = (await conn.execute(sa.select(dying.tables.outbox).order_by(dying.tables.outbox.c.seq))).all()
        await dying._publish(broker, rows[:2])  # published two, killed before the mark
        await dying.db.dispose()

        restarted = await make_outbox(database_url)
        relay = asyncio.create_task(restarted.relay_forever(broker, redis))
        try:
            async def all_sent() -> None:
                assert await restarted.pending() == 0

            await eventually(all_sent)
        finally:
            relay.cancel()
            await asyncio.gather(relay, return_exceptions=True)
            await restarted.db.dispose()
        published = [e["event_id"] for e in await stream_events(redis, ThingHappened.stream)]
        assert published == [str(e.event_id) for e in events]


class TestTwoRelaysOnOnePostgresDatabase:
    """Replicas of a service (`ankommen up --replicas 2 --postgres`) relay one outbox side by side."""

    @pytest.fixture
    def pg_url(self, database_url: str) -> str:
        if not database_url.startswith("postgresql"):
            pytest.skip("several relays share a database on PostgreSQL only (SQLite: one process per service)")
        return database_url

    async def test_rows_a_failed_relay_published_are_not_sent_again_by_its_peer(self, pg_url: str, broker: RedisBroker, redis: Redis) -> None:
        dying, peer = await make_outbox(pg_url), await make_outbox(pg_url)
        events = [thing() for _ in range(3)]
        async with dying.transaction() as tx:
            for e in events:
                await tx.emit(e)
        publish = dying._publish

        async def dies_after_two(broker: RedisBroker, rows: list, done: list | None = None) -> None:
            await publish(broker, rows[:2], done)
            raise ConnectionError("relay killed")

        dying._publish = dies_after_two  # type: ignore[method-assign]
        with pytest.raises(ConnectionError):  # published two, died before the mark: its lock is gone, its rows unsent
            await dying.relay_once(broker, redis)
        assert await peer.pending() == 3

        assert await peer.relay_once(broker, redis) == 3
        assert await peer.pending() == 0
        published = [e["event_id"] for e in await stream_events(redis, ThingHappened.stream)]
        assert published == [str(e.event_id) for e in events]
        assert not [k async for k in redis.scan_iter(match="outbox-claim:*")]
        for o in (dying, peer):
            await o.db.dispose()

    async def test_two_relays_send_every_event_once(self, pg_url: str, broker: RedisBroker, redis: Redis) -> None:
        import asyncio

        from tests.support.eventually import eventually

        writer = await make_outbox(pg_url)
        relays = [await make_outbox(pg_url) for _ in range(2)]
        for r in relays:
            r.batch = 7  # many small batches: the relays interleave
        tasks = [asyncio.create_task(r.relay_forever(broker, redis)) for r in relays]
        events = [thing() for _ in range(200)]
        try:
            for i in range(0, len(events), 4):
                async with writer.transaction() as tx:
                    for e in events[i:i + 4]:
                        await tx.emit(e)

            async def all_sent() -> None:
                assert await writer.pending() == 0

            await eventually(all_sent, timeout=30)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        published = [e["event_id"] for e in await stream_events(redis, ThingHappened.stream)]
        assert sorted(published) == sorted(str(e.event_id) for e in events)
        assert all(r.published > 0 for r in relays), [r.published for r in relays]
        for o in (writer, *relays):
            await o.db.dispose()
