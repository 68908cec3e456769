"""Reporting's activity interfaces, declared once: the report schedule and report delivery workflows
call these stubs, `workflow.execute_activity(send_report, inp, ...)`, and reporting's
`ReportingActivities` implements each under the same name. The bodies here never run."""

from __future__ import annotations

from temporalio import activity

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


@activity.defn(name=PLAN_SCHEDULED_RUN)
async def plan_scheduled_run(inp: PlanInput) -> Plan:
    """The period a scheduled run reports on and when it is due (the configured NRW working day)."""
    raise NotImplementedError


@activity.defn(name=GENERATE_SCHEDULED_REPORTS)
async def generate_scheduled_reports(inp: GenerateInput) -> GenerateResult:
    """Generates and freezes the run's reports (a repeated run finds the frozen ones)."""
    raise NotImplementedError


@activity.defn(name=START_DELIVERIES)
async def start_deliveries(inp: StartDeliveriesInput) -> None:
    """Starts one delivery workflow per report (or finds the one running)."""
    raise NotImplementedError


@activity.defn(name=SEND_REPORT)
async def send_report(inp: SendReportInput) -> SendReportResult:
    """One delivery attempt of a report by e-mail; recorded once (ReportDelivered)."""
    raise NotImplementedError


@activity.defn(name=ESCALATE_DELIVERY)
async def escalate_delivery(inp: EscalateInput) -> None:
    """Alerts the reporting officer once that a report is still undelivered."""
    raise NotImplementedError
