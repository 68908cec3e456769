"""Events reporting consumes."""

from services.contracts.events import CaseOpened, IntakeCompleted
from services.kit.broker import Delivery, Subscription
from services.kit.service import Runtime
from services.reporting import handlers
from services.reporting.domain import CASES_OPENED, INTAKES_COMPLETED


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_intake_completed(event: IntakeCompleted, delivery: Delivery) -> None:
        await handlers.count(rt, INTAKES_COMPLETED, event, delivery)

    async def on_case_opened(event: CaseOpened, delivery: Delivery) -> None:
        await handlers.count(rt, CASES_OPENED, event, delivery)

    return [
        Subscription(IntakeCompleted, on_intake_completed, name="count_intakes"),
        Subscription(CaseOpened, on_case_opened, name="count_cases"),
    ]
