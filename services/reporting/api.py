"""Reporting's HTTP API: KPIs (aggregates only, each explainable), the measures catalogue, funders,
reports and their files, the gaps-and-duplicates analysis. Routes parse, call a handler and render."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from services.kit.auth import Principal, Role, require
from services.kit.errors import ErrorBody, Invalid, NotFound
from services.kit.params import Number
from services.reporting import charts, handlers, handlers_reports, render, reports, store
from services.reporting.domain_catalogue import STRATEGIC_GOALS, due_quarter, measure_matches, recent_quarters
from services.reporting.models import FigureDefinition, KpiDefinition, MeasureFields, load_figures, load_funders, load_kpis
from services.reporting.runtime import ReportingRuntimeDep
from services.reporting.schemas import (
    FiguresIn,
    FigureStatus,
    FigureVersion,
    KpiDetail,
    KpiFigures,
    MeasureOut,
    MeasurePatch,
    Regenerated,
    ReportOut,
    ReportRequest,
)

router = APIRouter()

READERS = (Role.REPORTING_OFFICER, Role.OPERATOR, Role.TEAM_LEAD)
Reader = Annotated[Principal, Depends(require(*READERS))]
Officer = Annotated[Principal, Depends(require(Role.REPORTING_OFFICER))]
FigureReader = Annotated[Principal, Depends(require(*READERS, Role.MEASURE_PROVIDER))]
FigureWriter = Annotated[Principal, Depends(require(Role.MEASURE_PROVIDER, Role.REPORTING_OFFICER))]
GroupBy = Literal["month", "quarter", "district", "field_of_action", "programme", "partner"]


def _reads_all(principal: Principal) -> bool:
    """Readers of the catalogue see every measure's figures; a provider account only its own."""
    return principal.has(*(r.value for r in READERS))


# ---- KPIs -----------------------------------------------------------------------------------------


@router.get("/kpis", response_model=KpiFigures, tags=["kpis"], summary="Every KPI for a period (default: this month), optionally grouped")
async def kpis(
    rt: ReportingRuntimeDep, principal: Reader,
    period: Annotated[str | None, Query(description="YYYY-MM, YYYY-Qn or YYYY")] = None,
    group_by: Annotated[GroupBy | None, Query()] = None,
) -> KpiFigures:
    return await handlers.kpi_figures(rt, handlers.period_or_this_month(period, rt.settings.time_zone), group_by)


@router.get("/kpis/definitions", response_model=list[KpiDefinition], tags=["kpis"], summary="The KPI definitions (data/kpis.yaml)")
async def kpi_definitions(principal: Reader) -> list[KpiDefinition]:
    return list(load_kpis().values())


@router.get("/kpis/{name}", response_model=KpiDetail, tags=["kpis"], summary="One KPI; with ?explain the query, event count and time window")
async def kpi(
    rt: ReportingRuntimeDep, principal: Reader, name: str,
    period: Annotated[str | None, Query()] = None,
    group_by: Annotated[GroupBy | None, Query()] = None,
    explain: bool = False,
) -> KpiDetail:
    return await handlers.kpi_detail(rt, name, period, group_by, explain)


# ---- measures catalogue ---------------------------------------------------------------------------


@router.get(
    "/measures", response_model=list[MeasureOut], tags=["catalogue"],
    summary="The measures catalogue (000 §7), filtered by field of action, funder, office or provider",
)
async def list_measures(
    rt: ReportingRuntimeDep, principal: Reader,
    funder: Annotated[str | None, Query(max_length=100)] = None,
    field_of_action: Annotated[int | None, Query(ge=1, le=18)] = None,
    office: Annotated[str | None, Query(max_length=100)] = None,
    provider: Annotated[str | None, Query(max_length=300)] = None,
) -> list[MeasureOut]:
    async with rt.db.read() as conn:
        ms = await handlers.read_measures(conn)
    return [m for m in ms if measure_matches(m, field_of_action=field_of_action, funder=funder, office=office, provider=provider)]


