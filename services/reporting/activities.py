"""Temporal activities of the reporting service: one class, each method implementing an interface of
services/contracts/reporting_activities.py under its name (the workflows call those stubs). A kit
domain error leaves an activity as a non-retryable refusal of the same type."""

from __future__ import annotations

import asyncio
import smtplib
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.contracts.refusals import INVALID, NOT_FOUND, refusal
from services.contracts.reporting import ReportDelivered, ReportDeliveryEscalated
from services.contracts.reporting_workflows import (
    ESCALATE_DELIVERY,
    GENERATE_SCHEDULED_REPORTS,
    PLAN_SCHEDULED_RUN,
    SEND_REPORT,
    START_DELIVERIES,
    EscalateInput,
    GenerateInput,
    GenerateResult,
    Plan,
    PlanInput,
    SendReportInput,
    SendReportResult,
    StartDeliveriesInput,
)
from services.kit import telemetry
from services.kit.alerts import raise_alert
from services.kit.db import utc_now
from services.kit.workflows import refuses_domain_errors
from services.reporting import handlers_reports, mail, store
from services.reporting.domain import recipients_for, scheduled_run
from services.reporting.models import load_funders
from services.reporting.runtime import ReportingRuntime


class ReportingActivities:
    """The activities of the report schedule and the report delivery workflows."""

    def __init__(self, rt: ReportingRuntime) -> None:
        self.rt = rt
        self.settings = rt.settings

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for the worker."""
        return [self.plan_scheduled_run, self.generate_scheduled_reports, self.start_deliveries, self.send_report, self.escalate_delivery]

    @activity.defn(name=PLAN_SCHEDULED_RUN)
    async def plan_scheduled_run(self, inp: PlanInput) -> Plan:
        s = self.settings
        period, due = scheduled_run(inp.cadence, inp.fired_at, s.time_zone, s.monthly_working_day, s.quarterly_working_day, s.report_hour)
        return Plan(period=period.key, due_at=due)

    @activity.defn(name=GENERATE_SCHEDULED_REPORTS)
    @refuses_domain_errors
    async def generate_scheduled_reports(self, inp: GenerateInput) -> GenerateResult:
        """Monthly: the monthly statistics; quarterly: a report per funder receiving quarterly ones, and the KPI report."""
        requests: list[tuple[str, str | None]] = [("monthly_statistics", None)]
        if inp.cadence != "monthly":
            funders = load_funders(self.settings.funders_file).funders
            requests = [("funder", f.key) for f in funders if "quarter" in f.periods] + [("im_kpi_quarterly", None)]
        ids: list[uuid.UUID] = []
        for kind, funder in requests:
            ids.append((await handlers_reports.generate_report(self.rt, kind, funder, inp.period, "schedule"))[0])
        return GenerateResult(report_ids=ids)

    @activity.defn(name=START_DELIVERIES)
    async def start_deliveries(self, inp: StartDeliveriesInput) -> None:
        for report_id in inp.report_ids:
            await handlers_reports.start_delivery(self.rt, report_id)

    @activity.defn(name=SEND_REPORT)
    async def send_report(self, inp: SendReportInput) -> SendReportResult:
        """One delivery attempt: the report's files by e-mail to its recipients, then the delivery is
        recorded with ReportDelivered (once; a repeated attempt finds it delivered)."""
        rt, s = self.rt, self.settings
        telemetry.mark(report_id=str(inp.report_id))
        async with rt.db.read() as conn:
            done = await store.delivery_row(conn, inp.report_id)
            if done is not None:
                return SendReportResult(recipients=done.recipients, already_delivered=True)
            report = await store.report_row(conn, inp.report_id)
            if report is None:
                raise refusal(NOT_FOUND, f"report {inp.report_id} not found")
            files = await store.report_file_contents(conn, inp.report_id)
        recipients = recipients_for(load_funders(s.funders_file), report.kind, report.funder)
        if not recipients:
            raise refusal(INVALID, "no recipients configured")
        if not s.smtp_host:
            raise ApplicationError("SMTP is not configured (REPORTING_SMTP_HOST)", type="SmtpUnavailable")
        msg = mail.build_message(report, files, recipients, s.smtp_from)
        try:
            await asyncio.to_thread(mail.send, s.smtp_host, s.smtp_port, s.smtp_timeout_s, msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise ApplicationError(f"SMTP delivery failed: {type(exc).__name__}", type="SmtpUnavailable") from exc
        async with rt.outbox.transaction() as tx:
            if await store.record_delivery(tx.conn, inp.report_id, len(recipients), inp.attempt, utc_now()):
                await tx.emit(ReportDelivered(
                    tenant=rt.platform.tenant, correlation_id=inp.report_id, report_id=inp.report_id, recipients=len(recipients), attempts=inp.attempt,
                ))
        return SendReportResult(recipients=len(recipients))

    @activity.defn(name=ESCALATE_DELIVERY)
    async def escalate_delivery(self, inp: EscalateInput) -> None:
        """Alerts the reporting officer once that a report is still undelivered (ReportDeliveryEscalated)."""
        rt = self.rt
        config = load_funders(self.settings.funders_file)
        async with rt.outbox.transaction() as tx:
            raised = await raise_alert(
                tx.conn, rt.tables, key=f"report-delivery-overdue-{inp.report_id}", kind="report_delivery_overdue",
                role="reporting_officer", assignee=config.reporting_officer, subject_type="report", subject_id=inp.report_id,
                message=f"Bericht {inp.report_id} nach {inp.attempts} Zustellversuchen nicht zugestellt ({inp.reason[:120]}).",
            )
            if raised:
                await tx.emit(ReportDeliveryEscalated(tenant=rt.platform.tenant, correlation_id=inp.report_id, report_id=inp.report_id, attempts=inp.attempts))


def activities(rt: ReportingRuntime) -> Sequence[Callable[..., Any]]:
    """The worker's activities (ServiceSpec.activities)."""
    return ReportingActivities(rt).all()
