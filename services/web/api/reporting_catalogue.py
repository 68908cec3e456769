"""The measures catalogue and the providers' figures (issue 14; 000 §7, §6.1): the reporting officer
lists the catalogue filtered by field of action, funder and office, sees which figures of a quarter
are missing, adds and edits measures; a provider (Träger) reports its measures' figures per quarter
("Kennzahlen melden"). Every rule and check is the reporting API's; this module maps forms to its
JSON and its 422 answers back to the form fields."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.contracts.vocab import FIELD_OF_ACTION_LABELS, AgeGroup
from services.kit.auth import Role
from services.web.api.common import checked, german_message
from services.web.api.routes import Gone, backend, form_of, page, render, see_other
from services.web.sessions import Session

router = APIRouter()
Officer = Annotated[Session, Depends(page(Role.REPORTING_OFFICER.value))]
Provider = Annotated[Session, Depends(page(Role.MEASURE_PROVIDER.value))]

FIELDS = {int(k): f"{int(k)} {label}" for k, label in FIELD_OF_ACTION_LABELS.items()}
AGE_GROUPS = {a.value: a.value.replace("-", "–") + " Jahre" for a in AgeGroup}
TEXT_FIELDS = (("name", "Name der Maßnahme"), ("office", "Amt (StA)"), ("provider", "Träger"))
MONEY_FIELDS = (("municipal_concept_eur", "Kommunale Mittel im Integrationskonzept (EUR p.a.)"),
                ("municipal_budget_eur", "Kommunale Mittel aus bestehendem Budget (EUR p.a.)"),
                ("third_party_eur", "Drittmittel (EUR p.a.)"))
LIST_FIELDS = ("funders", "fields_of_action", "age_groups", "kpis", "figures")
FORM_FIELDS = tuple(n for n, _ in TEXT_FIELDS + MONEY_FIELDS) + LIST_FIELDS
LABELS = {**dict(TEXT_FIELDS), **dict(MONEY_FIELDS), "funders": "Fördergeber", "fields_of_action": "Handlungsfelder",
          "age_groups": "Zielgruppen (Alter)", "kpis": "Kennzahlen aus dem System", "figures": "Kennzahlen der Träger"}
QUARTER = re.compile(r"^\d{4}-Q[1-4]$")
WHOLE = re.compile(r"^-?\d{1,12}$")


def _number(text: str) -> int | str:
    """A whole number as a number, anything else as typed, so that the API names the field's error."""
    t = text.strip().replace(".", "") if re.fullmatch(r"\d{1,3}(\.\d{3})+", text.strip()) else text.strip()
    return int(t) if WHOLE.match(t) else t


def _field_errors(answer_body: Any, known: tuple[str, ...]) -> dict[str, str]:
    """The API's 422 detail as German messages by form field (the most specific known part of each location)."""
    detail = answer_body.get("detail") if isinstance(answer_body, dict) else None
    out: dict[str, str] = {}
    if isinstance(detail, list):
        for d in detail:
            parts = [str(p) for p in d.get("loc", []) if p not in ("body", "path", "query") and not isinstance(p, int)]
            name = next((p for p in reversed(parts) if p in known), "_")  # the most specific: values.<key> -> <key>
            out.setdefault(name, german_message(str(d.get("msg", ""))))
    else:
        out["_"] = german_message(str(detail or answer_body))
    return out


async def _options(request: Request, s: Session) -> dict[str, Any]:
    api = backend(request)
    funders = checked(await api.call(s, "reporting", "GET", "/funders"))
    kpis = checked(await api.call(s, "reporting", "GET", "/kpis/definitions"))
    figures = checked(await api.call(s, "reporting", "GET", "/figures/definitions"))
    return {
        "funder_names": [f["measures_funded_by"] for f in funders if f.get("measures_funded_by")],
        "kpi_options": {k["name"]: k["label"] for k in kpis},
        "figure_options": {f["key"]: f["label"] for f in figures},
    }


# ---- the catalogue --------------------------------------------------------------------------------


