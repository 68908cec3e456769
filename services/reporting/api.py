"""Reporting's HTTP API: KPIs (aggregates only, each explainable), the measures catalogue, funders,
reports and their files, the gaps-and-duplicates analysis."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from services.kit.auth import Principal, Role, require
from services.kit.db import utc_now
from services.kit.errors import Forbidden, Invalid, NotFound
from services.kit.service import RuntimeDep
from services.reporting import charts, handlers, render, reports, store
from services.reporting.domain import (
    STRATEGIC_GOALS,
    FigureDefinition,
    KpiDefinition,
    MeasureFields,
    MeasureOut,
    MeasurePatch,
    ReportModel,
    due_quarter,
    figures_missing,
    load_figures,
    load_funders,
    load_kpis,
    measure_matches,
    parse_period,
    provides,
    recent_quarters,
)

router = APIRouter()

READERS = (Role.REPORTING_OFFICER, Role.OPERATOR, Role.TEAM_LEAD)
Reader = Annotated[Principal, Depends(require(*READERS))]
Officer = Annotated[Principal, Depends(require(Role.REPORTING_OFFICER))]
FigureReader = Annotated[Principal, Depends(require(*READERS, Role.MEASURE_PROVIDER))]
FigureWriter = Annotated[Principal, Depends(require(Role.MEASURE_PROVIDER, Role.REPORTING_OFFICER))]


def _period(value: str | None, tz: str) -> Any:
    if value is None:
        from zoneinfo import ZoneInfo

        now = utc_now().astimezone(ZoneInfo(tz))
        value = f"{now.year}-{now.month:02d}"
    try:
        return parse_period(value)
    except ValueError as exc:
        raise Invalid(str(exc), field="period") from exc


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


@router.get("/kpis", response_model=KpiFigures, tags=["kpis"], summary="Every KPI for a period (default: this month), optionally grouped")
async def kpis(
    rt: RuntimeDep, principal: Reader,
    period: Annotated[str | None, Query(description="YYYY-MM, YYYY-Qn or YYYY")] = None,
    group_by: Annotated[Literal["month", "quarter", "district", "field_of_action", "programme", "partner"] | None, Query()] = None,
) -> KpiFigures:
    p = _period(period, rt.settings.time_zone)
    out = []
    async with rt.db.read() as conn:
        for k in load_kpis().values():
            value = (await store.kpi_value(conn, k, p, rt.settings.time_zone))[""]
            groups = None
            if group_by is not None and group_by in k.groupings:
                groups = await store.kpi_value(conn, k, p, rt.settings.time_zone, group_by)
            out.append(KpiFigure(name=k.name, label=k.label, unit=k.unit, value=value, groups=groups))
        marks = await store.current_watermark(conn)
    return KpiFigures(period=p.key, group_by=group_by, watermark=marks, kpis=out)


@router.get("/kpis/definitions", response_model=list[KpiDefinition], tags=["kpis"], summary="The KPI definitions (data/kpis.yaml)")
async def kpi_definitions(principal: Reader) -> list[KpiDefinition]:
    return list(load_kpis().values())


class KpiDetail(BaseModel):
    definition: KpiDefinition
    period: str
    value: int
    groups: dict[str, int] | None = None
    explain: dict[str, Any] | None = None


@router.get("/kpis/{name}", response_model=KpiDetail, tags=["kpis"], summary="One KPI; with ?explain the query, event count and time window")
async def kpi(
    rt: RuntimeDep, principal: Reader, name: str,
    period: Annotated[str | None, Query()] = None,
    group_by: Annotated[Literal["month", "quarter", "district", "field_of_action", "programme", "partner"] | None, Query()] = None,
    explain: bool = False,
) -> KpiDetail:
    k = load_kpis().get(name)
    if k is None:
        raise NotFound(f"no KPI named {name!r}")
    if group_by is not None and group_by not in k.groupings:
        raise Invalid(f"{name} is grouped by {', '.join(k.groupings)} only", field="group_by")
    p = _period(period, rt.settings.time_zone)
    async with rt.db.read() as conn:
        value = (await store.kpi_value(conn, k, p, rt.settings.time_zone))[""]
        groups = await store.kpi_value(conn, k, p, rt.settings.time_zone, group_by) if group_by else None
        how = await store.kpi_explain(conn, k, p, rt.settings.time_zone, rt.db.dialect) if explain else None
    return KpiDetail(definition=k, period=p.key, value=value, groups=groups, explain=how)


# ---- measures catalogue ---------------------------------------------------------------------------


@router.get("/measures", response_model=list[MeasureOut], tags=["catalogue"], summary="The measures catalogue (000 §7), filtered by field of action, funder, office or provider")
async def list_measures(
    rt: RuntimeDep, principal: Reader,
    funder: Annotated[str | None, Query(max_length=100)] = None,
    field_of_action: Annotated[int | None, Query(ge=1, le=18)] = None,
    office: Annotated[str | None, Query(max_length=100)] = None,
    provider: Annotated[str | None, Query(max_length=300)] = None,
) -> list[MeasureOut]:
    async with rt.db.read() as conn:
        ms = await handlers.read_measures(conn)
    return [m for m in ms if measure_matches(m, field_of_action=field_of_action, funder=funder, office=office, provider=provider)]


@router.post("/measures", response_model=MeasureOut, status_code=201, tags=["catalogue"], summary="Add a measure to the catalogue (reporting officer); it gets the next number")
async def add_measure(rt: RuntimeDep, principal: Officer, body: MeasureFields) -> MeasureOut:
    return await handlers.add_measure(rt, principal, body.model_dump(mode="json"))


@router.get("/measures/{number}", response_model=MeasureOut, tags=["catalogue"], summary="One measure")
async def get_measure(rt: RuntimeDep, principal: Reader, number: int) -> MeasureOut:
    async with rt.db.read() as conn:
        return await handlers.read_measure(conn, number)


@router.patch("/measures/{number}", response_model=MeasureOut, tags=["catalogue"], summary="Edit a measure (reporting officer); kept across restarts, used by reports generated afterwards")
async def patch_measure(rt: RuntimeDep, principal: Officer, number: int, patch: MeasurePatch) -> MeasureOut:
    return await handlers.edit_measure(rt, principal, number, patch.model_dump(exclude_unset=True, mode="json"))


@router.get("/strategic-goals", tags=["catalogue"], summary="The six strategic goals and their fields of action (000 §6.1)")
async def strategic_goals(principal: FigureReader) -> list[dict[str, Any]]:
    return [{"goal": g, "name": name, "fields_of_action": list(fields)} for g, (name, fields) in STRATEGIC_GOALS.items()]


# ---- figures reported by providers ----------------------------------------------------------------


@router.get("/figures/definitions", response_model=list[FigureDefinition], tags=["figures"], summary="The figures providers report per quarter (data/figures.yaml)")
async def figure_definitions(principal: FigureReader) -> list[FigureDefinition]:
    return list(load_figures().values())


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


def _reads_all(principal: Principal) -> bool:
    """Readers of the catalogue see every measure's figures; a provider account only its own."""
    return principal.has(*(r.value for r in READERS))


