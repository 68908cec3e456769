"""Front desk interview, the last steps (DOMAIN.md flow 1; issue 14): consents (once for the whole
household, or per person), the review of the whole draft and completing it as an intake. The first
steps (household, persons) and the list of drafts are in front_desk.py."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.contracts import codes
from services.web.api import common, person_search
from services.web.api.common import Errors, checked, errors_of, uuid_or_gone
from services.web.api.front_desk import (
    KNOWN,
    PERSON_FIELDS,
    Front,
    Refused,
    address_values,
    household_of,
    household_page,
    load,
    person_page,
    person_values,
    save,
    step_context,
    today,
)
from services.web.api.routes import backend, form_of, render, see_other

router = APIRouter()


@router.get("/erstgespraech/{draft_id}/einwilligungen", response_class=HTMLResponse)
async def consents_step(request: Request, draft_id: str, s: Front) -> HTMLResponse:
    d = await load(request, s, draft_id)
    return _consents_page(request, draft_id, d["content"], Errors())


def _consents_page(request: Request, draft_id: str, content: dict[str, Any], errors: Errors, status: int = 200) -> HTMLResponse:
    persons = household_of(content).get("persons", [])
    given = {i: {f"{c['partner']}:{c['purpose']}" for c in p.get("consents", []) if isinstance(c, dict) and "partner" in c and "purpose" in c}
             for i, p in enumerate(persons)}
    on = next((c.get("given_on") for p in persons for c in p.get("consents", []) if isinstance(c, dict) and c.get("given_on")), today().isoformat())
    per_person = {i: errors.at("einwilligungen", i) for i in range(len(persons))}
    everyone = set.intersection(*given.values()) if len(given) > 1 else set()
    minors = {i for i, p in enumerate(persons) if _minor(p)}
    referred = bool(household_of(content).get("referred_to_youth_welfare"))
    return render(request, "fd_consents.html", status, persons=persons, given=given, everyone=everyone, given_on=on, consents=common.CONSENTS,
                  minors=minors, referred=referred, person_errors=per_person, **step_context(draft_id, "einwilligungen", summary=errors.items))


def _minor(p: dict[str, Any]) -> bool:
    """Under 18 today, for the consent page's note on who consents (the guardian); unknown: no note."""
    try:
        born = date.fromisoformat(str(p.get("date_of_birth")))
    except ValueError:
        return False
    t = today()
    return t.year - born.year - ((t.month, t.day) < (born.month, born.day)) < 18


@router.post("/erstgespraech/{draft_id}/einwilligungen")
async def save_consents(request: Request, draft_id: str, s: Front) -> Response:
    """A consent ticked for the whole household applies to every person, besides what is ticked per person."""
    form = await request.form()
    await form_of(request)
    d = await load(request, s, draft_id)
    persons = household_of(d["content"]).get("persons", [])
    on = str(form.get("given_on", "")).strip() or today().isoformat()
    household = [str(v) for v in form.getlist("consent-haushalt") if str(v) in common.CONSENTS]
    for i, p in enumerate(persons):
        chosen = household + [str(v) for v in form.getlist(f"consent-{i}") if str(v) in common.CONSENTS and str(v) not in household]
        p["consents"] = [{"partner": c.split(":")[0], "purpose": c.split(":")[1], "given_on": on} for c in chosen]
    try:
        await save(request, s, draft_id, d["content"])
    except Refused as refused:
        return _consents_page(request, draft_id, d["content"], refused.errors, 422)
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
                  fields=PERSON_FIELDS, nationalities=codes.nationalities_de(), languages=codes.languages_de(), general=errors.at("pruefen").get("_"),
                  known=known or [], warned=warned,
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
        return household_page(request, draft_id, address_values(content), errors, local=False)
    if first.step == "person" and first.person is not None and first.person < len(household_of(content).get("persons", [])):
        p = household_of(content)["persons"][first.person]
        return person_page(request, draft_id, str(first.person), person_values(p), errors, at=first.person, local=False)
    if first.step == "einwilligungen":
        return _consents_page(request, draft_id, content, errors, 422)
    if first.step == "personen":
        return render(request, "fd_persons.html", 422, persons=household_of(content).get("persons", []), labels=common,
                      general=first.message, **step_context(draft_id, "personen", summary=errors.items))
    return _review_page(request, draft_id, content, errors, 422)
