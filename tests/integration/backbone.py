"""A tiny service used to test the event backbone itself: one table, one event, real Redis, real DB."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from services.contracts import Event
from services.kit.db import Database, Uuid, add_kit_tables
from services.kit.outbox import Outbox

metadata = sa.MetaData()
kit = add_kit_tables(metadata)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("thing_id", Uuid, nullable=False),
)


class ThingHappened(Event):
    """Test-only event."""

    producer = "backbonetest"

    thing_id: uuid.UUID
    poison: bool = False


async def make_outbox(url: str) -> Outbox:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return Outbox(db, kit, batch=50, poll_s=0.05)


async def count_effects(outbox: Outbox, thing_id: uuid.UUID | None = None) -> int:
    where = [effects.c.thing_id == thing_id] if thing_id else []
    async with outbox.db.begin() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(effects).where(*where))).scalar_one())


def thing(**kw: object) -> ThingHappened:
    return ThingHappened(tenant="test", correlation_id=uuid.uuid4(), thing_id=uuid.uuid4(), **kw)
