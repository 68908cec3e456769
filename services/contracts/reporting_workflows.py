"""Workflow and activity contracts of the reporting service: scheduled report runs (monthly statistics
on the 3rd working day, funder and KPI reports after each quarter) and the delivery of a report by
e-mail with retries and escalation (ARCHITECTURE.md "report schedule")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


SCHEDULED_REPORTS_WORKFLOW = "ScheduledReports"
REPORT_DELIVERY_WORKFLOW = "ReportDelivery"

PLAN_SCHEDULED_RUN = "reporting.plan_scheduled_run"
GENERATE_SCHEDULED_REPORTS = "reporting.generate_scheduled_reports"
START_DELIVERIES = "reporting.start_deliveries"
SEND_REPORT = "reporting.send_report"
ESCALATE_DELIVERY = "reporting.escalate_delivery"


def report_delivery_workflow_id(report_id: uuid.UUID) -> str:
    """Business key: one delivery per frozen report."""
    return f"report-delivery-{report_id}"


def schedule_id(tenant: str, cadence: str) -> str:
    return f"reports-{cadence}-{tenant}"


class ScheduledReportsInput(_Model):
    tenant: str
    cadence: Literal["monthly", "quarterly"]


class PlanInput(_Model):
    cadence: Literal["monthly", "quarterly"]
    fired_at: datetime


class Plan(_Model):
    """What a scheduled run reports on and when it is due (computed with the NRW working-day calendar)."""

    period: str
    due_at: datetime


class GenerateInput(_Model):
    cadence: Literal["monthly", "quarterly"]
    period: str


class GenerateResult(_Model):
    report_ids: list[uuid.UUID]


class StartDeliveriesInput(_Model):
    report_ids: list[uuid.UUID]


class DeliveryInput(_Model):
    report_id: uuid.UUID
    tenant: str
    deadline_s: int = Field(ge=1, description="Undelivered this long after the first attempt: escalate to the reporting officer.")
    first_retry_s: int = Field(ge=1)
    max_backoff_s: int = Field(ge=1)
    retry_after_escalation_s: int = Field(ge=1)
    max_attempts: int = Field(ge=1)


class SendReportInput(_Model):
    report_id: uuid.UUID
    attempt: int = Field(ge=1)


class SendReportResult(_Model):
    recipients: int
    already_delivered: bool = False


class EscalateInput(_Model):
    report_id: uuid.UUID
    attempts: int = Field(ge=1)
    reason: str = Field(max_length=200, description="Technical reason (e.g. SMTP connection refused); never recipient addresses.")