@router.post(
    "/measures", response_model=MeasureOut, status_code=201, tags=["catalogue"],
    summary="Add a measure to the catalogue (reporting officer); it gets the next number",
)
async def add_measure(rt: ReportingRuntimeDep, principal: Officer, body: MeasureFields) -> MeasureOut:
    return await handlers.add_measure(rt, principal, body.model_dump(mode="json"))


@router.get("/measures/{number}", response_model=MeasureOut, tags=["catalogue"], summary="One measure")
async def get_measure(rt: ReportingRuntimeDep, principal: Reader, number: Number) -> MeasureOut:
    async with rt.db.read() as conn:
        return await handlers.read_measure(conn, number)


@router.patch(
    "/measures/{number}", response_model=MeasureOut, tags=["catalogue"],
    summary="Edit a measure (reporting officer); kept across restarts, used by reports generated afterwards",
)
async def patch_measure(rt: ReportingRuntimeDep, principal: Officer, number: Number, patch: MeasurePatch) -> MeasureOut:
    return await handlers.edit_measure(rt, principal, number, patch.model_dump(exclude_unset=True, mode="json"))


@router.get("/strategic-goals", tags=["catalogue"], summary="The six strategic goals and their fields of action (000 §6.1)")
async def strategic_goals(principal: FigureReader) -> list[dict[str, Any]]:
    return [{"goal": g, "name": name, "fields_of_action": list(fields)} for g, (name, fields) in STRATEGIC_GOALS.items()]


# ---- figures reported by providers ----------------------------------------------------------------


@router.get(
    "/figures/definitions", response_model=list[FigureDefinition], tags=["figures"],
    summary="The figures providers report per quarter (data/figures.yaml)",
)
async def figure_definitions(principal: FigureReader) -> list[FigureDefinition]:
    return list(load_figures().values())


@router.get(
    "/figures", response_model=FigureStatus, tags=["figures"],
    summary="Figures of a quarter per measure and which are missing (a provider sees its own measures)",
)
async def figure_status(
    rt: ReportingRuntimeDep, principal: FigureReader, period: Annotated[str | None, Query(description="YYYY-Qn; default: the quarter due")] = None,
) -> FigureStatus:
    tz = rt.settings.time_zone
    today = handlers.local_today(tz)
    p = due_quarter(today) if period is None else handlers.period_or_this_month(period, tz)
    if p.kind != "quarter":
        raise Invalid("figures are reported per quarter (YYYY-Qn)", field="period", location="query")
    own = None if _reads_all(principal) else principal.provider
    async with rt.db.read() as conn:
        measures, missing = await handlers.figure_status(conn, p, own, _reads_all(principal))
    return FigureStatus(period=p.key, due=due_quarter(today).key, quarters=[q.key for q in recent_quarters(today)], provider=own,
                        measures=measures, missing=missing)


@router.put(
    "/measures/{number}/figures/{period}", tags=["figures"],
    summary="Report (or correct) a measure's figures for a quarter; a correction is a new version",
)
async def put_figures(rt: ReportingRuntimeDep, principal: FigureWriter, number: Number, period: str, body: FiguresIn) -> dict[str, Any]:
    return await handlers.submit_figures(rt, principal, number, period, body.values)


@router.get(
    "/measures/{number}/figures/{period}", response_model=list[FigureVersion], tags=["figures"],
    summary="Every version of a measure's figures for a quarter",
)
async def figure_history(rt: ReportingRuntimeDep, principal: FigureReader, number: Number, period: str) -> list[FigureVersion]:
    p = handlers.period_or_this_month(period, rt.settings.time_zone)
    async with rt.db.read() as conn:
        return await handlers.figure_history(conn, number, p, principal.provider, _reads_all(principal))


@router.get("/gaps", tags=["catalogue"], summary="Gaps and possible duplicate structures (000 §6.4 item 5b)")
async def gaps(rt: ReportingRuntimeDep, principal: Reader) -> dict[str, Any]:
    async with rt.db.read() as conn:
        section = reports.gaps_section(await handlers.read_measures(conn))
    return section.model_dump(mode="json")


