"""Composition root of the reporting service."""

from services.kit.service import ServiceSpec
from services.reporting import consumers, store
from services.reporting.api import router
from services.reporting.settings import ReportingSettings


def build() -> ServiceSpec:
    return ServiceSpec(
        name="reporting",
        title="ankommen · reporting (KPIs and funder reports)",
        description="Projections from events, KPIs, funder reports and monthly statistics. Aggregates only.",
        metadata=store.metadata,
        tables=store.kit,
        settings=ReportingSettings(),
        routers=[router],
        subscriptions=consumers.subscriptions,
    )
