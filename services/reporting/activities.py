"""Temporal activities of the reporting service, its schedules, and starting delivery workflows."""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, time
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from services.contracts.activities import TaskQueues
from services.contracts.reporting import ReportDelivered, ReportDeliveryEscalated
from services.contracts.reporting_workflows import (
    ESCALATE_DELIVERY,
    GENERATE_SCHEDULED_REPORTS,
    PLAN_SCHEDULED_RUN,
    REPORT_DELIVERY_WORKFLOW,
    SCHEDULED_REPORTS_WORKFLOW,
    SEND_REPORT,
    START_DELIVERIES,
    DeliveryInput,
    EscalateInput,
    GenerateInput,
    GenerateResult,
    Plan,
    PlanInput,
    ScheduledReportsInput,
    SendReportInput,
    SendReportResult,
    StartDeliveriesInput,
    report_delivery_workflow_id,
    schedule_id,
)
from services.contracts.workdays import nth_working_day_of_month
from services.kit import telemetry
from services.kit.alerts import raise_alert
from services.kit.db import utc_now
from services.kit.service import Runtime
from services.reporting import handlers, store
from services.reporting.domain import load_funders, previous_period

log = logging.getLogger(__name__)


def due_date(cadence: str, fired_local: datetime, monthly_day: int, quarterly_day: int) -> Any:
    """Monthly: the n-th working day of the month the schedule fired in (default 3rd, NRW holidays);
    quarterly: the n-th working day of the quarter's first month."""
    n = monthly_day if cadence == "monthly" else quarterly_day
    return nth_working_day_of_month(fired_local.year, fired_local.month, n)


def activities(rt: Runtime) -> Sequence[Callable[..., Any]]:
    s = rt.settings

    @activity.defn(name=PLAN_SCHEDULED_RUN)
    async def plan_scheduled_run(inp: PlanInput) -> Plan:
        tz = ZoneInfo(s.time_zone)
        local = inp.fired_at.astimezone(tz)
        day = due_date(inp.cadence, local, s.monthly_working_day, s.quarterly_working_day)
        period = previous_period("month" if inp.cadence == "monthly" else "quarter", local.date())
        due = datetime.combine(day, time(s.report_hour), tz)
        return Plan(period=period.key, due_at=due)

    @activity.defn(name=GENERATE_SCHEDULED_REPORTS)
    async def generate_scheduled_reports(inp: GenerateInput) -> GenerateResult:
        ids: list[uuid.UUID] = []
        if inp.cadence == "monthly":
            ids.append((await handlers.generate_report(rt, "monthly_statistics", None, inp.period, "schedule"))[0])
        else:
            for funder in load_funders(s.funders_file).funders:
                if "quarter" in funder.periods:
                    ids.append((await handlers.generate_report(rt, "funder", funder.key, inp.period, "schedule"))[0])
            ids.append((await handlers.generate_report(rt, "im_kpi_quarterly", None, inp.period, "schedule"))[0])
        return GenerateResult(report_ids=ids)

    @activity.defn(name=START_DELIVERIES)
    async def start_deliveries(inp: StartDeliveriesInput) -> None:
        for report_id in inp.report_ids:
            await start_delivery(rt, report_id)

    @activity.defn(name=SEND_REPORT)
    async def send_report(inp: SendReportInput) -> SendReportResult:
        telemetry.mark(report_id=str(inp.report_id))
        async with rt.db.read() as conn:
            done = (await conn.execute(sa.select(store.deliveries.c.recipients).where(store.deliveries.c.report_id == inp.report_id))).first()
            if done is not None:
                return SendReportResult(recipients=done.recipients, already_delivered=True)
            report = (await conn.execute(sa.select(store.reports).where(store.reports.c.report_id == inp.report_id))).first()
            if report is None:
                raise ApplicationError(f"report {inp.report_id} not found", type="NotFound", non_retryable=True)
            files = (await conn.execute(sa.select(store.report_files.c.format, store.report_files.c.content).where(store.report_files.c.report_id == inp.report_id))).all()
        recipients = handlers.recipients_for(load_funders(s.funders_file), report.kind, report.funder)
        if not recipients:
            raise ApplicationError("no recipients configured", type="Invalid", non_retryable=True)
        if not s.smtp_host:
            raise ApplicationError("SMTP is not configured (REPORTING_SMTP_HOST)", type="SmtpUnavailable")
        msg = build_message(report, dict((f.format, f.content) for f in files), recipients, s.smtp_from)
        try:
            await asyncio.to_thread(_send, s.smtp_host, s.smtp_port, s.smtp_timeout_s, msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise ApplicationError(f"SMTP delivery failed: {type(exc).__name__}", type="SmtpUnavailable") from exc
        async with rt.outbox.transaction() as tx:
            before = (await tx.conn.execute(sa.select(store.deliveries.c.report_id).where(store.deliveries.c.report_id == inp.report_id))).first()
            if before is None:
                await tx.conn.execute(store.deliveries.insert().values(report_id=inp.report_id, recipients=len(recipients), attempts=inp.attempt, delivered_at=utc_now()))
                await tx.emit(ReportDelivered(tenant=rt.platform.tenant, correlation_id=inp.report_id, report_id=inp.report_id, recipients=len(recipients), attempts=inp.attempt))
        return SendReportResult(recipients=len(recipients))

    @activity.defn(name=ESCALATE_DELIVERY)
    async def escalate_delivery(inp: EscalateInput) -> None:
        config = load_funders(s.funders_file)
        async with rt.outbox.transaction() as tx:
            raised = await raise_alert(
                tx.conn, rt.tables, key=f"report-delivery-overdue-{inp.report_id}", kind="report_delivery_overdue",
                role="reporting_officer", assignee=config.reporting_officer, subject_type="report", subject_id=inp.report_id,
                message=f"Bericht {inp.report_id} nach {inp.attempts} Zustellversuchen nicht zugestellt ({inp.reason[:120]}).",
            )
            if raised:
                await tx.emit(ReportDeliveryEscalated(tenant=rt.platform.tenant, correlation_id=inp.report_id, report_id=inp.report_id, attempts=inp.attempts))

    return [plan_scheduled_run, generate_scheduled_reports, start_deliveries, send_report, escalate_delivery]


def build_message(report: Any, files: dict[str, bytes], recipients: list[str], sender: str) -> EmailMessage:
    """The e-mail of a report: fixed Message-ID per report (a receiver can drop a duplicate), the four files attached."""
    msg = EmailMessage()
    msg["Subject"] = _subject(report)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = f"<report-{report.report_id}@ankommen>"
    msg.set_content(
        f"Guten Tag,\n\nanbei der Bericht für den Zeitraum {report.period} (PDF, XLSX, CSV, JSON).\n"
        "Die Berichte enthalten nur zusammengefasste Zahlen; kleine Fallzahlen sind gesperrt.\n\nAmt für Soziale Integration\n"
    )
    types = {"pdf": ("application", "pdf"), "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"), "csv": ("text", "csv"), "json": ("application", "json")}
    for fmt in ("pdf", "xlsx", "csv", "json"):
        if fmt in files:
            main, sub = types[fmt]
            msg.add_attachment(files[fmt], maintype=main, subtype=sub, filename=f"bericht-{report.period}-{report.kind}.{fmt}")
    return msg


