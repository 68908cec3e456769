"""Integration Point advisor screens (DOMAIN.md flow 4; 000 "Integration Point"): incoming
referrals from social casework (pseudonymous: case and person ids) and their steps -
acknowledge, book the first appointment, profiling, offer a measure, placement in training or
employment, decline, no-show - through casework's /referrals API. The step order and deadlines are
casework's workflow rules; its refusals are shown in German."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

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


@router.get("/ueberleitungen/{referral_id}", response_class=HTMLResponse)
async def referral(request: Request, referral_id: str, s: Advisor) -> HTMLResponse:
    r = checked(await backend(request).call(s, "casework", "GET", f"/referrals/{uuid_or_gone(referral_id)}"))
    return render(request, "ip_referral.html", r=r, today=date.today().isoformat(), **LABELS)


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
