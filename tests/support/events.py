"""Publish contract events into real Redis exactly as a producer's outbox relay does (same stream,
same body, same headers), for tests of consumers whose producers are not driven through HTTP."""

from __future__ import annotations

from collections.abc import Iterable

from faststream.redis import RedisBroker

from services.contracts import Event
from services.kit.outbox import event_headers


async def publish_events(redis_url: str, events: Iterable[Event]) -> int:
    """Publishes each event to its stream (`<producer>.<event>.v<N>`); returns how many."""
    broker = RedisBroker(redis_url)
    await broker.connect()
    count = 0
    try:
        for event in events:
            await broker.publish(event.model_dump_json().encode(), stream=event.stream, headers=event_headers(event))
            count += 1
    finally:
        await broker.stop()
    return count
