"""Composition root of the casework service."""

from services.casework import activities, consumers, handlers, handlers_privacy, store
from services.casework.api import router
from services.casework.settings import CaseworkSettings
from services.kit.service import ServiceSpec
from workflows.case_onboarding import CaseOnboarding
from workflows.referral import Referral
from workflows.retention_sweep import RetentionSweep
from workflows.review_cycle import ReviewCycle


def build() -> ServiceSpec:
    return ServiceSpec(
        name="casework",
        title="ankommen · casework (Soziales Fallmanagement)",
        description="Cases, caseworkers, integration plans, review cycles and referrals.",
        metadata=store.metadata,
        tables=store.kit,
        settings=CaseworkSettings(),
        routers=[router],
        subscriptions=consumers.subscriptions,
        workflows=[ReviewCycle, CaseOnboarding, Referral, RetentionSweep],
        activities=activities.activities,
        on_start=handlers.on_start,
        person_records=handlers_privacy.person_records,
        data_subject=handlers_privacy.data_subject,
    )
