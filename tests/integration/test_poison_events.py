"""Poison on a stream that two consumer groups read (real Redis, the kit's consumers): every kind of
garbage is dead-lettered for each group after the last delivery, nothing stays pending, good events
behind it are handled, and a replayed dead letter goes back to its own group only. One group reads in
batches, the other entry by entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from bench.faults.poison_kinds import KINDS, poison_entry
from services.kit import deadletters
from services.kit.broker import Consumers, Delivery, Subscription
from services.kit.outbox import event_headers
from services.kit.settings import PlatformSettings
from tests.integration.backbone import ThingHappened, make_outbox, thing
from tests.support.eventually import eventually

GROUPS = ("poisontest-a", "poisontest-b")
STREAM = ThingHappened.stream


@dataclass
class TwoGroups:
    redis: Redis
    brokers: list[RedisBroker]
    consumers: dict[str, Consumers]
    handled: dict[str, list[str]] = field(default_factory=dict)

    async def publish(self, event: ThingHappened, **headers: str) -> None:
        await self.brokers[0].publish(event.model_dump_json().encode(), stream=STREAM, headers={**event_headers(event), **headers})

    async def pending(self) -> dict[str, int]:
        return {g: int((await self.redis.xpending(STREAM, g))["pending"]) for g in GROUPS}

    async def dead(self) -> list[deadletters.DeadLetter]:
        return await deadletters.list_dead(self.redis, STREAM)


@pytest.fixture
async def groups(redis_url: str, tmp_path) -> AsyncIterator[TwoGroups]:  # type: ignore[no-untyped-def]
    redis = Redis.from_url(redis_url)
    await redis.delete(STREAM, STREAM + deadletters.DLQ_SUFFIX)
    outbox = await make_outbox(f"sqlite+aiosqlite:///{tmp_path / 'poison.db'}")
    h = TwoGroups(redis, [], {})
    for group in GROUPS:
        settings = PlatformSettings(redis_url=redis_url, max_deliveries=5, reclaim_idle_ms=150, reclaim_poll_ms=20, consumer_concurrency=4,
                                    consumer_name="t")
        broker = RedisBroker(redis_url)
        consumers = Consumers(group, settings, outbox, broker)
        handled = h.handled.setdefault(group, [])

        async def apply(event: ThingHappened, delivery: Delivery, handled: list[str] = handled) -> None:
            handled.append(str(event.event_id))

        # the first group reads in batches (as reporting does), the second one entry at a time
        consumers.add(Subscription(ThingHappened, apply, name="apply", batch=16 if group == GROUPS[0] else 0))
        await consumers.ensure_groups(redis)
        await broker.start()
        h.brokers.append(broker)
        h.consumers[group] = consumers
    yield h
    for broker in h.brokers:
        await broker.stop()
    await redis.aclose()
    await outbox.db.dispose()


class TestEveryKindOfPoisonIsDeadLetteredForEachGroup:
    async def test_garbage_and_wrong_envelopes_end_in_the_dead_letters_of_both_groups_and_good_events_pass(self, groups: TwoGroups) -> None:
        sent = {kind: (await poison_entry(kind, ThingHappened)) for kind in KINDS}
        for _, fields in sent.values():
            await groups.redis.xadd(STREAM, fields)
        good = [thing() for _ in range(5)]
        for e in good:
            await groups.publish(e)
        valid_body_wrong_header = thing()
        await groups.publish(valid_body_wrong_header, event_type="SomethingElse")
        valid_body_other_id = thing()
        await groups.publish(valid_body_other_id, event_id="5f1e1bb0-5d5c-4c8e-9f0e-000000000000")

        async def all_dead() -> list[deadletters.DeadLetter]:
            dead = await groups.dead()
            assert len(dead) == 2 * (len(KINDS) + 2)
            assert await groups.pending() == {g: 0 for g in GROUPS}
            return dead

        dead = await eventually(all_dead, timeout=30)
        for group in GROUPS:
            assert sorted(groups.handled[group]) == sorted(str(e.event_id) for e in good)
            assert sorted(d.deliveries for d in dead if d.group == group) == [5] * (len(KINDS) + 2)
        reasons = {d.error for d in dead}
        assert "PoisonEvent: undecodable stream entry (UnicodeDecodeError)" in reasons
        assert "PoisonEvent: event_type header is not ThingHappened" in reasons
        assert "PoisonEvent: event_id header differs from the event's event_id" in reasons
        assert "PoisonEvent: missing event_id or event_type header" in reasons


class TestReplayGoesBackToItsGroupOnly:
    async def test_replayed_garbage_is_dead_lettered_again_once_for_the_group_it_was_replayed_for(self, groups: TwoGroups) -> None:
        _, fields = await poison_entry("raw-fields", ThingHappened)
        await groups.redis.xadd(STREAM, fields)

        async def dead_for_both() -> list[deadletters.DeadLetter]:
            dead = await groups.dead()
            assert sorted(d.group for d in dead) == sorted(GROUPS)
            return dead

        first = await eventually(dead_for_both, timeout=15)
        letter = next(d for d in first if d.group == GROUPS[0])
        await deadletters.replay(groups.redis, letter.dlq_stream, letter.entry_id)

        async def dead_again() -> list[deadletters.DeadLetter]:
            dead = await groups.dead()
            assert len([d for d in dead if d.group == GROUPS[0]]) == 1
            assert [d.entry_id for d in dead if d.group == GROUPS[0]] != [letter.entry_id]
            assert await groups.pending() == {g: 0 for g in GROUPS}
            return dead

        dead = await eventually(dead_again, timeout=15)
        assert len(dead) == 2  # the other group acknowledged the replayed entry without a second dead letter
        assert groups.consumers[GROUPS[1]].dead == 1
