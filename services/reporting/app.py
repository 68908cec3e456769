"""Composition root of the reporting service."""

from services.kit.service import ServiceSpec
from services.reporting import activities, consumers, handlers, handlers_reports, store
from services.reporting.api import router
from services.reporting.runtime import ReportingRuntime
from services.reporting.settings import ReportingSettings
from workflows.report_delivery import ReportDelivery
from workflows.report_schedule import ScheduledReports


async def on_start(rt: ReportingRuntime) -> None:
    await handlers.load_catalogue(rt)
    await handlers_reports.ensure_schedules(rt)


def build() -> ServiceSpec:
    return ServiceSpec(
        name="reporting",
        title="ankommen · reporting (KPIs and funder reports)",
        description="Projections from events, KPIs, measures catalogue, funder reports and monthly statistics. Aggregates only.",
        metadata=store.metadata,
        tables=store.kit,
        settings=ReportingSettings(),
        routers=[router],
        subscriptions=consumers.subscriptions,
        workflows=[ReportDelivery, ScheduledReports],
        activities=activities.activities,
        on_start=on_start,
        runtime=ReportingRuntime,
    )
