"""Projections: each event adds to its month's counter in the same transaction as its inbox record."""

from __future__ import annotations

from services.contracts import Event
from services.kit.broker import Delivery
from services.kit.db import upsert
from services.kit.service import Runtime
from services.reporting import store
from services.reporting.domain import month_of


async def count(rt: Runtime, kpi: str, event: Event, delivery: Delivery) -> None:
    async with delivery.transaction() as tx:
        await upsert(
            tx.conn, store.monthly_counts,
            {"month": month_of(event.occurred_at, rt.settings.time_zone), "kpi": kpi, "count": 1},
            keys=["month", "kpi"], increment={"count": 1},
        )
