"""Reporting officer screens (DOMAIN.md flow 6; 000 §6.4): KPIs of a period with server-rendered SVG
bar charts and a data table for each (text alternative, WCAG 1.1.1), the reports generated and
delivered with the download of every format, a form to generate a report, and the gaps-and-duplicates
view with the heat map, all through reporting's API."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from services.kit.auth import Role
from services.web.api.common import checked, german_message, uuid_or_gone
from services.web.api.routes import Denied, Gone, backend, form_of, page, render, see_other
from services.web.sessions import Session

router = APIRouter()
OFFICER = (Role.REPORTING_OFFICER.value,)
READERS = (Role.REPORTING_OFFICER.value, Role.TEAM_LEAD.value)
Officer = Annotated[Session, Depends(page(*OFFICER))]
Reader = Annotated[Session, Depends(page(*READERS))]
GROUPINGS = {"": "ohne", "month": "Monat", "quarter": "Quartal", "district": "Sozialraum", "field_of_action": "Handlungsfeld", "programme": "Programm",
             "partner": "Partner"}
KINDS = {"monthly_statistics": "Monatsstatistik", "im_kpi_quarterly": "Quartalskennzahlen Integrationsmanagement", "funder": "Bericht an einen Fördergeber"}
FORMATS = {"pdf": "PDF", "xlsx": "Excel (XLSX)", "csv": "CSV", "json": "JSON"}
UNITS = {"count": "Anzahl", "cents": "Cent", "percent": "Prozent", "days": "Tage"}
PERIOD = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")


def bar_chart(title: str, data: list[tuple[str, int]], chart_id: str) -> Markup:
    """A horizontal bar chart as inline SVG (role img, named by its title; the numbers are also in the
    table next to it). Bars #0b4f8a on white (8.3:1), labels #1a1a1a."""
    label_w, bar_w, row_h = 350, 360, 28
    height = max(1, len(data)) * row_h + 10
    top = max([v for _, v in data] + [1])
    parts = [f'<svg class="chart" role="img" aria-labelledby="{chart_id}-titel" viewBox="0 0 {label_w + bar_w + 70} {height}" '
             f'width="{label_w + bar_w + 70}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-titel">{escape(title)}</title>']
    for i, (label, value) in enumerate(data):
        y = 5 + i * row_h
        w = round(bar_w * value / top) if value > 0 else 0
        short = label if len(label) <= 46 else label[:44] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" fill="#1a1a1a" font-size="13">{escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="{row_h - 8}" fill="#0b4f8a"></rect>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y + 18}" fill="#1a1a1a" font-size="13">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


@router.get("/kennzahlen", response_class=HTMLResponse)
async def kpis(request: Request, s: Reader, zeitraum: str | None = None, gruppierung: str = "") -> HTMLResponse:
    errors: dict[str, str] = {}
    params: dict[str, str] = {}
    if zeitraum:
        if PERIOD.match(zeitraum.strip()):
            params["period"] = zeitraum.strip()
        else:
            errors["zeitraum"] = "Zeitraum als JJJJ-MM, JJJJ-Qn oder JJJJ angeben, z. B. 2026-11 oder 2026-Q4."
    if gruppierung and gruppierung in GROUPINGS:
        params["group_by"] = gruppierung
    figures = None
    if not errors:
        answer = await backend(request).call(s, "reporting", "GET", "/kpis", params=params)
        if answer.status == 422:
            errors["zeitraum"] = german_message(str(answer.body))
        else:
            figures = checked(answer)
    charts = []
    if figures:
        counts = [k for k in figures["kpis"] if k["unit"] == "count"]
        title = f"Anzahlen im Zeitraum {figures['period']}"
        charts.append(("alle", title, bar_chart(title, [(k["label"], k["value"]) for k in counts], "chart-alle"),
                       [(k["label"], k["value"], UNITS.get(k["unit"], k["unit"])) for k in counts]))
        money = [k for k in figures["kpis"] if k["unit"] == "cents"]
        if money:
            title = f"Bewilligte Beträge im Zeitraum {figures['period']} (Cent)"
            charts.append(("betraege", title, bar_chart(title, [(k["label"], k["value"]) for k in money], "chart-betraege"),
                           [(k["label"], k["value"], "Cent") for k in money]))
        for n, k in enumerate(figures["kpis"]):
            if k.get("groups"):
                data = sorted(k["groups"].items())
                title = f"{k['label']} nach {GROUPINGS.get(figures['group_by'] or '', '')}"
                charts.append((f"k{n}", title, bar_chart(title, [(g or "(ohne)", v) for g, v in data], f"chart-k{n}"),
                               [(g or "(ohne)", v, UNITS.get(k["unit"], k["unit"])) for g, v in data]))
    return render(request, "rep_kpis.html", 422 if errors else 200, errors=errors, figures=figures, charts=charts, groupings=GROUPINGS,
                  zeitraum=zeitraum or (figures or {}).get("period", ""), gruppierung=gruppierung)


