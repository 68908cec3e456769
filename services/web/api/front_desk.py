"""Front desk screens (DOMAIN.md flow 1; issue 7): the intake interview as a guided form in steps
(household -> persons -> consents -> review), saved as an intake draft after every step (intake's
/intake-drafts API) and resumable from a list; the API's 422 answers shown at the field; after
completion each person's routes and registration status (ABRA gate) and a summary for the newcomer,
as an HTML print view and as a one-page PDF to download (services/web/summary_pdf.py). The list of
drafts comes from intake (GET /intake-drafts): the clerk's own open drafts, the team's open drafts (a
household that comes back the next day meets another clerk at the counter, who resumes and completes a
colleague's draft) and the clerk's recently completed ones."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.contracts.workdays import BERLIN
from services.kit.auth import Role
from services.web import summary_pdf as summary_document
from services.web.api import common, person_search
from services.web.api.common import ApiRefused, Errors, checked, errors_of, uuid_or_gone
from services.web.api.routes import Gone, backend, form_of, page, render, see_other
from services.web.sessions import Session

router = APIRouter()
FRONT = (Role.FRONT_DESK.value,)
Front = Annotated[Session, Depends(page(*FRONT))]
TEAM_LIST_LIMIT = 200  # open drafts of the whole front desk shown at once (the API's maximum page)
COMPLETED_SHOWN_DAYS = 30  # the clerk's completed drafts stay on the list for 30 days


@dataclass(frozen=True)
class F:
    name: str
    label: str
    kind: str = "text"  # text | date | number | select | checkbox
    options: dict[str, str] | None = None
    hint: str = ""
    optional: bool = False
    autocomplete: str = "off"


ADDRESS_FIELDS = (
    F("district", "Sozialraum", hint="Sozialraum der Wohnadresse, z. B. Westen"),
    F("street", "Straße", optional=True),
    F("house_number", "Hausnummer", optional=True),
    F("postcode", "Postleitzahl", hint="5 Ziffern", optional=True),
    F("city", "Ort", optional=True),
)
PERSON_FIELDS = (
    F("given_name", "Vorname"),
    F("family_name", "Familienname"),
    F("date_of_birth", "Geburtsdatum", "date"),
    F("sex", "Geschlecht", "select", common.SEX),
    F("relation", "Stellung im Haushalt", "select", common.RELATION),
    F("nationality", "Staatsangehörigkeit", hint="Ländercode nach ISO 3166, z. B. BG, RO, SY"),
    F("languages", "Sprachen", hint="Sprachcodes durch Komma getrennt, z. B. bg, tr", optional=True),
    F("german_level", "Deutschkenntnisse", "select", common.GERMAN_LEVEL),
    F("literate", "Kann lesen und schreiben", "checkbox"),
    F("schooling_years", "Schulbesuch in Jahren", "number"),
    F("highest_certificate", "Höchster Schulabschluss", "select", common.CERTIFICATE),
    F("vocational_qualification", "Berufsausbildung", optional=True, hint="falls vorhanden"),
    F("work_experience_years", "Berufserfahrung in Jahren", "number"),
    F("able_to_work", "Erwerbsfähig (mindestens 3 Stunden täglich)", "checkbox"),
    F("health_insurance", "Krankenversicherung", "select", common.HEALTH_INSURANCE),
    F("residence_status", "Aufenthaltsstatus", "select", common.RESIDENCE),
    F("status_since", "Status seit", "date", optional=True, hint="nur bei Duldung erforderlich"),
    F("move_in_date", "Zuzugsdatum", "date"),
    F("wants_registration", "Meldet den Wohnsitz hier an", "checkbox"),
)
KNOWN = tuple(f.name for f in PERSON_FIELDS)
STEPS = (("haushalt", "Haushalt und Adresse"), ("personen", "Personen"), ("einwilligungen", "Einwilligungen"), ("pruefen", "Prüfen und abschließen"))


def today() -> date:
    return datetime.now(BERLIN).date()


# ---- form <-> draft content ---------------------------------------------------------------------


def _value(f: F, form: dict[str, str]) -> Any:
    raw = form.get(f.name, "").strip()
    if f.kind == "checkbox":
        return f.name in form
    if f.name == "languages":
        return [{"code": c.strip()} for c in raw.split(",") if c.strip()]
    if raw == "":
        return None
    if f.kind == "number":
        return int(raw) if raw.isdigit() else raw  # the API names a non-number
    return raw


def person_from(form: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in PERSON_FIELDS:
        v = _value(f, form)
        if v is not None:
            out[f.name] = v
    return out


def person_values(p: dict[str, Any]) -> dict[str, Any]:
    values = dict(p)
    values["languages"] = ", ".join(lang.get("code", "") for lang in p.get("languages", []))
    return values


def household_of(content: dict[str, Any]) -> dict[str, Any]:
    return content.setdefault("household", {"district": "", "persons": []})


def address_values(content: dict[str, Any]) -> dict[str, str]:
    h = household_of(content)
    a = h.get("address") or {}
    return {"district": h.get("district", ""), **{k: a.get(k, "") for k in ("street", "house_number", "postcode", "city")}}


def apply_address(content: dict[str, Any], form: dict[str, str]) -> None:
    h = household_of(content)
    h["district"] = form.get("district", "").strip()
    parts = {k: form.get(k, "").strip() for k in ("street", "house_number", "postcode", "city")}
    if any(parts.values()):
        h["address"] = {k: v for k, v in parts.items() if v}
    else:
        h.pop("address", None)
    if not h["district"]:
        h.pop("district")


# ---- API access -----------------------------------------------------------------------------------


async def load(request: Request, s: Session, draft_id: str) -> dict[str, Any]:
    body = checked(await backend(request).call(s, "intake", "GET", f"/intake-drafts/{uuid_or_gone(draft_id)}"))
    return body


async def save(request: Request, s: Session, draft_id: str | None, content: dict[str, Any]) -> str:
    api = backend(request)
    if draft_id is None:
        body = checked(await api.call(s, "intake", "POST", "/intake-drafts", json={"content": content}), 201)
    else:
        body = checked(await api.call(s, "intake", "PUT", f"/intake-drafts/{draft_id}", json={"content": content}))
    return str(body["draft_id"])


def step_context(draft_id: str | None, current: str, errors: dict[str, str] | None = None, summary: list[Any] | None = None) -> dict[str, Any]:
    return {"draft_id": draft_id, "steps": STEPS, "current": current, "errors": errors or {}, "summary": summary or []}


# ---- list and household step --------------------------------------------------------------------


def _row(d: dict[str, Any]) -> dict[str, Any]:
    if not d["readable"]:
        names = "(Daten gelöscht)"
    elif d["completed_intake_id"]:
        names = f"{d['person_count']} Person{'en' if d['person_count'] != 1 else ''}" if d["person_count"] is not None else "–"
    else:
        names = ", ".join(d["names"]) or "(noch keine Personen)"
    return {**d, "id": d["draft_id"], "label": names}


@router.get("/erstgespraeche", response_class=HTMLResponse)
async def drafts(request: Request, s: Front) -> HTMLResponse:
    """The clerk's open drafts, the team's open drafts (started by colleagues) and the clerk's drafts
    completed in the last 30 days, each from intake's list (names are audit-logged there)."""
    api = backend(request)
    open_all = checked(await api.call(s, "intake", "GET", "/intake-drafts", params={"created_by": "all", "state": "open", "limit": TEAM_LIST_LIMIT}))
    since = (datetime.now(BERLIN) - timedelta(days=COMPLETED_SHOWN_DAYS)).isoformat()
    done = checked(await api.call(s, "intake", "GET", "/intake-drafts", params={"created_by": "me", "state": "completed", "updated_since": since, "limit": 50}))
    rows = [_row(d) for d in open_all["drafts"]]
    return render(request, "fd_drafts.html", own=[r for r in rows if r["created_by"] == s.username],
                  team=[r for r in rows if r["created_by"] != s.username], more=open_all["total"] - len(rows),
                  completed=[_row(d) for d in done["drafts"]])


