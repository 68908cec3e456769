"""Caseworker screens (DOMAIN.md flow 4; 001 "Soziales Fallmanagement" phases 1-4): the work list
"Meine Fälle" (open cases, first contacts due, reviews due and overdue, referrals waiting,
escalations), the case page (timeline as the digital Laufzettel, plan and goals, referrals), the
review form (per goal achieved/partly/not achieved/dropped; effect of a measure from the caseworker's
and the client's view) and the referral form (casework checks the documented consent, 422 at the
partner). Who may see a case is casework's rule (caseload and substitutions); its 403 is shown as
a German page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.kit.auth import Role
from services.web.api.common import ApiRefused, checked, german_message, uuid_or_gone
from services.web.api.routes import backend, form_of, page, render, see_other
from services.web.backend import Answer
from services.web.sessions import Session

router = APIRouter()
WORKERS = (Role.CASEWORKER.value, Role.TEAM_LEAD.value)
Worker = Annotated[Session, Depends(page(*WORKERS))]

PHASES = {
    "entry": "Einstieg", "planning": "Integrationsplanung", "integration": "Integration in die Regelsysteme",
    "implementation_review": "Umsetzung und Überprüfung", "closed": "abgeschlossen",
}
GOAL_STATUS = {"open": "offen", "achieved": "erreicht", "partly": "teilweise erreicht", "not_achieved": "nicht erreicht", "dropped": "entfallen"}
RESULTS = {"achieved": "erreicht", "partly": "teilweise erreicht", "not_achieved": "nicht erreicht", "dropped": "entfallen"}
MEASURES = {
    "integration_course": "Integrationskurs", "job_language_course": "Berufssprachkurs",
    "eq_plus_language": "Einstiegsqualifizierung mit Sprachförderung", "qualification": "Qualifizierung",
}
RATINGS = {"1": "1 – keine Wirkung", "2": "2 – gering", "3": "3 – mittel", "4": "4 – deutlich", "5": "5 – stark"}
PARTNERS = {
    "integration_point": "Integration Point", "job_centre": "Jobcenter", "employment_agency": "Agentur für Arbeit",
    "language_course": "Sprachkursträger", "daycare": "Kita", "school_side_entry": "Schule (Seiteneinstieg)",
    "migration_counselling": "Migrationsberatung", "health": "Gesundheitsamt", "womens_counselling": "Frauenberatung",
    "abra": "ABRA",
}
FIELDS_OF_ACTION = {1: "Sprache", 2: "Bildung", 3: "Arbeit", 4: "Wohnen", 5: "Gesundheit", 6: "Soziales"}
RESPONSIBLE = {"client": "Klient/in", "caseworker": "Fallmanagement", "partner": "Partner"}
TIMELINE_KINDS = {
    "opened": "Fall eröffnet", "assigned": "zugewiesen", "first_contact": "Erstkontakt", "resource_check": "Ressourcencheck",
    "contact": "Kontakt", "goal_set": "Ziel vereinbart", "goal_changed": "Ziel angepasst", "plan_agreed": "Integrationsvereinbarung",
    "review_due": "Überprüfung fällig", "review_completed": "Überprüfung erfasst", "referral_made": "Überleitung",
    "referral_step": "Schritt der Überleitung", "consent_given": "Einwilligung", "consent_withdrawn": "Einwilligung widerrufen",
    "closed": "Fall abgeschlossen", "reassigned": "neu zugewiesen", "phase_changed": "Phase gewechselt",
}
REFERRAL_STATUS = {"open": "offen", "closed": "abgeschlossen", "cancelled": "storniert"}
CONSENT_PARTNERS = {**PARTNERS, "social_casework": "Soziales Fallmanagement"}
LABELS = {"phases": PHASES, "goal_status": GOAL_STATUS, "consent_partners": CONSENT_PARTNERS, "results": RESULTS, "measures": MEASURES, "ratings": RATINGS, "partners": PARTNERS,
          "fields_of_action": FIELDS_OF_ACTION, "responsible": RESPONSIBLE, "kinds": TIMELINE_KINDS, "referral_status": REFERRAL_STATUS}


def _not_in_caseload(request: Request) -> HTMLResponse:
    return render(request, "error.html", 403, title="Kein Zugriff auf diesen Fall",
                  message="Dieser Fall gehört nicht zu Ihrem Fallbestand und Sie vertreten die zuständige Fachkraft nicht. "
                          "Wenden Sie sich an Ihre Teamleitung, wenn Sie den Fall übernehmen sollen.")


@router.get("/faelle", response_class=HTMLResponse)
async def work_list(request: Request, s: Worker) -> HTMLResponse:
    w = checked(await backend(request).call(s, "casework", "GET", "/worklist"))
    first_contacts = [c for c in w["my_cases"] if c["phase"] == "entry" and not c.get("first_contact_on")]
    return render(request, "cw_worklist.html", w=w, first_contacts=first_contacts, **LABELS)


async def _case_context(request: Request, s: Session, case_id: str) -> dict[str, Any] | None:
    api = backend(request)
    cid = uuid_or_gone(case_id)
    answer = await api.call(s, "casework", "GET", f"/cases/{cid}")
    if answer.status == 403:
        return None
    case = checked(answer)
    timeline = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/timeline"))
    plan = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/plan"))
    referrals = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/referrals"))
    consents = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/consents"))
    w = checked(await api.call(s, "casework", "GET", "/worklist"))
    due = [r for r in w["reviews_due"] + w["reviews_overdue"] if r["case_id"] == str(cid)]
    members = [str(m) for m in case.get("member_ids", [])]
    return {"case": case, "timeline": sorted(timeline, key=lambda e: e["at"], reverse=True), "plan": plan, "referrals": referrals,
            "consents": consents, "due": due[0] if due else None, "members": members, **LABELS}


def _case_page(request: Request, ctx: dict[str, Any], status: int = 200, review_errors: dict[str, str] | None = None,
               review_values: dict[str, str] | None = None, referral_errors: dict[str, str] | None = None,
               referral_values: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "cw_case.html", status, review_errors=review_errors or {}, review_values=review_values or {},
                  referral_errors=referral_errors or {}, referral_values=referral_values or {}, **ctx)


@router.get("/faelle/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, case_id: str, s: Worker) -> HTMLResponse:
    ctx = await _case_context(request, s, case_id)
    if ctx is None:
        return _not_in_caseload(request)
    return _case_page(request, ctx)


def _field_errors(answer: Answer, default: str) -> dict[str, str]:
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
    errors: dict[str, str] = {}
    if isinstance(detail, list):
        for d in detail:
            loc = [str(p) for p in d.get("loc", []) if p != "body"]
            msg = str(d.get("msg", ""))
            errors[".".join(loc) or default] = _german(msg)
    else:
        errors[default] = _german(str(detail or answer.body))
    return errors


def _german(msg: str) -> str:
    if "consent" in msg.lower() or "Einwilligung" in msg:
        return "Für diesen Partner liegt keine dokumentierte Einwilligung der Person vor. Bitte zuerst die Einwilligung erfassen."
    if "not a member" in msg:
        return "Die Person gehört nicht zu diesem Fall."
    if "not due" in msg or "nothing is open" in msg or "no review" in msg.lower():
        return "Für diesen Fall ist gerade keine Überprüfung fällig."
    return german_message(msg)


@router.post("/faelle/{case_id}/ueberpruefung", response_class=HTMLResponse)
async def record_review(request: Request, case_id: str, s: Worker) -> Response:
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    if ctx is None:
        return _not_in_caseload(request)
    errors: dict[str, str] = {}
    goals = []
    for g in ctx["plan"]["goals"]:
        result = form.get(f"ziel-{g['goal_id']}", "")
        if result not in RESULTS:
            errors[f"ziel-{g['goal_id']}"] = f"Bitte das Ergebnis für „{g['title']}“ wählen."
        else:
            goals.append({"goal_id": g["goal_id"], "result": result})
    measures = []
    measure = form.get("massnahme", "")
    if measure:
        ratings = {}
        for key, who in (("bewertung_fachkraft", "caseworker_rating"), ("bewertung_klient", "client_rating")):
            if form.get(key, "") not in RATINGS:
                errors[key] = "Bitte die Wirkung von 1 bis 5 bewerten."
            else:
                ratings[who] = int(form[key])
        if len(ratings) == 2:
            measures.append({"measure": measure, **ratings})
    cycle = form.get("zyklus", "")
    if not cycle.isdigit():
        errors["_"] = "Für diesen Fall ist gerade keine Überprüfung fällig."
    if not errors:
        answer = await backend(request).call(s, "casework", "POST", f"/cases/{ctx['case']['case_id']}/reviews",
                                             json={"cycle": int(cycle), "goals": goals, "measures": measures})
        if answer.status == 200:
            s.flash = f"Die {cycle}. Überprüfung ist erfasst."
            return see_other(f"/faelle/{ctx['case']['case_id']}")
        if answer.status == 403:
            return _not_in_caseload(request)
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        errors = _field_errors(answer, "_")
    return _case_page(request, ctx, 422, review_errors=errors, review_values=form)


@router.post("/faelle/{case_id}/ueberleitung", response_class=HTMLResponse)
async def make_referral(request: Request, case_id: str, s: Worker) -> Response:
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    if ctx is None:
        return _not_in_caseload(request)
    values = {k: form.get(k, "").strip() for k in ("person_id", "partner", "note")}
    errors: dict[str, str] = {}
    if values["person_id"] not in ctx["members"]:
        errors["person_id"] = "Bitte die Person wählen."
    if values["partner"] not in PARTNERS:
        errors["partner"] = "Bitte den Partner wählen."
    if not errors:
        body = {"person_id": values["person_id"], "partner": values["partner"], "purpose": "referral", "note": values["note"] or None}
        answer = await backend(request).call(s, "casework", "POST", f"/cases/{ctx['case']['case_id']}/referrals", json=body)
        if answer.status == 201:
            s.flash = f"Die Überleitung an {PARTNERS[values['partner']]} ist angelegt."
            return see_other(f"/faelle/{ctx['case']['case_id']}")
        if answer.status == 403:
            return _not_in_caseload(request)
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        errors = _field_errors(answer, "partner")
    return _case_page(request, ctx, 422, referral_errors=errors, referral_values=values)
