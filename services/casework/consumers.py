"""Events casework consumes."""

from services.casework import handlers
from services.contracts.events import IntakeCompleted
from services.kit.broker import Delivery, Subscription
from services.kit.service import Runtime


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_intake_completed(event: IntakeCompleted, delivery: Delivery) -> None:
        await handlers.open_case_for_intake(rt, event, delivery)

    return [Subscription(IntakeCompleted, on_intake_completed, name="open_case")]