@router.get("/erstgespraech/neu", response_class=HTMLResponse)
async def new_interview(request: Request, s: Front) -> HTMLResponse:
    return render(request, "fd_household.html", fields=ADDRESS_FIELDS, values={"city": "Hamm"}, action="/erstgespraech/neu", **step_context(None, "haushalt"))


@router.post("/erstgespraech/neu")
async def start_interview(request: Request, s: Front) -> Response:
    form = await form_of(request)
    content: dict[str, Any] = {"household": {"persons": []}}
    apply_address(content, form)
    draft_id = await save(request, s, None, content)
    s.flash = "Das Erstgespräch ist als Entwurf gespeichert."
    return see_other(f"/erstgespraech/{draft_id}/personen")


@router.get("/erstgespraech/{draft_id}/haushalt", response_class=HTMLResponse)
async def household_step(request: Request, draft_id: str, s: Front) -> HTMLResponse:
    d = await load(request, s, draft_id)
    return render(request, "fd_household.html", fields=ADDRESS_FIELDS, values=address_values(d["content"]),
                  action=f"/erstgespraech/{draft_id}/haushalt", **step_context(draft_id, "haushalt"))


@router.post("/erstgespraech/{draft_id}/haushalt")
async def save_household(request: Request, draft_id: str, s: Front) -> Response:
    form = await form_of(request)
    d = await load(request, s, draft_id)
    apply_address(d["content"], form)
    await save(request, s, draft_id, d["content"])
    return see_other(f"/erstgespraech/{draft_id}/personen")


