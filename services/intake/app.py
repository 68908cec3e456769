"""Composition root of the intake service."""

from services.intake import store
from services.intake.api import router
from services.intake.settings import IntakeSettings
from services.kit.service import ServiceSpec


def build() -> ServiceSpec:
    return ServiceSpec(
        name="intake",
        title="ankommen · intake (Bürgeramt front desk)",
        description="Intake interview of newcomers (Erstgespräch), routing and the registration gate.",
        metadata=store.metadata,
        tables=store.kit,
        settings=IntakeSettings(),
        routers=[router],
    )
