"""F8: a database that cannot be written (another process holds its lock, the disk is full) is a passing
state, not a fault of the event or the request: consumers leave the event pending and apply it once when
the database is back (never dead-lettered for it), the outbox relay keeps what it published and marks it
later (nothing sent twice, nothing lost), and a full disk is told apart from other errors. Real SQLite
files, a real second process holding `BEGIN EXCLUSIVE`, real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from deploy.embedded import exclusive_lock
from services.kit import deadletters
from services.kit.broker import Consumers, Delivery, Subscription
from services.kit.db import Database
from services.kit.errors import StorageUnavailable
from services.kit.outbox import Outbox, enqueue
from services.kit.settings import PlatformSettings
from tests.integration.backbone import ThingHappened, count_effects, effects, kit, metadata, thing
from tests.support.eventually import eventually

SERVICE = "storagetest-consumer"


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}", busy_timeout_s=0.2)
    async with db.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield Outbox(db, kit, batch=50, poll_s=0.05)
    await db.dispose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    r = Redis.from_url(redis_url)
    await r.delete(ThingHappened.stream, ThingHappened.stream + ".dlq")
    yield r
    await r.aclose()


def db_file(outbox: Outbox) -> Path:
    return Path(outbox.db.url.removeprefix("sqlite+aiosqlite:///"))


class TestConsumerWhileTheDatabaseIsLocked:
    async def test_events_stay_pending_past_the_last_delivery_and_apply_once_when_the_lock_goes(
        self, outbox: Outbox, redis: Redis, redis_url: str
    ) -> None:
        settings = PlatformSettings(redis_url=redis_url, max_deliveries=5, reclaim_idle_ms=100, reclaim_poll_ms=20, consumer_name="t")
        broker = RedisBroker(redis_url)
        consumers = Consumers(SERVICE, settings, outbox, broker)

        async def apply(event: ThingHappened, delivery: Delivery) -> None:
            async with delivery.transaction() as tx:
                await tx.conn.execute(effects.insert().values(thing_id=event.thing_id))

        consumers.add(Subscription(ThingHappened, apply, name="apply"))
        await consumers.ensure_groups(redis)
        events = [thing() for _ in range(5)]
        try:
            with exclusive_lock(db_file(outbox)):
                await broker.start()
                for e in events:
                    await broker.publish(e.model_dump_json().encode(), stream=ThingHappened.stream,
                                         headers={"event_id": str(e.event_id), "event_type": e.event_type})

                async def delivered_past_the_limit() -> None:
                    entries = await redis.xpending_range(ThingHappened.stream, SERVICE, min="-", max="+", count=10)
                    assert len(entries) == len(events)
                    assert min(x["times_delivered"] for x in entries) > settings.max_deliveries

                await eventually(delivered_past_the_limit, timeout=20)
                assert await deadletters.list_dead(redis, ThingHappened.stream) == []

            async def applied() -> None:
                assert await count_effects(outbox) == len(events)
                assert (await redis.xpending(ThingHappened.stream, SERVICE))["pending"] == 0

            await eventually(applied, timeout=10)
            assert await deadletters.list_dead(redis, ThingHappened.stream) == []
            for e in events:
                assert await count_effects(outbox, e.thing_id) == 1
        finally:
            await broker.stop()


class TestRelayWhileTheDatabaseIsLocked:
    async def test_what_was_published_is_not_sent_again_and_is_marked_when_the_lock_goes(self, outbox: Outbox, redis: Redis, redis_url: str) -> None:
        events = [thing() for _ in range(3)]
        async with outbox.transaction() as tx:
            for e in events:
                await enqueue(tx.conn, outbox.tables, e)
        broker = RedisBroker(redis_url)
        await broker.connect()
        try:
            with exclusive_lock(db_file(outbox)):
                with pytest.raises(StorageUnavailable) as refused:  # published, then the mark cannot be written
                    await outbox.relay_once(broker)
                assert refused.value.cause == "locked"
                for _ in range(3):  # the relay's next rounds, still locked: nothing published again
                    with pytest.raises(StorageUnavailable):
                        await outbox.relay_once(broker)
                assert await redis.xlen(ThingHappened.stream) == len(events)
            assert await outbox.relay_once(broker) == 0  # marks what it had published, sends nothing new
            assert await outbox.pending() == 0
            assert await redis.xlen(ThingHappened.stream) == len(events)
        finally:
            await broker.stop()


class TestFullDisk:
    async def test_a_write_that_finds_the_database_full_is_storage_unavailable_and_writes_nothing(self, outbox: Outbox) -> None:
        """SQLite's own "database or disk is full" (SQLITE_FULL), reached with max_page_count; the stack's
        fault script (bench/faults/disk_full.py) fills a real filesystem."""
        limit = {"pages": 0}

        @sa.event.listens_for(outbox.db.engine.sync_engine, "begin")
        def _cap(conn: sa.Connection) -> None:
            if limit["pages"]:
                conn.exec_driver_sql(f"PRAGMA max_page_count={limit['pages']}")

        async with outbox.db.read() as conn:
            limit["pages"] = int((await conn.execute(sa.text("PRAGMA page_count"))).scalar_one())
        event = thing()
        with pytest.raises(StorageUnavailable) as refused:
            async with outbox.transaction() as tx:
                await tx.emit(event)
                await tx.conn.execute(effects.insert(), [{"thing_id": uuid.uuid4()} for _ in range(2000)])
        assert refused.value.cause == "disk_full"
        assert refused.value.headers == {"Retry-After": "5"}
        assert "Datenträger ist voll" in refused.value.message and "disk is full" in refused.value.message
        assert await outbox.pending() == 0 and await count_effects(outbox) == 0

        limit["pages"] = 1_000_000  # space returns: the same write succeeds, nothing to reset
        async with outbox.transaction() as tx:
            await tx.emit(event)
            await tx.conn.execute(effects.insert(), [{"thing_id": uuid.uuid4()} for _ in range(2000)])
        assert await outbox.pending() == 1 and await count_effects(outbox) == 2000