# ---- persons --------------------------------------------------------------------------------------


@router.get("/erstgespraech/{draft_id}/personen", response_class=HTMLResponse)
async def persons_step(request: Request, draft_id: str, s: Front) -> HTMLResponse:
    d = await load(request, s, draft_id)
    return render(request, "fd_persons.html", persons=household_of(d["content"]).get("persons", []), labels=common,
                  **step_context(draft_id, "personen"))


@router.get("/erstgespraech/{draft_id}/person/{index}", response_class=HTMLResponse)
async def person_form(request: Request, draft_id: str, index: str, s: Front) -> HTMLResponse:
    d = await load(request, s, draft_id)
    persons = household_of(d["content"]).get("persons", [])
    if index == "neu":
        first = persons[0] if persons else {}
        values: dict[str, Any] = {"literate": True, "able_to_work": True, "wants_registration": True, "move_in_date": first.get("move_in_date", today().isoformat()),
                                  "family_name": first.get("family_name", ""), "nationality": first.get("nationality", ""),
                                  "residence_status": first.get("residence_status", ""), "schooling_years": 0, "work_experience_years": 0}
        if persons:
            values["languages"] = ", ".join(lang.get("code", "") for lang in first.get("languages", []))
    else:
        n = _index(index, persons)
        values = person_values(persons[n])
    return render(request, "fd_person.html", fields=PERSON_FIELDS, values=values, index=index, **step_context(draft_id, "personen"))


def _index(index: str, persons: list[Any]) -> int:
    if not index.isdigit() or int(index) >= len(persons):
        raise Gone()
    return int(index)


@router.post("/erstgespraech/{draft_id}/person/{index}")
async def save_person(request: Request, draft_id: str, index: str, s: Front) -> Response:
    form = await form_of(request)
    d = await load(request, s, draft_id)
    persons = household_of(d["content"]).setdefault("persons", [])
    person = person_from(form)
    if index == "neu":
        person["consents"] = []
        persons.append(person)
        s.flash = "Die Person ist hinzugefügt."
    else:
        n = _index(index, persons)
        person["consents"] = persons[n].get("consents", [])
        persons[n] = person
        s.flash = "Die Angaben zur Person sind gespeichert."
    await save(request, s, draft_id, d["content"])
    return see_other(f"/erstgespraech/{draft_id}/personen")


