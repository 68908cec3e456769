"""Events funding consumes: casework's cases, to know who may apply for whom (a caseworker applies for
clients of their own cases), and intake's erasures (PersonErased: the person's application texts go)."""

from services.contracts.casework import CaseAssigned, CaseClosed, CaseOpened
from services.contracts.intake import PersonErased
from services.funding import handlers, handlers_erasure
from services.funding.runtime import FundingRuntime
from services.kit.broker import Delivery, Subscription

#: the case projection reads up to this many entries of a stream at once (order-independent: a case not
#: heard of yet is added by whichever of its events comes first)
BATCH = 64


def subscriptions(rt: FundingRuntime) -> list[Subscription]:
    async def on_case_opened(event: CaseOpened, delivery: Delivery) -> None:
        await handlers.project_case_opened(rt, event, delivery)

    async def on_case_assigned(event: CaseAssigned, delivery: Delivery) -> None:
        await handlers.project_case_assigned(rt, event, delivery)

    async def on_case_closed(event: CaseClosed, delivery: Delivery) -> None:
        await handlers.project_case_closed(rt, event, delivery)

    async def on_person_erased(event: PersonErased, delivery: Delivery) -> None:
        await handlers_erasure.erase_person(rt, event, delivery)

    return [
        Subscription(CaseOpened, on_case_opened, name="case_projection_opened", batch=BATCH),
        Subscription(CaseAssigned, on_case_assigned, name="case_projection_assigned", batch=BATCH),
        Subscription(CaseClosed, on_case_closed, name="case_projection_closed", batch=BATCH),
        Subscription(PersonErased, on_person_erased, name="erase_hardship_texts"),
    ]
