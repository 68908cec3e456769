"""ABRA coach screens (DOMAIN.md flow 2; 000 "Projekt ABRA"): the day calendar of clearing
appointments (published slots and the bookings on them), publishing slots, and per clearing:
attendance or no-show, the clearing interview (living situation, migration circumstances,
information given, needs found, long-term coaching recommendation) and closing with an outcome,
all through intake's clearing API."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.contracts.workdays import BERLIN
from services.kit.auth import Role
from services.web.api import common
from services.web.api.common import checked, german_message, uuid_or_gone
from services.web.api.routes import backend, form_of, page, render, see_other
from services.web.sessions import Session

router = APIRouter()
COACH = (Role.ABRA_COACH.value, Role.ABRA_LEAD.value)
Coach = Annotated[Session, Depends(page(*COACH))]
INTERVIEW_FIELDS = (
    ("living_situation", "Lebenssituation im Herkunftsland"),
    ("migration_circumstances", "Umstände der Zuwanderung"),
    ("information_given", "Gegebene Informationen (Anforderungen und Unterstützung)"),
    ("notes", "Weitere Notizen (freiwillig)"),
)
OUTCOMES = {"not_appeared": "nicht erschienen", "cancelled": "storniert"}


def _day(tag: str | None) -> date:
    if tag:
        try:
            return date.fromisoformat(tag)
        except ValueError:
            pass
    return datetime.now(BERLIN).date()


async def _calendar(request: Request, s: Session, day: date) -> dict[str, Any]:
    api = backend(request)
    start = datetime.combine(day, time(0), tzinfo=BERLIN)
    slots = checked(await api.call(s, "intake", "GET", "/abra/slots", params={"start": start.isoformat(), "days": 1}))
    window = {"appointment_from": start.isoformat(), "appointment_to": datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN).isoformat()}
    on_day = [c for c in checked(await api.call(s, "intake", "GET", "/clearings", params=window)) if c["status"] in ("pending", "cleared")]
    unbooked = checked(await api.call(s, "intake", "GET", "/clearings", params={"status": "pending", "booked": "false"}))
    appointments = []
    for c in sorted(on_day, key=lambda c: c["appointment_at"]):
        detail = await api.call(s, "intake", "GET", f"/clearings/{c['clearing_id']}")
        appointments.append(detail.body if detail.status == 200 else c)
    return {"statuses": common.CLEARING_STATUS, "day": day, "slots": slots, "appointments": appointments, "unbooked": unbooked,
            "prev": (day - timedelta(days=1)).isoformat(), "next": (day + timedelta(days=1)).isoformat()}


@router.get("/clearing/kalender", response_class=HTMLResponse)
async def calendar(request: Request, s: Coach, tag: str | None = None) -> HTMLResponse:
    day = _day(tag)
    return render(request, "abra_calendar.html", errors={}, values={"datum": day.isoformat(), "uhrzeiten": "09:00, 11:00, 13:00", "kapazitaet": "1"},
                  **await _calendar(request, s, day))


@router.post("/clearing/termine", response_class=HTMLResponse)
async def publish(request: Request, s: Coach) -> Response:
    form = await form_of(request)
    values = {k: form.get(k, "").strip() for k in ("datum", "uhrzeiten", "kapazitaet")}
    errors: dict[str, str] = {}
    try:
        day = date.fromisoformat(values["datum"])
    except ValueError:
        errors["datum"] = "Bitte ein gültiges Datum angeben."
        day = _day(None)
    times = [t.strip() for t in values["uhrzeiten"].split(",") if t.strip()]
    if not times:
        errors["uhrzeiten"] = "Bitte mindestens eine Uhrzeit angeben, z. B. 09:00."
    elif any(not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", t) for t in times):
        errors["uhrzeiten"] = "Uhrzeiten im Format HH:MM, durch Komma getrennt, z. B. 09:00, 11:30."
    if not values["kapazitaet"].isdigit():
        errors["kapazitaet"] = "Bitte eine ganze Zahl von 1 bis 20 angeben."
    if not errors:
        slots = [{"starts_at": datetime.combine(day, time.fromisoformat(t.zfill(5)), tzinfo=BERLIN).isoformat(),
                  "capacity": int(values["kapazitaet"])} for t in times]
        answer = await backend(request).call(s, "intake", "POST", "/abra/slots", json={"slots": slots})
        if answer.status == 201:
            s.flash = f"{len(slots)} Termin{'e' if len(slots) != 1 else ''} veröffentlicht."
            return see_other(f"/clearing/kalender?tag={day.isoformat()}")
        if answer.status == 422:
            for d in answer.body.get("detail", []):
                msg = d.get("msg", "")
                if "kein Arbeitstag" in msg or "Feiertag" in msg:  # intake's closed-day rule answers in German
                    errors["datum"] = f"Keine Termine an diesem Tag: {common.de_date(day)} {msg.split(' ', 1)[1]}."
                    continue
                name = "kapazitaet" if "capacity" in d.get("loc", []) else "uhrzeiten"
                errors[name] = german_message(msg)
        else:
            checked(answer, 201)
    return render(request, "abra_calendar.html", 422, errors=errors, values=values, **await _calendar(request, s, day))


async def _clearing(request: Request, s: Session, clearing_id: str) -> dict[str, Any]:
    return checked(await backend(request).call(s, "intake", "GET", f"/clearings/{uuid_or_gone(clearing_id)}"))


def _clearing_page(request: Request, c: dict[str, Any], errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                   status: int = 200) -> HTMLResponse:
    return render(request, "abra_clearing.html", status, c=c, fields=INTERVIEW_FIELDS, needs=common.NEEDS, outcomes=OUTCOMES,
                  statuses=common.CLEARING_STATUS, errors=errors or {}, values=values or {"needs_found": []})


@router.get("/clearing/{clearing_id}", response_class=HTMLResponse)
async def clearing_page(request: Request, clearing_id: str, s: Coach) -> HTMLResponse:
    return _clearing_page(request, await _clearing(request, s, clearing_id))


def _conflict(answer: Any) -> str:
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
    return f"Nicht möglich: {german_message(str(detail))}" if "closed" not in str(detail) else "Nicht möglich: das Clearing ist bereits geschlossen."


@router.post("/clearing/{clearing_id}/anwesenheit")
async def attendance(request: Request, clearing_id: str, s: Coach) -> Response:
    form = await form_of(request)
    cid = uuid_or_gone(clearing_id)
    attended = form.get("erschienen") == "ja"
    answer = await backend(request).call(s, "intake", "POST", f"/clearings/{cid}/attendance", json={"attended": attended})
    if answer.status == 409:
        s.flash = _conflict(answer)
    else:
        checked(answer)
        s.flash = "Anwesenheit erfasst." if attended else "Nicht erschienen erfasst; ein neuer Termin wird gebucht."
    return see_other(f"/clearing/{cid}")


@router.post("/clearing/{clearing_id}/gespraech", response_class=HTMLResponse)
async def interview(request: Request, clearing_id: str, s: Coach) -> Response:
    form = await request.form()
    await form_of(request)
    cid = uuid_or_gone(clearing_id)
    values: dict[str, Any] = {k: str(form.get(k, "")).strip() for k, _ in INTERVIEW_FIELDS}
    values["needs_found"] = [str(v) for v in form.getlist("needs_found")]
    values["long_term_coaching"] = form.get("long_term_coaching") == "ja"
    body = {**values, "notes": values["notes"] or None}
    answer = await backend(request).call(s, "intake", "POST", f"/clearings/{cid}/interview", json=body)
    if answer.status == 200:
        s.flash = "Das Clearinggespräch ist erfasst; die Anmeldung ist jetzt möglich."
        return see_other(f"/clearing/{cid}")
    if answer.status == 422:
        errors = {}
        for d in answer.body.get("detail", []) if isinstance(answer.body.get("detail"), list) else []:
            loc = [p for p in d.get("loc", []) if p != "body"]
            errors[str(loc[0]) if loc else "_"] = german_message(d.get("msg", ""))
        return _clearing_page(request, await _clearing(request, s, clearing_id), errors or {"_": german_message(str(answer.body))}, values, 422)
    if answer.status == 409:
        s.flash = _conflict(answer)
        return see_other(f"/clearing/{cid}")
    checked(answer)
    return see_other(f"/clearing/{cid}")


@router.post("/clearing/{clearing_id}/schliessen")
async def close(request: Request, clearing_id: str, s: Coach) -> Response:
    form = await form_of(request)
    cid = uuid_or_gone(clearing_id)
    outcome = form.get("ergebnis", "")
    if outcome not in OUTCOMES:
        s.flash = "Bitte ein Ergebnis wählen."
        return see_other(f"/clearing/{cid}")
    answer = await backend(request).call(s, "intake", "POST", f"/clearings/{cid}/close", json={"outcome": outcome})
    if answer.status == 409:
        s.flash = _conflict(answer)
    else:
        checked(answer)
        s.flash = f"Das Clearing ist geschlossen ({OUTCOMES[outcome]})."
    return see_other(f"/clearing/{cid}")