@router.post("/erstgespraech/{draft_id}/person/{index}/entfernen")
async def remove_person(request: Request, draft_id: str, index: str, s: Front) -> Response:
    await form_of(request)
    d = await load(request, s, draft_id)
    persons = household_of(d["content"]).setdefault("persons", [])
    persons.pop(_index(index, persons))
    await save(request, s, draft_id, d["content"])
    s.flash = "Die Person ist entfernt."
    return see_other(f"/erstgespraech/{draft_id}/personen")


# ---- consents -------------------------------------------------------------------------------------


@router.get("/erstgespraech/{draft_id}/einwilligungen", response_class=HTMLResponse)
async def consents_step(request: Request, draft_id: str, s: Front) -> HTMLResponse:
    d = await load(request, s, draft_id)
    return _consents_page(request, draft_id, d["content"], Errors())


def _consents_page(request: Request, draft_id: str, content: dict[str, Any], errors: Errors, status: int = 200) -> HTMLResponse:
    persons = household_of(content).get("persons", [])
    given = {i: {f"{c['partner']}:{c['purpose']}" for c in p.get("consents", []) if isinstance(c, dict) and "partner" in c and "purpose" in c} for i, p in enumerate(persons)}
    on = next((c.get("given_on") for p in persons for c in p.get("consents", []) if isinstance(c, dict) and c.get("given_on")), today().isoformat())
    per_person = {i: errors.at("einwilligungen", i) for i in range(len(persons))}
    return render(request, "fd_consents.html", status, persons=persons, given=given, given_on=on, consents=common.CONSENTS,
                  person_errors=per_person, **step_context(draft_id, "einwilligungen", summary=errors.items))


@router.post("/erstgespraech/{draft_id}/einwilligungen")
async def save_consents(request: Request, draft_id: str, s: Front) -> Response:
    form = await request.form()
    await form_of(request)
    d = await load(request, s, draft_id)
    persons = household_of(d["content"]).get("persons", [])
    on = str(form.get("given_on", "")).strip() or today().isoformat()
    for i, p in enumerate(persons):
        chosen = [str(v) for v in form.getlist(f"consent-{i}") if str(v) in common.CONSENTS]
        p["consents"] = [{"partner": c.split(":")[0], "purpose": c.split(":")[1], "given_on": on} for c in chosen]
    await save(request, s, draft_id, d["content"])
    return see_other(f"/erstgespraech/{draft_id}/pruefen")


# ---- review and completion ------------------------------------------------------------------------


@router.get("/erstgespraech/{draft_id}/pruefen", response_class=HTMLResponse)
async def review_step(request: Request, draft_id: str, s: Front) -> Response:
    d = await load(request, s, draft_id)
    if d.get("completed_intake_id"):
        return see_other(f"/haushalt/{d['completed_intake_id']}")
    known = await person_search.known_households(request, s, household_of(d["content"]).get("persons", []))
    return _review_page(request, draft_id, d["content"], Errors(), known=known)


def _review_page(request: Request, draft_id: str, content: dict[str, Any], errors: Errors, status: int = 200,
                 known: list[dict[str, Any]] | None = None, warned: bool = False) -> HTMLResponse:
    """The review step; `known` are households intake already knows with a likely match (issue 14): the
    page warns, links to them and completes only on an explicit "neuer Haushalt" (`warned`: the clerk
    pressed the plain completion and is sent back to the warning)."""
    h = household_of(content)
    return render(request, "fd_review.html", status, household=h, address=address_values(content), persons=h.get("persons", []), labels=common,
                  fields=PERSON_FIELDS, general=errors.at("pruefen").get("_"), known=known or [], warned=warned,
                  **step_context(draft_id, "pruefen", summary=errors.items))


