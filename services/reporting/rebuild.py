"""Rebuild the projections from scratch by replaying the event streams from id 0
(`ankommen reporting rebuild`). Entries of all streams are merged in Redis id order (the time they
were appended); a duplicate publication of an event (outbox re-publish) is applied once. Runs in one
transaction: readers see the old figures until the new ones are complete."""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from services.kit.db import Database, utc_now
from services.reporting import projection, store, store_projections
from services.reporting.consumers import projected_events

log = logging.getLogger(__name__)


#: Events per multi-row insert during a rebuild.
BATCH = 1000


@dataclass
class RebuildResult:
    events: int
    duplicates: int
    unreadable: int
    streams: dict[str, str]  # stream -> last entry id replayed


def _key(entry_id: bytes) -> tuple[int, int]:
    ms, seq = entry_id.decode().split("-")
    return int(ms), int(seq)


async def _entries(redis: Redis, stream: str, batch: int = 2000):  # type: ignore[no-untyped-def]
    start = "-"
    while True:
        chunk = await redis.xrange(stream, min=start, max="+", count=batch)
        if not chunk:
            return
        for entry_id, fields in chunk:
            yield entry_id, fields
        last = chunk[-1][0].decode()
        ms, seq = last.split("-")
        start = f"{ms}-{int(seq) + 1}"
        if len(chunk) < batch:
            return


async def rebuild(db: Database, redis: Redis, tz: str) -> RebuildResult:
    classes = {cls.stream: cls for cls in projected_events()}
    iters = {s: _entries(redis, s) for s in classes}
    heads: list[tuple[tuple[int, int], str, bytes, dict]] = []

    async def advance(stream: str) -> None:
        try:
            entry_id, fields = await iters[stream].__anext__()
        except StopAsyncIteration:
            return
        heapq.heappush(heads, (_key(entry_id), stream, entry_id, fields))

    for s in classes:
        await advance(s)
    seen: set = set()
    result = RebuildResult(0, 0, 0, {})
    batch: list = []

    async def flush(conn) -> None:  # type: ignore[no-untyped-def]
        if batch:
            await store_projections.record_handled(conn, store.kit.inbox, [(projection.PROJECTION_CONSUMER, e.event_id) for e in batch], utc_now())
            await projection.project_batch(conn, batch, tz)
            batch.clear()

    async with db.begin() as conn:
        await projection.reset_projections(conn)
        while heads:
            _, stream, entry_id, fields = heapq.heappop(heads)
            await advance(stream)
            result.streams[stream] = entry_id.decode()
            try:
                event = classes[stream].model_validate_json(_body(fields))
            except Exception:
                result.unreadable += 1  # a poison entry: the live consumer dead-lettered it too
                continue
            if event.event_id in seen:
                result.duplicates += 1
                continue
            seen.add(event.event_id)
            batch.append(event)
            result.events += 1
            if len(batch) >= BATCH:
                await flush(conn)
        await flush(conn)
    log.info("projections rebuilt from %d events (%d duplicates, %d unreadable)", result.events, result.duplicates, result.unreadable)
    return result


def _body(fields: dict) -> bytes:
    """The event JSON of a stream entry in the kit's wire format (FastStream's message envelope)."""
    from faststream.redis.parser.binary import BinaryMessageFormatV1

    raw = fields.get(b"__data__")
    if raw is None:
        raise ValueError("no payload")
    body, _headers = BinaryMessageFormatV1.parse(raw)
    return body
