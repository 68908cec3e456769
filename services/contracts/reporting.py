"""Events the reporting service publishes: reports generated and delivered (flow 7)."""

from __future__ import annotations

import uuid

from pydantic import Field

from services.contracts.envelope import Event


class ReportGenerated(Event):
    producer = "reporting"

    report_id: uuid.UUID
    kind: str = Field(description="funder, monthly_statistics or im_kpi_quarterly.")
    funder: str | None = None
    period: str = Field(description="e.g. 2026-10, 2026-Q3 or 2026.")
    watermark: str = Field(description="Position of the inputs the report was built from.")


class ReportDelivered(Event):
    producer = "reporting"

    report_id: uuid.UUID
    recipients: int = Field(ge=1, description="How many contacts received it (never their addresses).")
    attempts: int = Field(ge=1)


class ReportDeliveryEscalated(Event):
    producer = "reporting"

    report_id: uuid.UUID
    attempts: int = Field(ge=1)
