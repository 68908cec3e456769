"""Composition root of the funding service."""

from services.funding import activities, consumers, handlers, handlers_privacy, mail, store
from services.funding.api import hardship_router, measures_router, router
from services.funding.settings import FundingSettings
from services.kit.service import ServiceSpec
from workflows.fund_round import FundRound
from workflows.hardship_approval import HardshipApproval
from workflows.proof_of_use import ProofOfUse


def build() -> ServiceSpec:
    return ServiceSpec(
        name="funding",
        title="ankommen · funding (Härtefallfonds, Verfügungsfonds)",
        description="Hardship and discretionary fund applications, decisions and the budget ledger.",
        metadata=store.metadata,
        tables=store.kit,
        settings=FundingSettings(),
        routers=[router, hardship_router, measures_router],
        subscriptions=consumers.subscriptions,
        workflows=[HardshipApproval, FundRound, ProofOfUse],
        activities=activities.activities,
        on_start=handlers.ensure_current_budgets,
        background=lambda rt: [mail.relay_forever(rt)],
        person_records=handlers_privacy.person_records,
        data_subject=handlers_privacy.data_subject,
    )
