"""Composition root of the funding service."""

from services.funding import handlers, store
from services.funding.api import router
from services.funding.settings import FundingSettings
from services.kit.service import ServiceSpec


def build() -> ServiceSpec:
    return ServiceSpec(
        name="funding",
        title="ankommen · funding (Härtefallfonds, Verfügungsfonds)",
        description="Hardship and discretionary fund applications, decisions and the budget ledger.",
        metadata=store.metadata,
        tables=store.kit,
        settings=FundingSettings(),
        routers=[router],
        on_start=handlers.ensure_current_budgets,
    )
