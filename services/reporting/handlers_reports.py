"""Reporting's coordination for reports: generate and freeze a report (validate the request, read
the projections and the catalogue, build the model, render its files, save them with
ReportGenerated through the outbox), read frozen reports, start their delivery workflows, and the
Temporal Schedules that generate them."""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleRange,
    ScheduleSpec,
)
from temporalio.common import WorkflowIDConflictPolicy

from services.contracts.activities import TaskQueues
from services.contracts.reporting import ReportGenerated
from services.contracts.reporting_workflows import (
    DeliveryInput,
    ScheduledReportsInput,
    report_delivery_workflow_id,
    schedule_id,
)
from services.kit import telemetry
from services.kit.db import utc_now
from services.kit.errors import NotFound
from services.reporting import handlers, render, reports, store
from services.reporting.domain import Period, report_id_for, report_target, watermark_text
from services.reporting.models import Funder, ReportModel, load_funders
from services.reporting.runtime import ReportingRuntime
from services.reporting.schemas import ReportOut
from workflows.report_delivery import ReportDelivery
from workflows.report_schedule import ScheduledReports

log = logging.getLogger(__name__)


# ---- generating ---------------------------------------------------------------------------------


async def generate_report(rt: ReportingRuntime, kind: str, funder_key: str | None, period_key: str, by: str) -> tuple[uuid.UUID, bool]:
    """Builds, renders and freezes a report (model, files and the projections' watermark in one
    transaction, with ReportGenerated through the outbox). The report id is the business key of kind,
    funder and period: asking again returns the frozen report (created=False)."""
    period, funder = report_target(load_funders(rt.settings.funders_file), kind, funder_key, period_key)
    tenant = rt.platform.tenant
    report_id = report_id_for(tenant, kind, funder_key, period.key)
    async with rt.db.read() as conn:
        if await store.report_exists(conn, report_id):
            return report_id, False
        model = await _build_model(rt, conn, report_id, kind, funder, period)
    files = {fmt: render.render(model, fmt) for fmt in render.FORMATS}
    async with rt.outbox.transaction() as tx:
        if await store.report_exists(tx.conn, report_id):
            return report_id, False
        await store.insert_report(
            tx.conn, report_id, kind=kind, funder=funder_key, period=period.key, watermark=model.watermark, model=model.model_dump_json(),
            generated_at=model.generated_at, generated_by=by, files={fmt: (content, hashlib.sha256(content).hexdigest()) for fmt, content in files.items()},
        )
        await tx.emit(ReportGenerated(
            tenant=tenant, correlation_id=report_id, report_id=report_id, kind=kind, funder=funder_key, period=period.key, watermark=model.watermark,
        ))
    telemetry.mark(report_id=str(report_id))
    return report_id, True


async def _build_model(rt: ReportingRuntime, conn: AsyncConnection, report_id: uuid.UUID, kind: str, funder: Funder | None, period: Period) -> ReportModel:
    """The report's model from the projections (as of their current watermark) and the catalogue."""
    s = rt.settings
    mark = watermark_text(await store.current_watermark(conn))
    now = utc_now().replace(microsecond=0)
    common: dict[str, Any] = dict(tz=s.time_zone, threshold=s.suppression_threshold, tenant=rt.platform.tenant, now=now, watermark=mark)
    if kind == "funder" and funder is not None:  # report_target names the funder of every funder report
        return await reports.funder_report(conn, report_id, funder, period, await handlers.read_measures(conn), dialect=rt.db.dialect, **common)
    if kind == "monthly_statistics":
        return await reports.monthly_statistics(conn, report_id, period, **common)
    return await reports.im_kpi_quarterly(conn, report_id, period, await handlers.read_measures(conn), dialect=rt.db.dialect, **common)


# ---- reading ------------------------------------------------------------------------------------


async def report_out(conn: AsyncConnection, report_id: uuid.UUID) -> ReportOut:
    """A frozen report's record: its key, watermark, file hashes and when it was delivered."""
    r = await store.report_row(conn, report_id)
    if r is None:
        raise NotFound(f"no report {report_id}")
    files = await store.report_file_hashes(conn, report_id)
    d = await store.delivery_row(conn, report_id)
    return ReportOut(report_id=r.report_id, kind=r.kind, funder=r.funder, period=r.period, watermark=r.watermark, generated_at=r.generated_at,
                     generated_by=r.generated_by, files=files, delivered_at=d.delivered_at if d else None)


async def list_reports(conn: AsyncConnection) -> list[ReportOut]:
    return [await report_out(conn, i) for i in await store.report_ids(conn)]


async def rendered_again(conn: AsyncConnection, report_id: uuid.UUID) -> dict[str, bool]:
    """Renders the frozen model again: format -> whether the file equals the stored one."""
    r = await store.report_row(conn, report_id)
    if r is None:
        raise NotFound(f"no report {report_id}")
    hashes = await store.report_file_hashes(conn, report_id)
    model = ReportModel.model_validate_json(r.model)
    return {fmt: hashlib.sha256(render.render(model, fmt)).hexdigest() == h for fmt, h in hashes.items()}


# ---- delivery and schedules -----------------------------------------------------------------------


def delivery_input(rt: ReportingRuntime, report_id: uuid.UUID) -> DeliveryInput:
    s = rt.settings
    return DeliveryInput(
        report_id=report_id, tenant=rt.platform.tenant, deadline_s=s.delivery_deadline_hours * 3600, first_retry_s=s.delivery_first_retry_s,
        max_backoff_s=s.delivery_max_backoff_s, retry_after_escalation_s=s.delivery_retry_after_escalation_hours * 3600, max_attempts=s.delivery_max_attempts,
    )


async def start_delivery(rt: ReportingRuntime, report_id: uuid.UUID) -> str:
    """Starts the report's delivery workflow, or finds the one already running (one per report)."""
    workflow_id = report_delivery_workflow_id(report_id)
    await rt.temporal_client.start_workflow(
        ReportDelivery.run, delivery_input(rt, report_id), id=workflow_id, task_queue=TaskQueues.REPORTING,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return workflow_id


async def ensure_schedules(rt: ReportingRuntime) -> None:
    """Creates the monthly and quarterly schedules once (a restart finds them running)."""
    if not rt.settings.schedules_enabled or rt.temporal is None:
        return
    tenant = rt.platform.tenant
    for cadence, months in (("monthly", [ScheduleRange(1, 12)]), ("quarterly", [ScheduleRange(1), ScheduleRange(4), ScheduleRange(7), ScheduleRange(10)])):
        sid = schedule_id(tenant, cadence)
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                ScheduledReports.run, ScheduledReportsInput(tenant=tenant, cadence=cadence), id=sid, task_queue=TaskQueues.REPORTING,
            ),
            spec=ScheduleSpec(
                calendars=[ScheduleCalendarSpec(day_of_month=[ScheduleRange(1)], month=months, hour=[ScheduleRange(0)], minute=[ScheduleRange(5)])],
                time_zone_name=rt.settings.time_zone,
            ),
        )
        try:
            await rt.temporal_client.create_schedule(sid, schedule)
            log.info("schedule %s created", sid)
        except ScheduleAlreadyRunningError:
            pass
