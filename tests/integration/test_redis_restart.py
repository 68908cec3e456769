"""A Redis without persistence killed (SIGKILL) and started again, empty, on the same port under a
running relay and consumer: the relay notices the new Redis, publishes again what it lost, the consumer
group is made again at id 0, and every event is handled exactly once (real Redis, real database)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from faststream.redis import RedisBroker
from faststream.redis.parser.binary import BinaryMessageFormatV1
from redis.asyncio import Redis
from redis.exceptions import ConnectionError

from deploy.embedded import RedisProcess
from services.kit.broker import Consumers, Delivery, Subscription
from services.kit.outbox import Outbox
from services.kit.redis_watch import RedisWatch
from services.kit.settings import PlatformSettings
from tests.integration.backbone import ThingHappened, count_effects, effects, make_outbox, thing
from tests.support.eventually import eventually

GROUP = "restarttest"


@dataclass
class Running:
    server: RedisProcess
    outbox: Outbox
    consumers: Consumers
    redis: Redis

    async def emit(self, n: int) -> list[ThingHappened]:
        events = [thing() for _ in range(n)]
        async with self.outbox.transaction() as tx:
            for e in events:
                await tx.emit(e)
        return events

    async def stream_event_ids(self) -> list[str]:
        with contextlib.suppress(ConnectionError):  # the first command after the restart may meet the old connection
            await self.redis.ping()
        return [BinaryMessageFormatV1.parse(f[b"__data__"])[1]["event_id"] for _, f in await self.redis.xrange(ThingHappened.stream)]


@pytest.fixture
async def running(tmp_path) -> AsyncIterator[Running]:  # type: ignore[no-untyped-def]
    server = RedisProcess(persistence=False)
    server.start()
    outbox = await make_outbox(f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}")
    settings = PlatformSettings(redis_url=server.url, reclaim_idle_ms=300, reclaim_poll_ms=50, consumer_concurrency=4, consumer_name="t")
    broker = RedisBroker(server.url)
    consumers = Consumers(GROUP, settings, outbox, broker)

    async def apply(event: ThingHappened, delivery: Delivery) -> None:
        if await delivery.already_handled():
            consumers.duplicates += 1
            return
        async with delivery.transaction() as tx:
            await tx.conn.execute(effects.insert().values(thing_id=event.thing_id))

    consumers.add(Subscription(ThingHappened, apply, name="apply"))
    redis = Redis.from_url(server.url)
    await consumers.ensure_groups(redis)
    await broker.start()
    tasks = [asyncio.create_task(outbox.relay_forever(broker)), asyncio.create_task(RedisWatch(redis, outbox, consumers, 0.2).run_forever())]
    try:
        yield Running(server, outbox, consumers, redis)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await broker.stop()
        await redis.aclose()
        await outbox.db.dispose()
        server.stop()


class TestRedisWithoutPersistenceRestarted:
    async def test_the_relay_publishes_the_lost_events_again_and_each_is_handled_once(self, running: Running) -> None:
        before = await running.emit(20)

        async def handled_before() -> None:
            assert await count_effects(running.outbox) == 20
            assert await running.outbox.pending() == 0

        await eventually(handled_before, timeout=15)

        running.server.kill()
        running.server.start()  # empty: streams, entries and the consumer group are gone
        after = await running.emit(5)

        async def all_there() -> None:
            assert sorted(await running.stream_event_ids()) == sorted(str(e.event_id) for e in before + after)
            assert await count_effects(running.outbox) == 25
            assert (await running.redis.xpending(ThingHappened.stream, GROUP))["pending"] == 0

        await eventually(all_there, timeout=30, interval=0.2)
        assert running.outbox.republished == 20
        for e in before + after:
            assert await count_effects(running.outbox, e.thing_id) == 1