async def _reports_page(request: Request, s: Session, errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                        status: int = 200) -> HTMLResponse:
    api = backend(request)
    reports = checked(await api.call(s, "reporting", "GET", "/reports"))
    funders = checked(await api.call(s, "reporting", "GET", "/funders"))
    reports.sort(key=lambda r: r["generated_at"], reverse=True)
    return render(request, "rep_reports.html", status, reports=reports, funders=funders, kinds=KINDS, formats=FORMATS,
                  errors=errors or {}, values=values or {"kind": "monthly_statistics", "period": "", "funder": ""})


@router.get("/berichte", response_class=HTMLResponse)
async def reports(request: Request, s: Officer) -> HTMLResponse:
    return await _reports_page(request, s)


@router.post("/berichte", response_class=HTMLResponse)
async def generate(request: Request, s: Officer) -> Response:
    form = await form_of(request)
    values = {k: form.get(k, "").strip() for k in ("kind", "period", "funder")}
    errors: dict[str, str] = {}
    if values["kind"] not in KINDS:
        errors["kind"] = "Bitte eine Berichtsart wählen."
    if not PERIOD.match(values["period"]):
        errors["period"] = "Zeitraum als JJJJ-MM, JJJJ-Qn oder JJJJ angeben, z. B. 2026-11."
    if values["kind"] == "funder" and not values["funder"]:
        errors["funder"] = "Für einen Förderbericht bitte den Fördergeber wählen."
    if not errors:
        body = {"kind": values["kind"], "period": values["period"], "funder": values["funder"] or None}
        answer = await backend(request).call(s, "reporting", "POST", "/reports", json=body)
        if answer.status in (200, 201):
            s.flash = "Der Bericht ist erstellt." if answer.status == 201 else "Diesen Bericht gab es schon; er ist unten aufgeführt."
            return see_other("/berichte")
        if answer.status in (404, 409, 422):
            detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
            if isinstance(detail, list):
                for d in detail:
                    loc = [p for p in d.get("loc", []) if p != "body"]
                    errors[str(loc[0]) if loc and str(loc[0]) in values else "period"] = german_message(d.get("msg", ""))
            else:
                field = answer.body.get("field") if isinstance(answer.body, dict) else None
                errors[field if field in values else "period"] = f"Der Bericht konnte nicht erstellt werden: {detail}"
        else:
            checked(answer, 201)
    return await _reports_page(request, s, errors, values, 422)


@router.get("/berichte/{report_id}/datei/{fmt}")
async def download(request: Request, report_id: str, fmt: str, s: Reader) -> Response:
    if fmt not in FORMATS:
        raise Gone()
    r = await backend(request).raw(s, "reporting", f"/reports/{uuid_or_gone(report_id)}/files/{fmt}")
    if r.status_code == 403:
        raise Denied()
    if r.status_code != 200:
        raise Gone()
    return Response(r.content, media_type=r.headers.get("content-type", "application/octet-stream"),
                    headers={"Content-Disposition": r.headers.get("content-disposition", f'attachment; filename="bericht-{report_id}.{fmt}"')})


@router.post("/berichte/{report_id}/zustellen")
async def deliver(request: Request, report_id: str, s: Officer) -> Response:
    await form_of(request)
    checked(await backend(request).call(s, "reporting", "POST", f"/reports/{uuid_or_gone(report_id)}/deliver"), 202)
    s.flash = "Die Zustellung ist gestartet; das Zustelldatum erscheint, sobald sie erfolgt ist."
    return see_other("/berichte")


@router.get("/luecken", response_class=HTMLResponse)
async def gaps(request: Request, s: Reader) -> HTMLResponse:
    section = checked(await backend(request).call(s, "reporting", "GET", "/gaps"))
    return render(request, "rep_gaps.html", section=section)


@router.get("/luecken/heatmap.svg")
async def heatmap(request: Request, s: Reader) -> Response:
    r = await backend(request).raw(s, "reporting", "/gaps/heatmap.svg")
    if r.status_code == 403:
        raise Denied()
    if r.status_code != 200:
        raise Gone()
    return Response(r.content, media_type="image/svg+xml")