@router.post("/erstgespraech/{draft_id}/abschliessen")
async def complete(request: Request, draft_id: str, s: Front) -> Response:
    """Completes the draft; unless the clerk confirmed a new household (`neuer_haushalt`), checks first
    whether intake knows one of its persons already and then shows the warning instead (409)."""
    form = await form_of(request)
    d = await load(request, s, draft_id)
    if form.get("neuer_haushalt") != "ja" and not d.get("completed_intake_id"):
        known = await person_search.known_households(request, s, household_of(d["content"]).get("persons", []))
        if known:
            return _review_page(request, draft_id, d["content"], Errors(), 409, known=known, warned=True)
    answer = await backend(request).call(s, "intake", "POST", f"/intake-drafts/{uuid_or_gone(draft_id)}/complete")
    if answer.status in (200, 201):
        s.flash = "Das Erstgespräch ist abgeschlossen."
        return see_other(f"/haushalt/{answer.body['intake_id']}")
    if answer.status not in (409, 422):
        checked(answer, 201)
    errors = errors_of(answer.body, KNOWN)
    first = errors.items[0]
    content = d["content"]
    if first.step == "haushalt":
        return render(request, "fd_household.html", 422, fields=ADDRESS_FIELDS, values=address_values(content),
                      action=f"/erstgespraech/{draft_id}/haushalt", **step_context(draft_id, "haushalt", errors.at("haushalt"), errors.items))
    if first.step == "person" and first.person is not None and first.person < len(household_of(content).get("persons", [])):
        p = household_of(content)["persons"][first.person]
        return render(request, "fd_person.html", 422, fields=PERSON_FIELDS, values=person_values(p), index=str(first.person),
                      **step_context(draft_id, "personen", errors.at("person", first.person), errors.items))
    if first.step == "einwilligungen":
        return _consents_page(request, draft_id, content, errors, 422)
    if first.step == "personen":
        return render(request, "fd_persons.html", 422, persons=household_of(content).get("persons", []), labels=common,
                      general=first.message, **step_context(draft_id, "personen", summary=errors.items))
    return _review_page(request, draft_id, content, errors, 422)


# ---- after completion: routes, registration status, summary ----------------------------------------


async def household_view(request: Request, s: Session, intake_id: str) -> dict[str, Any]:
    api = backend(request)
    intake = checked(await api.call(s, "intake", "GET", f"/intakes/{uuid_or_gone(intake_id)}"))
    status = checked(await api.call(s, "intake", "GET", f"/households/{intake['household_id']}/registration-status"))
    by_person = {p["person_id"]: p for p in status["persons"]}
    persons = []
    for p in intake["persons"]:
        reg = by_person.get(p["person_id"], {})
        persons.append({**p, "registration": reg, "routes": (p.get("derived") or {}).get("routes", [])})
    appointments = [p["registration"].get("appointment_at") for p in persons if p["registration"].get("appointment_at")]
    clearing = any("abra_clearing" in p["routes"] for p in persons)
    casework = any("casework" in p["routes"] for p in persons)
    return {"intake": intake, "persons": persons, "appointment": min(appointments) if appointments else None,
            "clearing": clearing, "casework": casework, "labels": common}


@router.get("/haushalt/{intake_id}", response_class=HTMLResponse)
async def household_result(request: Request, intake_id: str, s: Front) -> HTMLResponse:
    return render(request, "fd_household_result.html", **await household_view(request, s, intake_id))


@router.get("/haushalt/{intake_id}/zusammenfassung", response_class=HTMLResponse)
async def summary(request: Request, intake_id: str, s: Front) -> HTMLResponse:
    return render(request, "fd_summary.html", printed_on=today(), **await household_view(request, s, intake_id))


@router.get("/haushalt/{intake_id}/zusammenfassung.pdf", response_class=Response)
async def summary_pdf(request: Request, intake_id: str, s: Front) -> Response:
    """The same summary as a one-page A4 PDF to hand over, print or e-mail (issue 7)."""
    view = await household_view(request, s, intake_id)
    pdf = await asyncio.to_thread(summary_document.render, view, today())
    filename = f"ankommen-zusammenfassung-{view['intake']['intake_id']}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def install(app: Any) -> None:
    async def refused(request: Request, exc: ApiRefused) -> Response:
        return render(request, "error.html", 409, title="Nicht möglich",
                      message=f"Der Dienst hat die Aktion abgelehnt: {common.german_message(str(exc.answer.body.get('detail') if isinstance(exc.answer.body, dict) else exc.answer.body))}")

    app.add_exception_handler(ApiRefused, refused)
