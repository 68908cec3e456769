"""Reporting's data models and the data files they are loaded from: the KPI definitions
(data/kpis.yaml), the figures providers report (data/figures.yaml), a measure of the catalogue
(data/measures.yaml, 000 §7), the funders (data/funders.yaml) and the report model every output
format is rendered from. Loading the data files is the only I/O here."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.contracts.vocab import AgeGroup
from services.kit.inputs import Input

DATA = Path(__file__).with_name("data")

# ---- KPIs -----------------------------------------------------------------------------------------


Grouping = Literal["month", "quarter", "district", "field_of_action", "programme", "partner"]
Measure = Literal["count", "sum_n", "sum_value", "distinct_subject", "active_cases", "active_members", "arrivals"]


class KpiDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label: str
    definition: str
    source_events: list[str]
    measure: Measure
    where: dict[str, str | int | list[str]] = Field(default_factory=dict)
    groupings: list[Grouping]
    unit: Literal["count", "cents"] = "count"

    @field_validator("where")
    @classmethod
    def _known_columns(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = set(value) - {"category", "partner", "programme", "district", "field_of_action"}
        if unknown:
            raise ValueError(f"cannot filter on {sorted(unknown)}")
        return value


@lru_cache(maxsize=4)
def load_kpis(path: Path = DATA / "kpis.yaml") -> dict[str, KpiDefinition]:
    from services.contracts import all_events

    known = {cls.__name__ for cls in all_events().values()}
    kpis = [KpiDefinition.model_validate(k) for k in yaml.safe_load(path.read_text(encoding="utf-8"))["kpis"]]
    for k in kpis:
        missing = set(k.source_events) - known
        if missing:
            raise ValueError(f"KPI {k.name}: unknown source events {sorted(missing)}")
    return {k.name: k for k in kpis}


# ---- figures and the measures catalogue ---------------------------------------------------------


class FigureDefinition(BaseModel):
    """A figure a provider reports for a measure per quarter (data/figures.yaml). `persons`: the figure
    counts persons (or households), so reports suppress it below the threshold (DOMAIN.md flow 7)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,47}$")
    label: str
    definition: str
    persons: bool


@lru_cache(maxsize=4)
def load_figures(path: Path = DATA / "figures.yaml") -> dict[str, FigureDefinition]:
    defs = [FigureDefinition.model_validate(f) for f in yaml.safe_load(path.read_text(encoding="utf-8"))["figures"]]
    return {d.key: d for d in defs}


class MeasureFields(Input):
    """What the reporting officer enters for a measure of the catalogue (000 §7 columns: Maßnahme,
    StA, kommunale Mittel, Drittmittel, Fördergeber, Maßnahmenträger; fields of action from 000 §6.3)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    page: int | None = None
    office: str = Field(min_length=1, max_length=100)
    municipal_concept_eur: int = Field(ge=0, le=100_000_000, description="Kommunale Mittel im Integrationskonzept, EUR p.a.")
    municipal_budget_eur: int = Field(ge=0, le=100_000_000, description="Kommunale Mittel aus bestehendem Budget, EUR p.a.")
    third_party_eur: int = Field(ge=0, le=100_000_000, description="Drittmittel, EUR p.a.")
    funders: list[str] = Field(default_factory=list)
    provider: str = Field(default="", max_length=300)
    fields_of_action: list[int] = Field(default_factory=list)
    age_groups: list[AgeGroup] = Field(default_factory=list)
    kpis: list[str] = Field(default_factory=list)
    figures: list[str] = Field(default_factory=list, description="Keys of the figures the provider reports per quarter (GET /figures/definitions)")
    fields_of_action_source: str | None = None

    @field_validator("fields_of_action")
    @classmethod
    def _fields(cls, value: list[int]) -> list[int]:
        bad = [v for v in value if not 1 <= v <= 18]
        if bad:
            raise ValueError(f"fields of action are 1..18 (000 §4), not {bad}")
        return sorted(set(value))

    @field_validator("funders")
    @classmethod
    def _funders(cls, value: list[str]) -> list[str]:
        clean = [v.strip() for v in value]
        if any(not v or len(v) > 100 for v in clean):
            raise ValueError("a funder is a name of 1 to 100 characters")
        return list(dict.fromkeys(clean))

    @field_validator("kpis")
    @classmethod
    def _kpis(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in load_kpis()]
        if unknown:
            raise ValueError(f"unknown KPIs {unknown}; see GET /kpis/definitions")
        return list(dict.fromkeys(value))

    @field_validator("figures")
    @classmethod
    def _figures(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in load_figures()]
        if unknown:
            raise ValueError(f"unknown figures {unknown}; see GET /figures/definitions")
        return list(dict.fromkeys(value))

    @field_validator("age_groups")
    @classmethod
    def _ages(cls, value: list[AgeGroup]) -> list[AgeGroup]:
        return sorted(set(value), key=list(AgeGroup).index)


class MeasureIn(MeasureFields):
    """A measure of the catalogue (000 §7), as loaded or edited."""

    number: int = Field(ge=1)



def load_measures(path: Path = DATA / "measures.yaml") -> list[MeasureIn]:
    return [MeasureIn.model_validate(m) for m in yaml.safe_load(path.read_text(encoding="utf-8"))["measures"]]



# ---- funders --------------------------------------------------------------------------------------


class Funder(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    name: str
    measures_funded_by: str | None = None
    all_measures: bool = False
    periods: list[Literal["month", "quarter", "year"]] = Field(default_factory=lambda: ["quarter", "year"])
    contacts: list[str] = Field(min_length=1)

    def funds(self, measure: MeasureIn) -> bool:
        """A funder's report covers the measures it funds (000 §7 column "Fördergeber"), or all of
        them for the funder of the whole concept (`all_measures`, data/funders.yaml)."""
        return self.all_measures or (self.measures_funded_by is not None and self.measures_funded_by in measure.funders)


class FunderConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    funders: list[Funder]
    distribution_lists: dict[str, list[str]] = Field(default_factory=dict)
    reporting_officer: str | None = None

    def funder(self, key: str) -> Funder | None:
        return next((f for f in self.funders if f.key == key), None)


def load_funders(path: Path | None) -> FunderConfig:
    return FunderConfig.model_validate(yaml.safe_load((path or DATA / "funders.yaml").read_text(encoding="utf-8")))


# ---- reports --------------------------------------------------------------------------------------

ReportKind = Literal["funder", "monthly_statistics", "im_kpi_quarterly"]
Cell = int | str | None


class Table(BaseModel):
    """A table of a report. `suppressed` lists [row, col] of cells hidden by small-cell suppression
    (their value is None); the last row/column is the total when `totals` is set."""

    model_config = ConfigDict(extra="forbid")

    title: str
    columns: list[str]
    rows: list[list[Cell]]
    totals: bool = False
    suppressed: list[tuple[int, int]] = Field(default_factory=list)
    chart: Literal["bar", "heatmap", None] = None
    note: str | None = None


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    text: str | None = None
    tables: list[Table]


class ReportModel(BaseModel):
    """One report; PDF, XLSX, CSV and JSON are all rendered from this model and nothing else."""

    model_config = ConfigDict(extra="forbid")

    report_id: uuid.UUID
    kind: ReportKind
    funder: str | None = None
    period: str
    title: str
    tenant: str
    generated_at: datetime
    watermark: str
    suppression_threshold: int
    sections: list[Section]



#: How a suppressed cell shows in CSV, XLSX and PDF.
SUPPRESSED_MARK = "•"
