"""What arrives on a stream, before a handler sees it: FastStream's parsing made total, and the
envelope check that turns anything the outbox relay would never have sent into a poison event.

Every entry of a consumed stream must end in exactly one of: handled, skipped as a duplicate, skipped
as a replay meant for another consumer group, or dead-lettered after the last allowed delivery. An
entry FastStream cannot even parse (e.g. raw fields that are not UTF-8) would otherwise fail before
the kit's processor runs, stay pending, and be reclaimed for ever without ever reaching `<stream>.dlq`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faststream.redis.message import bDATA_KEY
from faststream.redis.parser.binary import BinaryMessageFormatV1

from services.contracts import Event

#: A header the tolerant parser sets on an entry it could not parse; its value names the error type.
UNDECODABLE = "x-ankommen-undecodable"
#: A field `ankommen dlq replay` adds to the replayed entry: only this consumer group handles it,
#: every other group of the stream acknowledges it unseen (it handled or dead-lettered the original).
REPLAY_FOR = b"dlq_replay_for"


class PoisonEvent(ValueError):
    """An entry whose envelope does not belong on its stream (wrong or missing headers, unparsable)."""


async def tolerant_parser(raw: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's parser, except that an entry it cannot parse becomes a message with an empty body
    and the UNDECODABLE header, keeping the original entry (for the dead letter and its replay)."""
    try:
        return await original(raw)
    except Exception as exc:
        stand_in = {**raw, "data": {bDATA_KEY: b""}}
        msg = await original(stand_in)
        msg.raw_message = raw
        msg.headers = {UNDECODABLE: type(exc).__name__}
        return msg


async def tolerant_batch_parser(raw: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """The message FastStream builds for a batch, without letting it parse the entries: the kit reads
    every entry from the raw batch itself, once (`batch_entries`), and an entry FastStream could not
    parse cannot make the whole batch fail here."""
    msg = await original({**raw, "data": []})
    msg.raw_message = raw
    return msg


def batch_entries(raw: Mapping[str, Any]) -> list[tuple[bytes, Mapping[bytes, Any], dict[str, Any], bytes]]:
    """(entry id, fields, headers, body) of every entry of a raw batch; an entry that cannot be read gets
    the UNDECODABLE header (it fails in `parse`, and the reclaimer dead-letters it)."""
    out: list[tuple[bytes, Mapping[bytes, Any], dict[str, Any], bytes]] = []
    for entry_id, fields in zip(raw["message_ids"], raw["data"], strict=True):
        try:
            body, headers = BinaryMessageFormatV1.parse(fields[bDATA_KEY])
        except Exception as exc:  # noqa: BLE001 - any unreadable entry is poison
            body, headers = b"", {UNDECODABLE: type(exc).__name__}
        out.append((entry_id, fields, headers, body))
    return out


async def the_message(msg: Any) -> Any:
    """A decoder that hands the handler the message itself (headers, raw entry, delivery count), so a
    handler needs no `Context` annotation to get it (see `Consumers.add`)."""
    return msg


def replay_for_other_group(fields: Mapping[bytes, Any], group: str) -> bool:
    """True for a replayed dead letter meant for another consumer group than `group`."""
    target = fields.get(REPLAY_FOR)
    if target is None:
        return False
    return (target.decode(errors="replace") if isinstance(target, bytes) else str(target)) != group


def parse(event_type: type[Event], headers: Mapping[str, Any], body: bytes) -> Event:
    """The event of an entry, or PoisonEvent/ValidationError: the body must be the stream's event,
    and the relay's headers must be there and agree with it (event_type of the stream, same event_id)."""
    if UNDECODABLE in headers:
        raise PoisonEvent(f"undecodable stream entry ({headers[UNDECODABLE]})")
    header_type = headers.get("event_type")
    if header_type is None or headers.get("event_id") is None:
        raise PoisonEvent("missing event_id or event_type header")
    if header_type != event_type.__name__:
        raise PoisonEvent(f"event_type header is not {event_type.__name__}")
    event = event_type.model_validate_json(body)
    if str(headers["event_id"]) != str(event.event_id):
        raise PoisonEvent("event_id header differs from the event's event_id")
    return event
