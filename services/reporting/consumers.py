"""Events reporting consumes: every event that intake, casework and funding publish (their contracts
in services/contracts), each into the projections."""

from __future__ import annotations

from services.contracts import Event, all_events
from services.kit.broker import Delivery, Subscription
from services.reporting import handlers
from services.reporting.runtime import ReportingRuntime

PRODUCERS = ("intake", "casework", "funding")
#: entries read and handled at once per stream (one group commit); projections are order-independent per event
BATCH = 64


def projected_events() -> list[type[Event]]:
    return sorted((cls for cls in all_events().values() if cls.producer in PRODUCERS), key=lambda c: c.stream)


def subscriptions(rt: ReportingRuntime) -> list[Subscription]:
    async def project(event: Event, delivery: Delivery) -> None:
        await handlers.on_event(rt, event, delivery)

    return [Subscription(cls, project, name="project", batch=BATCH) for cls in projected_events()]
