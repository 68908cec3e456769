"""Integration Point advisor screens (DOMAIN.md flow 4; 000 "Integration Point"): incoming
referrals from social casework (pseudonymous: case and person ids) and their steps -
acknowledge, book the first appointment, profiling, offer a measure, placement in training or
employment, decline, no-show - through casework's /referrals API. The step order and deadlines are
casework's workflow rules; its refusals are shown in German.

The handover (000 "Projekt Integration Point"): with the person's consent to the data exchange with
the Integration Point, the referral page shows what the advisor needs to act - name, date of birth,
address and languages from intake (`/referrals/{id}/person`, which checks the consent itself), the
caseworker's note and, after a change of legal regime (SGB III -> SGB II), the counselling history
from casework (`/referrals/{id}/handover`). Both are asked with the advisor's own token, and both
services audit-log the read. Without the consent: ids only."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from babel import Locale
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.kit.auth import Role
from services.web.api.casework import MEASURES, PARTNERS
from services.web.api.common import checked, german_message, uuid_or_gone
from services.web.api.routes import Gone, backend, form_of, page, render, see_other
from services.web.sessions import Session

router = APIRouter()
Advisor = Annotated[Session, Depends(page(Role.IP_ADVISOR.value))]
STATUS = {"open": "offen", "closed": "abgeschlossen", "cancelled": "storniert"}
IP_MEASURES = {k: v for k, v in MEASURES.items() if k != "integration_course"}
OUTCOMES = {
    "placed_training": "in Ausbildung vermittelt", "placed_employment": "in Arbeit vermittelt", "declined": "abgelehnt",
    "consent_withdrawn": "Einwilligung widerrufen", "regime_changed": "Rechtskreis gewechselt",
}
#: form action -> (casework path, German confirmation)
STEPS = {
    "eingang": ("acknowledge", "Der Eingang ist bestätigt."),
    "termin": ("appointment", "Der Ersttermin ist gebucht."),
    "profiling": ("profiling", "Das Profiling ist erfasst."),
    "massnahme": ("measure", "Die Maßnahme ist angeboten."),
    "vermittlung": ("placement", "Die Vermittlung ist erfasst."),
    "ablehnen": ("decline", "Die Überleitung ist abgelehnt."),
    "nicht-erschienen": ("no-show", "Nicht erschienen ist erfasst."),
}
LABELS = {"statuses": STATUS, "measures": IP_MEASURES, "outcomes": OUTCOMES, "partners": PARTNERS}


@router.get("/ueberleitungen", response_class=HTMLResponse)
async def incoming(request: Request, s: Advisor, status: str = "open") -> HTMLResponse:
    status = status if status in STATUS else "open"
    items = checked(await backend(request).call(s, "casework", "GET", "/referrals", params={"status": status, "limit": 1000}))
    return render(request, "ip_referrals.html", referrals=items, filter=status, **LABELS)


_GERMAN = Locale("de")
HISTORY_STEPS = {
    "acknowledged": "Eingang bestätigt", "appointment_booked": "Ersttermin gebucht", "profiled": "Profiling", "measure_offered": "Maßnahme angeboten",
    "no_show": "nicht erschienen", "handed_over": "an das Jobcenter übergeben (Rechtskreiswechsel)",
}


def language_name(code: str) -> str:
    return _GERMAN.languages.get(code, code)


@router.get("/ueberleitungen/{referral_id}", response_class=HTMLResponse)
async def referral(request: Request, referral_id: str, s: Advisor) -> HTMLResponse:
    rid = uuid_or_gone(referral_id)
    api = backend(request)
    handover = checked(await api.call(s, "casework", "GET", f"/referrals/{rid}/handover"))
    person: dict[str, Any] | None = None
    if handover["consent"]:
        answer = await api.call(s, "intake", "GET", f"/referrals/{rid}/person")
        person = answer.body if answer.status == 200 and answer.body.get("consent") else None
    languages = [f"{language_name(x['code'])}{' (' + x['level'] + ')' if x.get('level') else ''}" for x in (person or {}).get("languages") or []]
    return render(request, "ip_referral.html", r=handover["referral"], handover=handover, person=person, languages=languages,
                  history_steps=HISTORY_STEPS, today=date.today().isoformat(), **LABELS)


def _refusal(body: Any) -> str:
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):
        detail = "; ".join(str(d.get("msg", "")) for d in detail)
    text = str(detail)
    if "nothing is open" in text or "no longer open" in text:
        return "Nicht möglich: Die Überleitung ist abgeschlossen."
    if "acknowledge" in text and "first" in text:
        return "Nicht möglich: Bitte zuerst den Eingang bestätigen."
    if "appointment date is required" in text:
        return "Bitte das Datum des Ersttermins angeben."
    if "measure must be one of" in text:
        return "Bitte eine Maßnahme wählen."
    return f"Nicht möglich: {german_message(text)}"


@router.post("/ueberleitungen/{referral_id}/{step}")
async def record_step(request: Request, referral_id: str, step: str, s: Advisor) -> Response:
    form = await form_of(request)
    if step not in STEPS:
        raise Gone()
    rid = uuid_or_gone(referral_id)
    path, done = STEPS[step]
    body: dict[str, Any] | None = None
    if step == "termin":
        body = {"on": form.get("datum") or None}
    elif step == "massnahme":
        body = {"measure": form.get("massnahme") or None}
    elif step == "vermittlung":
        body = {"kind": form.get("art", "")}
    answer = await backend(request).call(s, "casework", "POST", f"/referrals/{rid}/{path}", json=body)
    if answer.status == 200:
        s.flash = done
    elif answer.status in (409, 422):
        s.flash = _refusal(answer.body)
    else:
        checked(answer)
    return see_other(f"/ueberleitungen/{rid}")