def _today(rt: Any) -> Any:
    from zoneinfo import ZoneInfo

    return utc_now().astimezone(ZoneInfo(rt.settings.time_zone)).date()


@router.get("/figures", response_model=FigureStatus, tags=["figures"], summary="Figures of a quarter per measure and which are missing (a provider sees its own measures)")
async def figure_status(rt: RuntimeDep, principal: FigureReader, period: Annotated[str | None, Query(description="YYYY-Qn; default: the quarter due")] = None) -> FigureStatus:
    today = _today(rt)
    p = due_quarter(today) if period is None else _period(period, rt.settings.time_zone)
    if p.kind != "quarter":
        raise Invalid("figures are reported per quarter (YYYY-Qn)", field="period", location="query")
    async with rt.db.read() as conn:
        ms = await handlers.read_measures(conn)
        current = await store.current_figures(conn, p.key)
    own = None if _reads_all(principal) else principal.provider
    if not _reads_all(principal):
        ms = [m for m in ms if provides(m, own)]
    ms = [m for m in ms if m.figures]
    missing = {m.number for m in figures_missing(ms, set(current))}
    out = [
        MeasureFigures(number=m.number, name=m.name, provider=m.provider, funders=m.funders, goals=m.goals, figures=m.figures,
                       values={k: v for k, v in current.get(m.number, {}).get("values", {}).items() if k in m.figures},
                       version=current.get(m.number, {}).get("version", 0), submitted_by=current.get(m.number, {}).get("submitted_by"),
                       submitted_at=current.get(m.number, {}).get("submitted_at"), missing=m.number in missing)
        for m in ms
    ]
    return FigureStatus(period=p.key, due=due_quarter(today).key, quarters=[q.key for q in recent_quarters(today)], provider=own,
                        measures=out, missing=len(missing))


