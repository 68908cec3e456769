"""Events intake consumes: its own IntakeCorrected, to act on a pending clearing after commit (crash-safe
through the inbox; a clearing's workflow is started by handlers_clearing.start_clearings_forever); and
casework's referrals and consents, to check a handover to the Integration Point (handlers_handover.py); and
casework's retention sweep (PersonRetentionElapsed: the person is erased)."""

from services.contracts.events import ConsentChanged, IntakeCorrected, PersonRetentionElapsed, ReferralClosed, ReferralHandedOver, ReferralMade
from services.intake import handlers, handlers_clearing, handlers_handover
from services.intake.runtime import IntakeRuntime
from services.kit.broker import Delivery, Subscription


def subscriptions(rt: IntakeRuntime) -> list[Subscription]:
    async def on_intake_corrected(event: IntakeCorrected, delivery: Delivery) -> None:
        await handlers_clearing.cancel_clearings_after_correction(rt, event, delivery)

    async def on_referral_made(event: ReferralMade, delivery: Delivery) -> None:
        await handlers_handover.on_referral_made(rt, event, delivery)

    async def on_referral_handed_over(event: ReferralHandedOver, delivery: Delivery) -> None:
        await handlers_handover.on_referral_handed_over(rt, event, delivery)

    async def on_referral_closed(event: ReferralClosed, delivery: Delivery) -> None:
        await handlers_handover.on_referral_closed(rt, event, delivery)

    async def on_consent_changed(event: ConsentChanged, delivery: Delivery) -> None:
        await handlers_handover.on_consent_changed(rt, event, delivery)

    async def on_retention_elapsed(event: PersonRetentionElapsed, delivery: Delivery) -> None:
        await handlers.erase_after_retention(rt, event, delivery)

    return [
        Subscription(IntakeCorrected, on_intake_corrected, name="cancel_clearing"),
        Subscription(ReferralMade, on_referral_made, name="handover_referral_made"),
        Subscription(ReferralHandedOver, on_referral_handed_over, name="handover_referral_handed_over"),
        Subscription(ReferralClosed, on_referral_closed, name="handover_referral_closed"),
        Subscription(ConsentChanged, on_consent_changed, name="handover_consent"),
        Subscription(PersonRetentionElapsed, on_retention_elapsed, name="erase_after_retention"),
    ]
