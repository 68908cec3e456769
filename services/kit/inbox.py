"""Idempotent inbox: a consumer records the event id in the same transaction as the event's effect,
so a redelivery (reclaimed entry, replayed dead letter, outbox re-publish) changes nothing."""

from __future__ import annotations

import functools
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import Database, KitTables, utc_now


class AlreadyHandled(Exception):
    """The event was handled before (found in the inbox, or recorded concurrently by another delivery)."""


@functools.cache
def _handled(inbox: sa.Table) -> sa.Select:
    return sa.select(inbox.c.event_id).where(inbox.c.consumer == sa.bindparam("b_consumer"), inbox.c.event_id == sa.bindparam("b_event_id"))


async def was_handled(db: Database, tables: KitTables, consumer: str, event_id: uuid.UUID) -> bool:
    async with db.read() as conn:
        found = (await conn.execute(_handled(tables.inbox), {"b_consumer": consumer, "b_event_id": event_id})).first()
    return found is not None


async def record(conn: AsyncConnection, tables: KitTables, consumer: str, event_id: uuid.UUID) -> None:
    """Claims the event for this transaction; raises AlreadyHandled if another delivery got there first.
    Runs first in the transaction, so a duplicate fails before any effect is written."""
    try:
        await conn.execute(tables.inbox.insert(), dict(consumer=consumer, event_id=event_id, processed_at=utc_now()))
    except IntegrityError as exc:
        raise AlreadyHandled(str(event_id)) from exc