@router.get("/massnahmen", response_class=HTMLResponse)
async def catalogue(request: Request, s: Officer, handlungsfeld: str = "", foerdergeber: str = "", amt: str = "", quartal: str = "") -> HTMLResponse:
    api = backend(request)
    errors: dict[str, str] = {}
    params: dict[str, Any] = {}
    if handlungsfeld:
        if handlungsfeld.isdigit() and int(handlungsfeld) in FIELDS:
            params["field_of_action"] = int(handlungsfeld)
        else:
            errors["handlungsfeld"] = "Bitte ein Handlungsfeld aus der Liste wählen."
    if foerdergeber:
        params["funder"] = foerdergeber
    if amt.strip():
        params["office"] = amt.strip()
    if quartal and not QUARTER.match(quartal):
        errors["quartal"] = "Quartal als JJJJ-Qn angeben, z. B. 2026-Q3."
    measures = checked(await api.call(s, "reporting", "GET", "/measures", params=params))
    status = checked(await api.call(s, "reporting", "GET", "/figures", params={"period": quartal} if quartal and not errors.get("quartal") else {}))
    by_number = {m["number"]: m for m in status["measures"]}
    options = await _options(request, s)
    offices = sorted({m["office"] for m in checked(await api.call(s, "reporting", "GET", "/measures"))})
    missing = [m for m in status["measures"] if m["missing"]]
    return render(request, "rep_measures.html", 422 if errors else 200, measures=measures, figures=by_number, status=status, missing=missing,
                  fields=FIELDS, offices=offices, errors=errors, filters={"handlungsfeld": handlungsfeld, "foerdergeber": foerdergeber, "amt": amt,
                  "quartal": status["period"]}, **options)


def _values_of(measure: dict[str, Any] | None) -> dict[str, Any]:
    m = measure or {}
    return {
        **{n: m.get(n, "") for n, _ in TEXT_FIELDS},
        **{n: m.get(n, "") for n, _ in MONEY_FIELDS},
        **{n: list(m.get(n, [])) for n in LIST_FIELDS},
        "weitere_foerdergeber": "",
    }


