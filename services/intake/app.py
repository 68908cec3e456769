"""Composition root of the intake service."""

from services.intake import consumers, handlers_clearing_starts, handlers_communication, handlers_privacy, handlers_search, store
from services.intake.activities import IntakeActivities
from services.intake.api import router
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.kit.service import ServiceSpec
from workflows.clearing import PreRegistrationClearing
from workflows.clearing_reminders import ClearingReminders
from workflows.household_clearing import HouseholdClearing


async def _check_keyring(rt: IntakeRuntime) -> None:
    _ = rt.keyring  # made now: a missing master key fails the start
    await handlers_communication.ensure_schedule(rt)
    await handlers_search.backfill_search_index(rt)  # persons stored before the search index existed


def build() -> ServiceSpec:
    return ServiceSpec(
        name="intake",
        title="ankommen · intake (Bürgeramt front desk)",
        description="Intake interview of newcomers (Erstgespräch), routing, ABRA pre-registration clearing and the registration gate.",
        metadata=store.metadata,
        tables=store.kit,
        settings=IntakeSettings(),
        routers=[router],
        subscriptions=consumers.subscriptions,
        workflows=[HouseholdClearing, PreRegistrationClearing, ClearingReminders],
        activities=lambda rt: IntakeActivities(rt).all(),
        on_start=_check_keyring,
        background=lambda rt: [handlers_clearing_starts.start_clearings_forever(rt)],
        runtime=IntakeRuntime,
        person_records=handlers_privacy.person_records,
        data_subject=handlers_privacy.data_subject,
    )
