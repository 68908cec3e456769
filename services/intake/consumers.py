"""Events intake consumes: its own, to act on them after commit (crash-safe through the inbox)."""

from services.contracts.events import ClearingStarted, IntakeCorrected
from services.intake import clearing
from services.kit.broker import Delivery, Subscription
from services.kit.service import Runtime


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_clearing_started(event: ClearingStarted, delivery: Delivery) -> None:
        await clearing.start_clearing_workflow(rt, event, delivery)

    async def on_intake_corrected(event: IntakeCorrected, delivery: Delivery) -> None:
        await clearing.cancel_clearings_after_correction(rt, event, delivery)

    return [
        Subscription(ClearingStarted, on_clearing_started, name="start_clearing"),
        Subscription(IntakeCorrected, on_intake_corrected, name="cancel_clearing"),
    ]