class FiguresIn(BaseModel):
    values: dict[str, Any] = Field(description="figure key -> whole number >= 0; every figure the measure reports", json_schema_extra={"example": {"participants": 12, "sessions_held": 8}})


@router.put("/measures/{number}/figures/{period}", tags=["figures"], summary="Report (or correct) a measure's figures for a quarter; a correction is a new version")
async def put_figures(rt: RuntimeDep, principal: FigureWriter, number: int, period: str, body: FiguresIn) -> dict[str, Any]:
    return await handlers.submit_figures(rt, principal, number, period, body.values)


class FigureVersion(BaseModel):
    version: int
    key: str
    value: int
    submitted_by: str
    submitted_at: datetime


@router.get("/measures/{number}/figures/{period}", response_model=list[FigureVersion], tags=["figures"], summary="Every version of a measure's figures for a quarter")
async def figure_history(rt: RuntimeDep, principal: FigureReader, number: int, period: str) -> list[FigureVersion]:
    p = _period(period, rt.settings.time_zone)
    async with rt.db.read() as conn:
        m = await handlers.read_measure(conn, number)
        if not _reads_all(principal) and not provides(m, principal.provider):
            raise Forbidden(f"measure {number} is not one of your measures")
        rows = await store.figure_history(conn, number, p.key)
    return [FigureVersion(version=r.version, key=r.key, value=r.value, submitted_by=r.submitted_by, submitted_at=r.submitted_at) for r in rows]


@router.get("/gaps", tags=["catalogue"], summary="Gaps and possible duplicate structures (000 §6.4 item 5b)")
async def gaps(rt: RuntimeDep, principal: Reader) -> dict[str, Any]:
    async with rt.db.read() as conn:
        section = reports.gaps_section(await handlers.read_measures(conn))
    return section.model_dump(mode="json")


@router.get("/gaps/heatmap.{fmt}", tags=["catalogue"], summary="Heat map of fields of action by age group (SVG or PNG)")
async def gaps_heatmap(rt: RuntimeDep, principal: Reader, fmt: Literal["svg", "png"]) -> Response:
    async with rt.db.read() as conn:
        section = reports.gaps_section(await handlers.read_measures(conn))
    drawing = charts.heatmap(section.tables[0])
    if fmt == "svg":
        return Response(charts.to_svg(drawing), media_type="image/svg+xml")
    return Response(charts.to_png(drawing), media_type="image/png")


# ---- funders and reports --------------------------------------------------------------------------


@router.get("/funders", tags=["reports"], summary="Configured funders and their report periods")
async def funders(rt: RuntimeDep, principal: Reader) -> list[dict[str, Any]]:
    return [{**f.model_dump(exclude={"contacts"}), "contacts": len(f.contacts)} for f in load_funders(rt.settings.funders_file).funders]


class ReportRequest(BaseModel):
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