@router.get("/gaps/heatmap.{fmt}", tags=["catalogue"], summary="Heat map of fields of action by age group (SVG or PNG)", response_class=Response,
            responses={200: {"description": "The heat map", "content": {"image/svg+xml": {"schema": {"type": "string"}},
                                                                       "image/png": {"schema": {"type": "string", "format": "binary"}}}}})
async def gaps_heatmap(rt: ReportingRuntimeDep, principal: Reader, fmt: Literal["svg", "png"]) -> Response:
    async with rt.db.read() as conn:
        section = reports.gaps_section(await handlers.read_measures(conn))
    drawing = charts.heatmap(section.tables[0])
    if fmt == "svg":
        return Response(charts.to_svg(drawing), media_type="image/svg+xml")
    return Response(charts.to_png(drawing), media_type="image/png")


# ---- funders and reports --------------------------------------------------------------------------


@router.get("/funders", tags=["reports"], summary="Configured funders and their report periods")
async def funders(rt: ReportingRuntimeDep, principal: Reader) -> list[dict[str, Any]]:
    return [{**f.model_dump(exclude={"contacts"}), "contacts": len(f.contacts)} for f in load_funders(rt.settings.funders_file).funders]


@router.post(
    "/reports", response_model=ReportOut, status_code=201, tags=["reports"],
    summary="Generate and freeze a report (returns the frozen one if it exists)",
    responses={200: {"model": ReportOut, "description": "The frozen report existed already"}, 404: {"model": ErrorBody, "description": "Unknown funder"}},
)
async def create_report(rt: ReportingRuntimeDep, principal: Officer, body: ReportRequest, response: Response) -> ReportOut:
    report_id, created = await handlers_reports.generate_report(rt, body.kind, body.funder, body.period, principal.username)
    if not created:
        response.status_code = 200
    async with rt.db.read() as conn:
        return await handlers_reports.report_out(conn, report_id)


@router.get("/reports", response_model=list[ReportOut], tags=["reports"], summary="Frozen reports")
async def list_reports(rt: ReportingRuntimeDep, principal: Reader) -> list[ReportOut]:
    async with rt.db.read() as conn:
        return await handlers_reports.list_reports(conn)


@router.get("/reports/{report_id}", response_model=ReportOut, tags=["reports"], summary="A frozen report")
async def get_report(rt: ReportingRuntimeDep, principal: Reader, report_id: uuid.UUID) -> ReportOut:
    async with rt.db.read() as conn:
        return await handlers_reports.report_out(conn, report_id)


@router.get("/reports/{report_id}/files/{fmt}", tags=["reports"], summary="A report file: pdf, xlsx, csv or json", response_class=Response,
            responses={200: {"description": "The file", "content": {
                media.split(";")[0]: {"schema": {} if fmt == "json" else {"type": "string", "format": "binary"}}
                for fmt, media in render.MEDIA_TYPES.items()}}})
async def report_file(rt: ReportingRuntimeDep, principal: Reader, report_id: uuid.UUID, fmt: Literal["pdf", "xlsx", "csv", "json"]) -> Response:
    async with rt.db.read() as conn:
        content = await store.report_file(conn, report_id, fmt)
    if content is None:
        raise NotFound(f"no report {report_id}")
    return Response(content, media_type=render.MEDIA_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="report-{report_id}.{fmt}"'})


@router.post(
    "/reports/{report_id}/regenerate", response_model=Regenerated, tags=["reports"],
    summary="Render the frozen model again and compare with the stored files",
)
async def regenerate(rt: ReportingRuntimeDep, principal: Reader, report_id: uuid.UUID) -> Regenerated:
    async with rt.db.read() as conn:
        identical = await handlers_reports.rendered_again(conn, report_id)
    return Regenerated(report_id=report_id, identical=identical)


@router.post("/reports/{report_id}/deliver", status_code=202, tags=["reports"], summary="Start (or find) the delivery workflow of a report")
async def deliver(rt: ReportingRuntimeDep, principal: Officer, report_id: uuid.UUID) -> dict[str, str]:
    async with rt.db.read() as conn:
        await handlers_reports.report_out(conn, report_id)
    workflow_id = await handlers_reports.start_delivery(rt, report_id)
    return {"workflow_id": workflow_id}
