"""Dead letters: an event whose handler failed on its last allowed delivery moves to `<stream>.dlq`
with why and how often it failed; operators list and replay them (`ankommen dlq list|replay`).

The dead-letter entry keeps the original message bytes, so a replay puts back exactly what was sent,
marked for the consumer group that dead-lettered it (`dlq_replay_for`): the stream's other groups
acknowledge the replayed entry unseen, so replaying garbage does not give every group a new dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis

from services.kit.wire import REPLAY_FOR

DLQ_SUFFIX = ".dlq"
DATA_KEY = b"__data__"


def describe_error(exc: BaseException) -> str:
    """A reason fit for an operator's screen: type and message, never the input values
    (a validation error would otherwise echo the payload)."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False, include_url=False)]
        return f"ValidationError: {'; '.join(parts)}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


async def dead_letter(
    redis: Redis,
    *,
    stream: str,
    group: str,
    entry_id: bytes | str,
    fields: dict[bytes, bytes],
    event_id: str,
    event_type: str,
    deliveries: int,
    error: str,
) -> None:
    """Moves one pending entry to the dead-letter stream and acknowledges it, atomically."""
    dead: dict[Any, Any] = dict(fields)
    dead.update(
        {
            b"dlq_original_stream": stream,
            b"dlq_original_id": entry_id,
            b"dlq_group": group,
            b"dlq_event_id": event_id,
            b"dlq_event_type": event_type,
            b"dlq_deliveries": str(deliveries),
            b"dlq_error": error,
            b"dlq_dead_at": datetime.now(UTC).isoformat(),
        }
    )
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(stream + DLQ_SUFFIX, dead)
        pipe.xack(stream, group, entry_id)
        await pipe.execute()


@dataclass(frozen=True)
class DeadLetter:
    dlq_stream: str
    entry_id: str
    original_stream: str
    original_id: str
    group: str
    event_id: str
    event_type: str
    deliveries: int
    error: str
    dead_at: str


def _text(value: bytes | None) -> str:
    return value.decode() if value else ""


async def list_dead(redis: Redis, stream: str | None = None) -> list[DeadLetter]:
    streams = [stream + DLQ_SUFFIX] if stream else sorted([k.decode() async for k in redis.scan_iter(match="*" + DLQ_SUFFIX, _type="stream")])
    result: list[DeadLetter] = []
    for dlq in streams:
        for entry_id, f in await redis.xrange(dlq):
            result.append(
                DeadLetter(
                    dlq_stream=dlq,
                    entry_id=entry_id.decode(),
                    original_stream=_text(f.get(b"dlq_original_stream")),
                    original_id=_text(f.get(b"dlq_original_id")),
                    group=_text(f.get(b"dlq_group")),
                    event_id=_text(f.get(b"dlq_event_id")),
                    event_type=_text(f.get(b"dlq_event_type")),
                    deliveries=int(_text(f.get(b"dlq_deliveries")) or 0),
                    error=_text(f.get(b"dlq_error")),
                    dead_at=_text(f.get(b"dlq_dead_at")),
                )
            )
    return result


async def replay(redis: Redis, dlq_stream: str, entry_id: str) -> str:
    """Puts a dead letter back on its original stream (a new entry, same bytes, for the group that
    dead-lettered it) and removes it from the dead-letter stream; returns the new entry id."""
    entries = await redis.xrange(dlq_stream, min=entry_id, max=entry_id)
    if not entries:
        raise KeyError(f"no dead letter {entry_id} in {dlq_stream}")
    _, fields = entries[0]
    original = fields[b"dlq_original_stream"].decode()
    message = {k: v for k, v in fields.items() if not k.startswith(b"dlq_")}
    message[REPLAY_FOR] = fields[b"dlq_group"]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(original, message)
        pipe.xdel(dlq_stream, entry_id)
        new_id, _ = await pipe.execute()
    return new_id.decode() if isinstance(new_id, bytes) else str(new_id)
