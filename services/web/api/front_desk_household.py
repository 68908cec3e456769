"""Front desk screens after an intake is complete (DOMAIN.md flow 1; issues 7, 14): each person's routes
and registration status (the ABRA gate), recording a registration of residence, the newcomer's summary
and ABRA invitation in their language as HTML print views and PDFs, the letter language and the
e-mail reminder contacts. The interview steps themselves are in front_desk.py."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.kit import i18n
from services.web import newcomer
from services.web import summary_pdf as summary_document
from services.web.api import common
from services.web.api.common import checked, uuid_or_gone
from services.web.api.front_desk import Front, today
from services.web.api.routes import Gone, backend, form_of, render, see_other
from services.web.sessions import Session

router = APIRouter()


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
            "clearing": clearing, "casework": casework, "labels": common, "today": today().isoformat(), "reg_errors": {}, "reg_values": {}}


@router.get("/haushalt/{intake_id}", response_class=HTMLResponse)
async def household_result(request: Request, intake_id: str, s: Front) -> HTMLResponse:
    return render(request, "fd_household_result.html", **await household_view(request, s, intake_id))


# ---- the newcomer's documents in their language (issue 14) ---------------------------------------

#: where the language picker may send the clerk back to (the two print views)
PRINT_VIEWS = ("zusammenfassung", "abra-einladung")
LANGUAGE_CHOICES = [(code, own, i18n.GERMAN_NAMES[code]) for code, own in i18n.LANGUAGES.items()]


async def communication(request: Request, s: Session, household_id: str) -> dict[str, Any]:
    """The household's letter language, the ABRA place and the reminder contacts (intake)."""
    return checked(await backend(request).call(s, "intake", "GET", f"/households/{household_id}/communication"))


async def print_view(request: Request, s: Session, intake_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    view = await household_view(request, s, intake_id)
    return view, await communication(request, s, view["intake"]["household_id"])

def _registration_error(answer: Any) -> str:
    """The intake API's refusal of a registration, in German for the field."""
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
    msg = str(detail[0].get("msg", "")) if isinstance(detail, list) and detail else str(detail)
    if "future" in msg:
        return "Das Datum darf nicht in der Zukunft liegen."
    if m := re.search(r"before the move-in date (\d{4}-\d{2}-\d{2})", msg):
        return f"Das Datum liegt vor dem Zuzug am {common.de_date(m.group(1))}."
    if m := re.search(r"before the ABRA clearing completed on (\d{4}-\d{2}-\d{2})", msg):
        return f"Das Datum liegt vor dem Abschluss des ABRA-Clearings am {common.de_date(m.group(1))}."
    if "waits for the ABRA clearing" in msg:
        return "Die Anmeldung ist erst nach dem abgeschlossenen ABRA-Clearing möglich."
    if m := re.search(r"registration on (\d{4}-\d{2}-\d{2}) is recorded", msg):
        return f"Für diese Person ist bereits eine Anmeldung am {common.de_date(m.group(1))} erfasst."
    if "valid date" in msg or "date" in msg.lower():
        return "Bitte ein gültiges Datum angeben."
    return common.german_message(msg)


@router.post("/haushalt/{intake_id}/anmeldung/{person_id}", response_class=HTMLResponse)
async def record_registration(request: Request, intake_id: str, person_id: str, s: Front) -> Response:
    """The front desk records that a person's registration of residence was done (intake's
    POST /persons/{id}/registration); a refusal is shown at the person's date field with a summary."""
    form = await form_of(request)
    pid = uuid_or_gone(person_id)
    value = form.get("registered_on", "").strip()
    answer = await backend(request).call(s, "intake", "POST", f"/persons/{pid}/registration", json={"registered_on": value or None})
    if answer.status in (200, 201):
        s.flash = f"Die Anmeldung am {common.de_date(answer.body['registered_on'])} ist erfasst."
        return see_other(f"/haushalt/{uuid_or_gone(intake_id)}#anmeldungen")
    if answer.status not in (409, 422):
        checked(answer, 201)
    view = await household_view(request, s, intake_id)
    message = "Bitte das Datum der Anmeldung angeben." if not value else _registration_error(answer)
    view.update(reg_errors={str(pid): message}, reg_values={str(pid): value})
    return render(request, "fd_household_result.html", 422, **view)


@router.get("/haushalt/{intake_id}/zusammenfassung", response_class=HTMLResponse)
async def summary(request: Request, intake_id: str, s: Front) -> HTMLResponse:
    view, comm = await print_view(request, s, intake_id)
    return render(request, "fd_summary.html", m=newcomer.summary(view, comm["language"], today()), intake=view["intake"],
                  office=newcomer.OFFICE, languages=LANGUAGE_CHOICES)


@router.get("/haushalt/{intake_id}/zusammenfassung.pdf", response_class=Response)
async def summary_pdf(request: Request, intake_id: str, s: Front) -> Response:
    """The same summary as a one-page A4 PDF to hand over, print or e-mail (issue 7), in the household's language."""
    view, comm = await print_view(request, s, intake_id)
    pdf = await asyncio.to_thread(summary_document.render, view, today(), comm["language"])
    filename = f"ankommen-zusammenfassung-{view['intake']['intake_id']}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _contacts(view: dict[str, Any], comm: dict[str, Any]) -> list[dict[str, Any]]:
    """The persons with a booked ABRA appointment and their reminder contact, for the clerk's form."""
    by_person = {c["person_id"]: c for c in comm["persons"]}
    out = []
    for p in view["persons"]:
        reg = p.get("registration") or {}
        if reg.get("clearing_status") == "pending" and reg.get("appointment_at"):
            c = by_person.get(p["person_id"], {})
            out.append({"person_id": p["person_id"], "name": newcomer.name_of(p), "email": c.get("email"),
                        "reminders_by_email": bool(c.get("reminders_by_email"))})
    return out


def _letter_page(request: Request, view: dict[str, Any], comm: dict[str, Any], status: int = 200,
                 errors: dict[str, dict[str, str]] | None = None, summary: list[tuple[str, str]] | None = None,
                 entered: dict[str, str] | None = None) -> HTMLResponse:
    contacts = _contacts(view, comm)
    for c in contacts:
        if entered and c["person_id"] == entered.get("person_id"):
            c["email"] = entered.get("email")
    reminders = frozenset(c["person_id"] for c in contacts if c["reminders_by_email"])
    m = newcomer.letter(view, comm["abra_place"], comm["language"], today(), reminders)
    return render(request, "fd_letter.html", status, m=m, intake=view["intake"], office=newcomer.OFFICE, languages=LANGUAGE_CHOICES,
                  contacts=contacts, errors=errors or {}, summary=summary or [])


@router.get("/haushalt/{intake_id}/abra-einladung", response_class=HTMLResponse)
async def abra_letter(request: Request, intake_id: str, s: Front) -> HTMLResponse:
    """The invitation to the ABRA clearing appointment (date, time, place, what to bring) as a print view."""
    view, comm = await print_view(request, s, intake_id)
    return _letter_page(request, view, comm)


@router.get("/haushalt/{intake_id}/abra-einladung.pdf", response_class=Response)
async def abra_letter_pdf(request: Request, intake_id: str, s: Front) -> Response:
    view, comm = await print_view(request, s, intake_id)
    reminders = frozenset(c["person_id"] for c in _contacts(view, comm) if c["reminders_by_email"])
    pdf = await asyncio.to_thread(summary_document.render_letter, view, comm["abra_place"], today(), comm["language"], reminders)
    filename = f"ankommen-abra-einladung-{view['intake']['intake_id']}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/haushalt/{intake_id}/sprache", response_class=Response)