def _body_of(form: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    extra = [f.strip() for f in form.get("weitere_foerdergeber", "").split(",") if f.strip()]
    return {
        **{n: form.get(n, "").strip() for n, _ in TEXT_FIELDS},
        **{n: _number(form.get(n, "")) for n, _ in MONEY_FIELDS},
        "funders": [*lists["funders"], *extra],
        "fields_of_action": [int(v) if v.isdigit() else v for v in lists["fields_of_action"]],
        "age_groups": lists["age_groups"],
        "kpis": lists["kpis"],
        "figures": lists["figures"],
    }


async def _lists_of(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    return {n: [v for v in form.getlist(n) if isinstance(v, str)] for n in LIST_FIELDS}


async def _measure_page(request: Request, s: Session, measure: dict[str, Any] | None, values: dict[str, Any], errors: dict[str, str],
                        status: int = 200) -> HTMLResponse:
    options = await _options(request, s)
    funder_names = list(dict.fromkeys([*options["funder_names"], *[f for f in values.get("funders", []) if isinstance(f, str)]]))
    return render(request, "rep_measure.html", status, measure=measure, values=values, errors=errors, labels=LABELS, text_fields=TEXT_FIELDS,
                  money_fields=MONEY_FIELDS, fields=FIELDS, age_groups=AGE_GROUPS, **{**options, "funder_names": funder_names})


@router.get("/massnahmen/neu", response_class=HTMLResponse)
async def new_measure(request: Request, s: Officer) -> HTMLResponse:
    values = _values_of({"municipal_concept_eur": 0, "municipal_budget_eur": 0, "third_party_eur": 0, "figures": ["participants", "sessions_held"]})
    return await _measure_page(request, s, None, values, {})


@router.post("/massnahmen/neu", response_class=HTMLResponse)
async def add_measure(request: Request, s: Officer) -> Response:
    form = await form_of(request)
    body = _body_of(form, await _lists_of(request))
    answer = await backend(request).call(s, "reporting", "POST", "/measures", json=body)
    if answer.status == 201:
        s.flash = f"Die Maßnahme Nr. {answer.body['number']} „{answer.body['name']}“ ist in den Katalog aufgenommen."
        return see_other(f"/massnahmen/{answer.body['number']}")
    if answer.status != 422:
        checked(answer, 201)
    values = {**body, "weitere_foerdergeber": form.get("weitere_foerdergeber", ""), **{n: form.get(n, "") for n, _ in MONEY_FIELDS}}
    return await _measure_page(request, s, None, values, _field_errors(answer.body, FORM_FIELDS), 422)


def _number_or_gone(number: str) -> int:
    if not number.isdigit() or len(number) > 6:
        raise Gone()
    return int(number)


@router.get("/massnahmen/{number}", response_class=HTMLResponse)
async def measure_page(request: Request, number: str, s: Officer) -> HTMLResponse:
    measure = checked(await backend(request).call(s, "reporting", "GET", f"/measures/{_number_or_gone(number)}"))
    return await _measure_page(request, s, measure, _values_of(measure), {})


@router.post("/massnahmen/{number}", response_class=HTMLResponse)
async def edit_measure(request: Request, number: str, s: Officer) -> Response:
    n = _number_or_gone(number)
    form = await form_of(request)
    body = _body_of(form, await _lists_of(request))
    api = backend(request)
    answer = await api.call(s, "reporting", "PATCH", f"/measures/{n}", json=body)
    if answer.status == 200:
        s.flash = f"Die Änderungen an Maßnahme Nr. {n} sind gespeichert; Berichte, die ab jetzt erstellt werden, verwenden sie."
        return see_other(f"/massnahmen/{n}")
    if answer.status != 422:
        checked(answer)
    measure = checked(await api.call(s, "reporting", "GET", f"/measures/{n}"))
    values = {**body, "weitere_foerdergeber": form.get("weitere_foerdergeber", ""), **{k: form.get(k, "") for k, _ in MONEY_FIELDS}}
    return await _measure_page(request, s, measure, values, _field_errors(answer.body, FORM_FIELDS), 422)


# ---- the provider's figures ----------------------------------------------------------------------


async def _figures_page(request: Request, s: Session, quarter: str, errors: dict[str, dict[str, str]] | None = None,
                        typed: dict[int, dict[str, str]] | None = None, status_code: int = 200) -> HTMLResponse:
    api = backend(request)
    status = checked(await api.call(s, "reporting", "GET", "/figures", params={"period": quarter} if quarter else {}))
    defs = {f["key"]: f for f in checked(await api.call(s, "reporting", "GET", "/figures/definitions"))}
    return render(request, "rep_figures.html", status_code, status=status, defs=defs, errors=errors or {}, typed=typed or {}, fields=FIELDS)


@router.get("/kennzahlen-melden", response_class=HTMLResponse)
async def figures(request: Request, s: Provider, quartal: str = "") -> HTMLResponse:
    if quartal and not QUARTER.match(quartal):
        quartal = ""
    return await _figures_page(request, s, quartal)


@router.post("/kennzahlen-melden/{number}", response_class=HTMLResponse)
async def report_figures(request: Request, number: str, s: Provider) -> Response:
    n = _number_or_gone(number)
    form = await form_of(request)
    quarter = form.get("quartal", "")
    if not QUARTER.match(quarter):
        raise Gone()
    prefix = f"m{n}-"
    typed = {k[len(prefix):]: v for k, v in form.items() if k.startswith(prefix)}
    answer = await backend(request).call(s, "reporting", "PUT", f"/measures/{n}/figures/{quarter}", json={"values": {k: _number(v) for k, v in typed.items()}})
    if answer.status == 200:
        s.flash = (f"Die Kennzahlen der Maßnahme Nr. {n} für {quarter} sind gemeldet (Version {answer.body['version']})." if answer.body["changed"]
                   else f"Die Kennzahlen der Maßnahme Nr. {n} für {quarter} waren schon so gemeldet; nichts geändert.")
        return see_other(f"/kennzahlen-melden?quartal={quarter}")
    if answer.status != 422:
        checked(answer)
    errors = {k: v for k, v in _field_errors(answer.body, tuple(typed) + ("values",)).items()}
    return await _figures_page(request, s, quarter, {n: errors}, {n: typed}, 422)
