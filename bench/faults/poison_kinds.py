"""The poison entries of `bench.faults.poison` (and of its short mode in the tests): for a stream
carrying `event`, entries that the outbox relay would never write. Each must end up dead-lettered for
every consumer group of the stream after the last allowed delivery, never handled, never pending for ever."""

from __future__ import annotations

import uuid
from typing import Any

from faststream.redis.parser.binary import BinaryMessageFormatV1

from services.contracts import Event

#: The kinds, in the order they are reported.
KINDS = ("not-json", "json-wrong-shape", "wrong-schema", "wrong-event-type-header", "missing-headers", "raw-fields")


async def _framed(body: bytes, headers: dict[str, str]) -> dict[bytes, bytes]:
    """An entry as FastStream's publisher frames it (binary message format with headers)."""
    data = await BinaryMessageFormatV1.encode(message=body, reply_to=None, headers=headers, correlation_id=str(uuid.uuid4()))
    return {b"__data__": data}


async def poison_entry(kind: str, event: type[Event]) -> tuple[str, dict[Any, Any]]:
    """(event id, stream entry fields) of one poison entry of `kind` for `event`'s stream."""
    event_id = str(uuid.uuid4())
    headers = {"event_id": event_id, "event_type": event.__name__, "schema_version": str(event.version)}
    wrong_schema = f'{{"event_id": "{event_id}", "event_type": "{event.__name__}", "schema_version": {event.version}, "tenant": "hamm", "unknown": 1}}'
    if kind == "not-json":
        return event_id, await _framed(b"\x00\xffthis is not JSON{", headers)
    if kind == "json-wrong-shape":
        return event_id, await _framed(b"[1, 2, 3]", headers)
    if kind == "wrong-schema":
        return event_id, await _framed(wrong_schema.encode(), headers)
    if kind == "wrong-event-type-header":
        return event_id, await _framed(wrong_schema.encode(), {**headers, "event_type": "NotThisStreamsEvent"})
    if kind == "missing-headers":
        return event_id, {b"__data__": wrong_schema.encode()}
    if kind == "raw-fields":
        return event_id, {b"\xff\xfe": b"\x00\x01garbage", b"event_id": event_id.encode()}
    raise ValueError(f"unknown poison kind {kind}")
