"""Referral screens for partners other than the Integration Point (DOMAIN.md flow 4; issue 14).

Who records a partner's answer is the partner's rule (services.contracts.casework_workflows.
PARTNER_PROCESSES, `recorder`):
- partners whose staff sign in (language course providers, migration counselling; ABRA's coaches)
  answer on "Überleitungen an uns" (`/partner/ueberleitungen`, role referral_partner scoped by its
  `partner` claim, casework's /partner-referrals);
- for partners without access (Kita, school side-entry counselling, health office, women's
  counselling) the caseworker records their answer on the referral page of the case
  (`/faelle/{case}/ueberleitungen/{referral}`, casework's /cases/{id}/referrals/{id}/answers).
Both forms offer the partner's own steps only; casework's refusals are shown in German at the field.
Persons appear by pseudonymous id only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.contracts.casework_workflows import CASEWORKER, REFERRAL_PARTNER, partner_process
from services.contracts.workdays import BERLIN
from services.kit.auth import Role
from services.web.api.casework import PARTNERS, REFERRAL_STATUS, NotInCaseload
from services.web.api.common import ApiRefused, checked, uuid_or_gone
from services.web.api.routes import Gone, backend, form_of, page, render, see_other
from services.web.backend import Answer
from services.web.sessions import Session

router = APIRouter()
Worker = Annotated[Session, Depends(page(Role.CASEWORKER.value, Role.TEAM_LEAD.value))]
PartnerStaff = Annotated[Session, Depends(page(Role.REFERRAL_PARTNER.value, Role.ABRA_COACH.value, Role.ABRA_LEAD.value))]

#: The partners' steps in German (the step names are casework's PARTNER_PROCESSES).
STEP_LABELS = {
    "acknowledged": "Eingang bestätigt",
    "appointment_booked": "Termin vergeben",
    "profiled": "Profiling erfasst",
    "measure_offered": "Maßnahme angeboten",
    "placed_training": "in Ausbildung vermittelt",
    "placed_employment": "in Arbeit vermittelt",
    "place_offered": "Platz angeboten (mit Aufnahmedatum)",
    "waiting_list": "auf der Warteliste",
    "school_place_assigned": "Schulplatz zugewiesen (mit Schulbeginn)",
    "enrolled": "im Kurs angemeldet (mit Kursbeginn)",
    "counselling_started": "Beratung aufgenommen",
    "appointment_kept": "Termin wahrgenommen",
    "coaching_started": "Coaching aufgenommen",
    "declined": "abgelehnt",
    "no_show": "nicht erschienen",
    "handed_over": "übergeben (Rechtskreiswechsel)",
}
#: What the first appointment is at each partner.
APPOINTMENT_LABELS = {
    "daycare": "Aufnahmegespräch vereinbart", "school_side_entry": "Termin der Seiteneinsteigerberatung vergeben",
    "language_course": "Einstufungstest vereinbart", "health": "Termin beim Gesundheitsamt vergeben",
}
OUTCOME_LABELS = {**STEP_LABELS, "consent_withdrawn": "Einwilligung widerrufen", "case_closed": "Fall abgeschlossen"}
RECORDERS = {CASEWORKER: "die Fachkraft (der Partner hat keinen Zugang)", REFERRAL_PARTNER: "der Partner selbst", "ip_advisor": "der Integration Point"}
REFUSALS: tuple[tuple[str, str], ...] = (
    ("must be acknowledged first", "Bitte zuerst den Eingang bestätigen."),
    ("already acknowledged", "Der Eingang ist bereits bestätigt."),
    ("no appointment has been booked", "Dafür muss zuerst ein Termin vergeben sein."),
    ("the referral is closed", "Die Überleitung ist abgeschlossen; es kann nichts mehr erfasst werden."),
    ("nothing is open", "Die Überleitung ist abgeschlossen; es kann nichts mehr erfasst werden."),
    ("date is required", "Bitte das Datum angeben (Termin, Aufnahme oder Kursbeginn)."),
    ("step must be one of", "Bitte eine Antwort wählen."),
    ("records its own steps", "Dieser Partner erfasst seine Schritte selbst."),
    ("another step is being recorded", "Gerade wird ein anderer Schritt erfasst. Bitte erneut versuchen."),
)
FIELDS = {"step": "schritt", "on": "datum", "measure": "schritt", "partner": "schritt", "_": "schritt"}


def step_labels(partner: str) -> dict[str, str]:
    """The partner's own steps, in German, in their order (without the Integration Point's measures)."""
    process = partner_process(partner)
    steps = [s for s in process.steps if s != "measure_offered"] if process else []
    return {s: APPOINTMENT_LABELS.get(partner, STEP_LABELS[s]) if s == "appointment_booked" else STEP_LABELS.get(s, s) for s in steps}


def _german(msg: str) -> str:
    for needle, german in REFUSALS:
        if needle in msg:
            return german
    return f"Nicht möglich: {msg}"


def _errors(answer: Answer) -> dict[str, str]:
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
    if isinstance(detail, list):
        errors: dict[str, str] = {}
        for d in detail:
            loc = [str(p) for p in d.get("loc", []) if p != "body"]
            errors.setdefault(FIELDS.get(loc[0] if loc else "_", "schritt"), _german(str(d.get("msg", ""))))
        return errors
    return {"schritt": _german(str(detail))}


def _body(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    values = {k: form.get(k, "").strip() for k in ("schritt", "datum")}
    errors: dict[str, str] = {}
    if not values["schritt"]:
        errors["schritt"] = "Bitte eine Antwort wählen."
    on = values["datum"] or None
    if on is not None:
        try:
            datetime.strptime(on, "%Y-%m-%d")
        except ValueError:
            errors["datum"] = "Bitte ein gültiges Datum angeben."
    return {"step": values["schritt"], "on": on}, values, errors


def _page(request: Request, r: dict[str, Any], *, action: str, back: tuple[str, str], heading: str, can_record: bool,
          status: int = 200, errors: dict[str, str] | None = None, values: dict[str, str] | None = None) -> HTMLResponse:
    return render(
        request, "referral_answer.html", status, r=r, action=action, back=back, heading=heading, can_record=can_record and r["status"] == "open",
        steps=step_labels(r["partner"]), errors=errors or {}, values=values or {}, partners=PARTNERS, statuses=REFERRAL_STATUS,
        outcomes=OUTCOME_LABELS, recorders=RECORDERS, step_names=STEP_LABELS, today=datetime.now(BERLIN).date().isoformat(),
    )


# --- the caseworker records the answer of a partner without access ---------------------------------


async def _case_referral(request: Request, s: Session, case_id: str, referral_id: str) -> dict[str, Any]:
    cid, rid = uuid_or_gone(case_id), uuid_or_gone(referral_id)
    answer = await backend(request).call(s, "casework", "GET", f"/cases/{cid}/referrals")
    if answer.status == 403:
        raise NotInCaseload()
    for r in checked(answer):
        if r["referral_id"] == str(rid):
            return r
    raise Gone()


def _case_view(request: Request, r: dict[str, Any], **kw: Any) -> HTMLResponse:
    label = PARTNERS.get(r["partner"], r["partner"])
    return _page(request, r, action=f"/faelle/{r['case_id']}/ueberleitungen/{r['referral_id']}",
                 back=(f"/faelle/{r['case_id']}", f"Zurück zum Fall {r['case_id'][:8]}"),
                 heading=f"Überleitung an {label}", can_record=r.get("recorded_by") == CASEWORKER, **kw)


@router.get("/faelle/{case_id}/ueberleitungen/{referral_id}", response_class=HTMLResponse)
async def case_referral(request: Request, case_id: str, referral_id: str, s: Worker) -> HTMLResponse:
    return _case_view(request, await _case_referral(request, s, case_id, referral_id))


@router.post("/faelle/{case_id}/ueberleitungen/{referral_id}", response_class=HTMLResponse)
async def record_case_answer(request: Request, case_id: str, referral_id: str, s: Worker) -> Response:
    form = await form_of(request)
    r = await _case_referral(request, s, case_id, referral_id)
    body, values, errors = _body(form)
    if not errors:
        answer = await backend(request).call(s, "casework", "POST", f"/cases/{r['case_id']}/referrals/{r['referral_id']}/answers", json=body)
        if answer.status == 200:
            s.flash = f"Die Antwort „{step_labels(r['partner']).get(body['step'], body['step'])}“ ist erfasst."
            return see_other(f"/faelle/{r['case_id']}/ueberleitungen/{r['referral_id']}")
        if answer.status == 403:
            raise NotInCaseload()
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        errors = _errors(answer)
    return _case_view(request, r, status=422, errors=errors, values=values)


# --- the partner's own screen -------------------------------------------------------------------------


@router.get("/partner/ueberleitungen", response_class=HTMLResponse)
async def partner_list(request: Request, s: PartnerStaff, status: str = "open") -> HTMLResponse:
    status = status if status in ("open", "closed") else "open"
    items = checked(await backend(request).call(s, "casework", "GET", "/partner-referrals", params={"status": status, "limit": 1000}))
    return render(request, "partner_referrals.html", referrals=items, filter=status, statuses={"open": "offen", "closed": "abgeschlossen"},
                  partners=PARTNERS, outcomes=OUTCOME_LABELS, step_names=STEP_LABELS)


def _partner_view(request: Request, r: dict[str, Any], **kw: Any) -> HTMLResponse:
    return _page(request, r, action=f"/partner/ueberleitungen/{r['referral_id']}", back=("/partner/ueberleitungen", "Zurück zu den Überleitungen an uns"),
                 heading=f"Überleitung {r['referral_id'][:8]}", can_record=True, **kw)


@router.get("/partner/ueberleitungen/{referral_id}", response_class=HTMLResponse)
async def partner_referral(request: Request, referral_id: str, s: PartnerStaff) -> HTMLResponse:
    r = checked(await backend(request).call(s, "casework", "GET", f"/partner-referrals/{uuid_or_gone(referral_id)}"))
    return _partner_view(request, r)


@router.post("/partner/ueberleitungen/{referral_id}", response_class=HTMLResponse)
async def partner_step(request: Request, referral_id: str, s: PartnerStaff) -> Response:
    form = await form_of(request)
    rid = uuid_or_gone(referral_id)
    r = checked(await backend(request).call(s, "casework", "GET", f"/partner-referrals/{rid}"))
    body, values, errors = _body(form)
    if not errors:
        answer = await backend(request).call(s, "casework", "POST", f"/partner-referrals/{rid}/steps", json=body)
        if answer.status == 200:
            s.flash = f"Der Schritt „{step_labels(r['partner']).get(body['step'], body['step'])}“ ist erfasst."
            return see_other(f"/partner/ueberleitungen/{rid}")
        if answer.status not in (409, 422):
            checked(answer)
        errors = _errors(answer)
    return _partner_view(request, r, status=422, errors=errors, values=values)