async def _report_out(conn: Any, report_id: uuid.UUID) -> ReportOut:
    r = (await conn.execute(sa.select(store.reports).where(store.reports.c.report_id == report_id))).first()
    if r is None:
        raise NotFound(f"no report {report_id}")
    files = dict((await conn.execute(sa.select(store.report_files.c.format, store.report_files.c.sha256).where(store.report_files.c.report_id == report_id))).all())
    d = (await conn.execute(sa.select(store.deliveries.c.delivered_at).where(store.deliveries.c.report_id == report_id))).first()
    return ReportOut(report_id=r.report_id, kind=r.kind, funder=r.funder, period=r.period, watermark=r.watermark, generated_at=r.generated_at,
                     generated_by=r.generated_by, files=files, delivered_at=d.delivered_at if d else None)


@router.post("/reports", response_model=ReportOut, status_code=201, tags=["reports"], summary="Generate and freeze a report (returns the frozen one if it exists)")
async def create_report(rt: RuntimeDep, principal: Officer, body: ReportRequest, response: Response) -> ReportOut:
    report_id, created = await handlers.generate_report(rt, body.kind, body.funder, body.period, principal.username)
    if not created:
        response.status_code = 200
    async with rt.db.read() as conn:
        return await _report_out(conn, report_id)


@router.get("/reports", response_model=list[ReportOut], tags=["reports"], summary="Frozen reports")
async def list_reports(rt: RuntimeDep, principal: Reader) -> list[ReportOut]:
    async with rt.db.read() as conn:
        ids = [r.report_id for r in (await conn.execute(sa.select(store.reports.c.report_id).order_by(store.reports.c.generated_at))).all()]
        return [await _report_out(conn, i) for i in ids]


@router.get("/reports/{report_id}", response_model=ReportOut, tags=["reports"], summary="A frozen report")
async def get_report(rt: RuntimeDep, principal: Reader, report_id: uuid.UUID) -> ReportOut:
    async with rt.db.read() as conn:
        return await _report_out(conn, report_id)


@router.get("/reports/{report_id}/files/{fmt}", tags=["reports"], summary="A report file: pdf, xlsx, csv or json")
async def report_file(rt: RuntimeDep, principal: Reader, report_id: uuid.UUID, fmt: Literal["pdf", "xlsx", "csv", "json"]) -> Response:
    f = store.report_files
    async with rt.db.read() as conn:
        row = (await conn.execute(sa.select(f.c.content).where(f.c.report_id == report_id, f.c.format == fmt))).first()
    if row is None:
        raise NotFound(f"no report {report_id}")
    return Response(row.content, media_type=render.MEDIA_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="report-{report_id}.{fmt}"'})


class Regenerated(BaseModel):
    report_id: uuid.UUID
    identical: dict[str, bool]


@router.post("/reports/{report_id}/regenerate", response_model=Regenerated, tags=["reports"], summary="Render the frozen model again and compare with the stored files")
async def regenerate(rt: RuntimeDep, principal: Reader, report_id: uuid.UUID) -> Regenerated:
    import hashlib

    async with rt.db.read() as conn:
        r = (await conn.execute(sa.select(store.reports.c.model).where(store.reports.c.report_id == report_id))).first()
        if r is None:
            raise NotFound(f"no report {report_id}")
        hashes = dict((await conn.execute(sa.select(store.report_files.c.format, store.report_files.c.sha256).where(store.report_files.c.report_id == report_id))).all())
    model = ReportModel.model_validate_json(r.model)
    return Regenerated(report_id=report_id, identical={fmt: hashlib.sha256(render.render(model, fmt)).hexdigest() == h for fmt, h in hashes.items()})


@router.post("/reports/{report_id}/deliver", status_code=202, tags=["reports"], summary="Start (or find) the delivery workflow of a report")
async def deliver(rt: RuntimeDep, principal: Officer, report_id: uuid.UUID) -> dict[str, str]:
    from services.reporting import activities

    async with rt.db.read() as conn:
        await _report_out(conn, report_id)
    workflow_id = await activities.start_delivery(rt, report_id)
    return {"workflow_id": workflow_id}
