"""Reporting's HTTP request and response models (the API's DTOs). The data models they carry (a
measure, a KPI or figure definition, a report) are in models.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.contracts.vocab import AgeGroup
from services.kit.inputs import Input
from services.reporting.models import KpiDefinition, MeasureIn

# ---- KPIs -----------------------------------------------------------------------------------------


class KpiFigure(BaseModel):
    name: str
    label: str
    unit: str
    value: int
    groups: dict[str, int] | None = None


class KpiFigures(BaseModel):
    period: str
    group_by: str | None
    watermark: dict[str, int]
    kpis: list[KpiFigure]


class KpiDetail(BaseModel):
    definition: KpiDefinition
    period: str
    value: int
    groups: dict[str, int] | None = None
    explain: dict[str, Any] | None = None


# ---- measures catalogue ---------------------------------------------------------------------------


class MeasurePatch(Input):
    """Changes to a measure through the API; omitted fields stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    office: str | None = Field(default=None, min_length=1, max_length=100)
    municipal_concept_eur: int | None = Field(default=None, ge=0, le=100_000_000)
    municipal_budget_eur: int | None = Field(default=None, ge=0, le=100_000_000)
    third_party_eur: int | None = Field(default=None, ge=0, le=100_000_000)
    funders: list[str] | None = None
    provider: str | None = Field(default=None, max_length=300)
    fields_of_action: list[int] | None = None
    age_groups: list[AgeGroup] | None = None
    kpis: list[str] | None = None
    figures: list[str] | None = None


class MeasureOut(MeasureIn):
    edited_by: str | None = None
    edited_at: datetime | None = None
    goals: list[int] = Field(default_factory=list, description="Strategic goals (000 §6.1) of its fields of action")


# ---- figures reported by providers ----------------------------------------------------------------


class MeasureFigures(BaseModel):
    number: int
    name: str
    provider: str
    funders: list[str]
    goals: list[int]
    figures: list[str] = Field(description="keys the measure reports")
    values: dict[str, int] = Field(description="current values for the period")
    version: int = Field(description="0: nothing reported yet")
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    missing: bool


class FigureStatus(BaseModel):
    period: str
    due: str = Field(description="the quarter whose figures are due now (the last complete one)")
    quarters: list[str] = Field(description="quarters that may be reported, newest first")
    provider: str | None = Field(description="the caller's provider (measure_provider accounts); their own measures only")
    measures: list[MeasureFigures]
    missing: int


class FiguresIn(Input):
    values: dict[str, Any] = Field(
        description="figure key -> whole number >= 0; every figure the measure reports",
        json_schema_extra={"example": {"participants": 12, "sessions_held": 8}},
    )


class FigureVersion(BaseModel):
    version: int
    key: str
    value: int
    submitted_by: str
    submitted_at: datetime


# ---- reports --------------------------------------------------------------------------------------


class ReportRequest(Input):
    kind: Literal["funder", "monthly_statistics", "im_kpi_quarterly"]
    funder: str | None = Field(default=None, max_length=64)
    period: str = Field(max_length=7, description="YYYY-MM, YYYY-Qn or YYYY")


class ReportOut(BaseModel):
    report_id: uuid.UUID
    kind: str
    funder: str | None
    period: str
    watermark: str
    generated_at: datetime
    generated_by: str
    files: dict[str, str] = Field(description="format -> sha256")
    delivered_at: datetime | None = None


class Regenerated(BaseModel):
    report_id: uuid.UUID
    identical: dict[str, bool]