async def choose_language(request: Request, intake_id: str, s: Front) -> Response:
    """The newcomer's language for the household's letters, remembered by intake."""
    form = await form_of(request)
    back = form.get("weiter") if form.get("weiter") in PRINT_VIEWS else "zusammenfassung"
    view = await household_view(request, s, intake_id)
    language = form.get("sprache", "")
    if language not in i18n.LANGUAGES:
        return render(request, "error.html", 422, title="Sprache nicht verfügbar",
                      message="Bitte eine Sprache aus der Liste wählen.")
    checked(await backend(request).call(s, "intake", "PUT", f"/households/{view['intake']['household_id']}/letter-language", json={"language": language}))
    return see_other(f"/haushalt/{view['intake']['intake_id']}/{back}")


@router.post("/haushalt/{intake_id}/erinnerung", response_class=Response)
async def reminder_contact(request: Request, intake_id: str, s: Front) -> Response:
    """The newcomer's e-mail address for the appointment reminder and their consent (intake keeps both;
    without consent no address is kept)."""
    form = await form_of(request)
    view, comm = await print_view(request, s, intake_id)
    person_id = form.get("person_id", "")
    if person_id not in {c["person_id"] for c in _contacts(view, comm)}:
        raise Gone()
    email = form.get("email", "").strip()
    consent = form.get("einwilligung") == "ja"
    answer = await backend(request).call(s, "intake", "PUT", f"/persons/{person_id}/reminder-contact",
                                         json={"email": email or None, "consent": consent})
    if answer.status == 422:
        errors = _reminder_errors(answer.body, email, consent)
        index = [c["person_id"] for c in _contacts(view, comm)].index(person_id) + 1
        summary = [(f"email-{index}" if k == "email" else f"einwilligung-{index}", v) for k, v in errors.items()]
        return _letter_page(request, view, comm, 422, errors={person_id: errors}, summary=summary, entered={"person_id": person_id, "email": email})
    checked(answer)
    s.flash = "Erinnerung per E-Mail gespeichert." if consent else "Keine Erinnerung per E-Mail: die Adresse ist gelöscht."
    return see_other(f"/haushalt/{view['intake']['intake_id']}/abra-einladung")


def _reminder_errors(body: Any, email: str, consent: bool) -> dict[str, str]:
    """Intake's 422 on a reminder contact at the field it concerns, in German."""
    text = str(body)
    if "not a valid e-mail" in text:
        return {"email": "Bitte eine gültige E-Mail-Adresse angeben, z. B. name@example.org."}
    if "email is required" in text:
        return {"email": "Für eine Erinnerung per E-Mail bitte die Adresse angeben."}
    if "only with consent" in text:
        return {"consent": "Ohne Einwilligung wird keine Adresse gespeichert. Bitte die Einwilligung ankreuzen oder die Adresse leeren."}
    return {"email": common.german_message(text)}
