"""Events casework consumes: completed and corrected intakes, ABRA clearings with long-term coaching,
and its own CaseClosed (to end the case's workflows even after a crash between commit and signal),
and erasures (PersonErased: the person's free texts go)."""

from services.casework import handlers, handlers_erasure
from services.casework.runtime import CaseworkRuntime
from services.contracts.events import CaseClosed, ClearingClosed, ClearingCompleted, IntakeCompleted, IntakeCorrected, PersonErased
from services.kit.broker import Delivery, Subscription

#: completed intakes read up to this many per XREADGROUP and opened at once (one FastStream pass, one
#: XACK): each opens a case and starts its workflow, so about the starts two cores take in flight
OPEN_BATCH = 10


def subscriptions(rt: CaseworkRuntime) -> list[Subscription]:
    async def on_intake_completed(event: IntakeCompleted, delivery: Delivery) -> None:
        await handlers.open_case_for_intake(rt, event, delivery)

    async def on_intake_corrected(event: IntakeCorrected, delivery: Delivery) -> None:
        await handlers.apply_intake_correction(rt, event, delivery)

    async def on_clearing_completed(event: ClearingCompleted, delivery: Delivery) -> None:
        await handlers.open_case_for_clearing(rt, event, delivery)

    async def on_clearing_closed(event: ClearingClosed, delivery: Delivery) -> None:
        await handlers.open_case_for_clearing(rt, event, delivery)

    async def on_case_closed(event: CaseClosed, delivery: Delivery) -> None:
        await handlers.end_case_workflows(rt, event, delivery)

    async def on_person_erased(event: PersonErased, delivery: Delivery) -> None:
        await handlers_erasure.erase_person(rt, event, delivery)

    return [
        Subscription(IntakeCompleted, on_intake_completed, name="open_case", batch=OPEN_BATCH),
        Subscription(IntakeCorrected, on_intake_corrected, name="follow_correction"),
        Subscription(ClearingCompleted, on_clearing_completed, name="abra_coaching_completed"),
        Subscription(ClearingClosed, on_clearing_closed, name="abra_coaching_closed"),
        Subscription(CaseClosed, on_case_closed, name="end_case_workflows"),
        Subscription(PersonErased, on_person_erased, name="erase_person_texts"),
    ]