def _subject(report: Any) -> str:
    """The report's own German title (e.g. "Förderbericht Stiftung Mercator · 2026-Q2")."""
    try:
        title = json.loads(report.model).get("title")
    except (TypeError, ValueError, AttributeError):
        title = None
    return str(title) if title else f"Bericht {report.kind} {report.funder or ''} {report.period}".replace("  ", " ")


def _send(host: str, port: int, timeout: float, msg: EmailMessage) -> None:
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.send_message(msg)


def delivery_input(rt: Runtime, report_id: uuid.UUID) -> DeliveryInput:
    s = rt.settings
    return DeliveryInput(
        report_id=report_id, tenant=rt.platform.tenant, deadline_s=s.delivery_deadline_hours * 3600, first_retry_s=s.delivery_first_retry_s,
        max_backoff_s=s.delivery_max_backoff_s, retry_after_escalation_s=s.delivery_retry_after_escalation_hours * 3600, max_attempts=s.delivery_max_attempts,
    )


async def start_delivery(rt: Runtime, report_id: uuid.UUID) -> str:
    workflow_id = report_delivery_workflow_id(report_id)
    assert rt.temporal is not None
    await rt.temporal.start_workflow(
        REPORT_DELIVERY_WORKFLOW, delivery_input(rt, report_id), id=workflow_id, task_queue=TaskQueues.REPORTING,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return workflow_id


async def ensure_schedules(rt: Runtime) -> None:
    """Creates the monthly and quarterly schedules once (a restart finds them running)."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleCalendarSpec,
        ScheduleRange,
        ScheduleSpec,
    )

    if not rt.settings.schedules_enabled or rt.temporal is None:
        return
    tenant = rt.platform.tenant
    for cadence, months in (("monthly", [ScheduleRange(1, 12)]), ("quarterly", [ScheduleRange(1), ScheduleRange(4), ScheduleRange(7), ScheduleRange(10)])):
        sid = schedule_id(tenant, cadence)
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                SCHEDULED_REPORTS_WORKFLOW, ScheduledReportsInput(tenant=tenant, cadence=cadence), id=sid, task_queue=TaskQueues.REPORTING,
            ),
            spec=ScheduleSpec(
                calendars=[ScheduleCalendarSpec(day_of_month=[ScheduleRange(1)], month=months, hour=[ScheduleRange(0)], minute=[ScheduleRange(5)])],
                time_zone_name=rt.settings.time_zone,
            ),
        )
        try:
            await rt.temporal.create_schedule(sid, schedule)
            log.info("schedule %s created", sid)
        except ScheduleAlreadyRunningError:
            pass


