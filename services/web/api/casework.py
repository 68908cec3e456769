"""Caseworker screens (DOMAIN.md flow 4; 001 "Soziales Fallmanagement" phases 1-4): the work list
"Meine Fälle" (open cases, first contacts due, reviews due and overdue, referrals waiting,
escalations), the case page (timeline as the digital Laufzettel, plan and goals, referrals) with the
caseworker's daily records: first contact and starter pack, goals (one of the 18 fields of action,
000 §4), the integration agreement, consents and their withdrawal (a referral needs the documented
consent, casework's 422 at the partner), the review (per goal achieved/partly/not achieved/dropped;
effect of a measure from the caseworker's and the client's view) and the closure, which is final and so
first shows a confirmation page (no JavaScript); the goal page adjusts a goal (also its field of action
and the person it is for) and lists its revisions; team leads reassign a case. Who may see a case is casework's rule
(caseload and substitutions); its 403 is shown as a German page. Persons appear by pseudonymous id only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.contracts.vocab import FIELD_OF_ACTION_LABELS
from services.contracts.workdays import BERLIN
from services.kit.auth import Role
from services.web.api.common import ApiRefused, checked, de_date, german_message, uuid_or_gone
from services.web.api.front_desk import F
from services.web.api.routes import backend, form_of, page, render, see_other
from services.web.backend import Answer
from services.web.sessions import Session

router = APIRouter()
WORKERS = (Role.CASEWORKER.value, Role.TEAM_LEAD.value)
Worker = Annotated[Session, Depends(page(*WORKERS))]
Lead = Annotated[Session, Depends(page(Role.TEAM_LEAD.value))]

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
FIELDS_OF_ACTION = {int(k): label for k, label in FIELD_OF_ACTION_LABELS.items()}
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
PURPOSES = {"referral": "Überleitung", "counselling": "Beratung", "job_placement": "Arbeitsvermittlung",
            "data_exchange": "Datenaustausch", "reporting": "Berichtswesen"}
#: Reasons for closing a case (casework's CloseReason; 001 phase 4).
CLOSE_REASONS = {"goals_achieved": "Ziele erreicht / Klient/in selbstständig", "moved_away": "verzogen",
                 "no_longer_eligible": "keine Anspruchsvoraussetzungen mehr", "no_contact": "kein Kontakt mehr"}
LABELS = {"phases": PHASES, "goal_status": GOAL_STATUS, "consent_partners": CONSENT_PARTNERS, "results": RESULTS, "measures": MEASURES, "ratings": RATINGS,
          "partners": PARTNERS,
          "fields_of_action": FIELDS_OF_ACTION, "responsible": RESPONSIBLE, "kinds": TIMELINE_KINDS, "referral_status": REFERRAL_STATUS,
          "purposes": PURPOSES, "close_reasons": CLOSE_REASONS}


class NotInCaseload(Exception):
    """Casework answered 403 for a case: not in the user's caseload, nor a substitution."""


def install(app: Any) -> None:
    async def not_in_caseload(request: Request, exc: NotInCaseload) -> HTMLResponse:
        return render(request, "error.html", 403, title="Kein Zugriff auf diesen Fall",
                      message="Dieser Fall gehört nicht zu Ihrem Fallbestand und Sie vertreten die zuständige Fachkraft nicht. "
                              "Wenden Sie sich an Ihre Teamleitung, wenn Sie den Fall übernehmen sollen.")

    app.add_exception_handler(NotInCaseload, not_in_caseload)


@router.get("/faelle", response_class=HTMLResponse)
async def work_list(request: Request, s: Worker) -> HTMLResponse:
    w = checked(await backend(request).call(s, "casework", "GET", "/worklist"))
    first_contacts = [c for c in w["my_cases"] if c["phase"] == "entry" and not c.get("first_contact_on")]
    return render(request, "cw_worklist.html", w=w, first_contacts=first_contacts, **LABELS)


async def _case_context(request: Request, s: Session, case_id: str) -> dict[str, Any]:
    api = backend(request)
    cid = uuid_or_gone(case_id)
    answer = await api.call(s, "casework", "GET", f"/cases/{cid}")
    if answer.status == 403:
        raise NotInCaseload()
    case = checked(answer)
    timeline = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/timeline"))
    plan = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/plan"))
    referrals = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/referrals"))
    consents = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/consents"))
    w = checked(await api.call(s, "casework", "GET", "/worklist"))
    due = [r for r in w["reviews_due"] + w["reviews_overdue"] if r["case_id"] == str(cid)]
    members = [str(m) for m in case.get("member_ids", [])]
    caseworkers = checked(await api.call(s, "casework", "GET", "/caseworkers")) if s.has(Role.TEAM_LEAD.value) else []
    from services.web.api.hardship_case import applications_of_case  # here: that module builds on this one

    hardship = await applications_of_case(request, s, str(cid))
    return {**hardship, "case": case, "timeline": sorted(timeline, key=lambda e: e["at"], reverse=True), "plan": plan, "referrals": referrals,
            "consents": consents, "due": due[0] if due else None, "members": members, "caseworkers": caseworkers,
            "person_labels": _person_labels(members), "today": datetime.now(BERLIN).date().isoformat(), **LABELS, **_forms(members, caseworkers, case)}


def _person_labels(members: list[str]) -> dict[str, str]:
    """Persons by pseudonymous id only: "Person N (id prefix)", never a name."""
    return {m: f"Person {i} ({m[:8]})" for i, m in enumerate(members, start=1)}


def _case_page(request: Request, ctx: dict[str, Any], status: int = 200, review_errors: dict[str, str] | None = None,
               review_values: dict[str, str] | None = None, referral_errors: dict[str, str] | None = None,
               referral_values: dict[str, str] | None = None, failed: str = "", errors: dict[str, str] | None = None,
               values: dict[str, str] | None = None) -> HTMLResponse:
    """The case page; `failed` names the form (erstkontakt, ziel, vereinbarung, einwilligung, widerruf,
    abschluss, zuweisung) whose `errors` are shown at its fields with the submitted `values`."""
    return render(request, "cw_case.html", status, review_errors=review_errors or {}, review_values=review_values or {},
                  referral_errors=referral_errors or {}, referral_values=referral_values or {}, failed=failed,
                  errors=errors or {}, values=values or {}, **ctx)


@router.get("/faelle/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, case_id: str, s: Worker) -> HTMLResponse:
    ctx = await _case_context(request, s, case_id)
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


#: casework's reasons (services/casework) in German, checked before the general rules.
_CASE_MESSAGES: tuple[tuple[str, str], ...] = (
    ("first contact cannot be in the future", "Der Erstkontakt kann nicht in der Zukunft liegen."),
    ("first contact cannot be before the case was opened", "Der Erstkontakt kann nicht vor der Eröffnung des Falls liegen."),
    ("consent cannot be dated in the future", "Die Einwilligung kann nicht in der Zukunft datiert sein."),
    ("no active consent", "Für diesen Partner liegt keine wirksame Einwilligung vor."),
    ("client has to agree", "Die Klientin / der Klient muss der Integrationsvereinbarung zustimmen."),
    ("caseworker has to agree", "Die Fachkraft muss der Integrationsvereinbarung zustimmen."),
    ("needs at least one goal", "Eine Integrationsvereinbarung braucht mindestens ein Ziel. Bitte zuerst ein Ziel hinzufügen."),
    ("record the first contact before", "Bitte zuerst den Erstkontakt erfassen."),
    ("case is already closed", "Der Fall ist bereits abgeschlossen."),
    ("case is closed", "Der Fall ist abgeschlossen."),
    ("already with this caseworker", "Der Fall liegt bereits bei dieser Fachkraft."),
    ("has no room", "Diese Fachkraft hat keinen freien Platz (Obergrenze erreicht oder abwesend)."),
    ("no such caseworker", "Diese Fachkraft ist nicht im Register."),
    ("no such goal", "Dieses Ziel gehört nicht zu diesem Fall."),
    ("first contact has already been recorded", "Der Erstkontakt ist bereits erfasst."),
)


def _german(msg: str) -> str:
    for english, german in _CASE_MESSAGES:
        if english in msg:
            return german
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
            raise NotInCaseload()
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        errors = _field_errors(answer, "_")
    return _case_page(request, ctx, 422, review_errors=errors, review_values=form)


@router.post("/faelle/{case_id}/ueberleitung", response_class=HTMLResponse)
async def make_referral(request: Request, case_id: str, s: Worker) -> Response:
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
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
            raise NotInCaseload()
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        errors = _field_errors(answer, "partner")
    return _case_page(request, ctx, 422, referral_errors=errors, referral_values=values)


# --- the caseworker's daily records on the case page -----------------------------------------------


def _forms(members: list[str], caseworkers: list[dict[str, Any]], case: dict[str, Any]) -> dict[str, Any]:
    """The fields of the case page's forms; names are the API's field names (errors map 1:1)."""
    persons = _person_labels(members)
    available = {c["username"]: f"{c['username']} ({c['caseload']} von {c['cap']} Fällen{', abwesend' if c['on_leave'] else ''})"
                 for c in caseworkers if c["username"] != case.get("caseworker")}
    return {
        "first_contact_fields": (F("contact_on", "Datum des Erstkontakts", "date"), F("starter_pack", "Starterpaket übergeben", "checkbox")),
        "goal_fields": _goal_fields(persons),
        "agreement_fields": (F("agreed_on", "Datum der Vereinbarung", "date"),
                             F("agreed_by_client", "Von der Klientin / dem Klienten vereinbart", "checkbox"),
                             F("agreed_by_caseworker", "Von der Fachkraft vereinbart", "checkbox")),
        "consent_fields": (F("person_id", "Einwilligende Person", "select", persons), F("partner", "Partner der Einwilligung", "select", CONSENT_PARTNERS),
                           F("purpose", "Zweck der Einwilligung", "select", PURPOSES), F("given_on", "Einwilligung erteilt am", "date")),
        "close_fields": (F("reason", "Grund des Abschlusses", "select", CLOSE_REASONS),),
        "reassign_fields": (F("caseworker", "Neue Fachkraft", "select", available, hint="In Klammern: aktuelle Fallzahl und Obergrenze."),),
    }


def _goal_fields(persons: dict[str, str]) -> tuple[F, ...]:
    return (
        F("field_of_action", "Handlungsfeld", "select", {str(k): f"{k} {label}" for k, label in FIELDS_OF_ACTION.items()}),
        F("title", "Titel"), F("target_date", "Zieldatum", "date"), F("responsible", "Verantwortlich", "select", RESPONSIBLE),
        F("person_id", "Betroffene Person", "select", persons, hint="Nur wenn das Ziel eine Person betrifft.", optional=True),
    )


GOAL_EDIT_FIELDS = (F("title", "Titel"), F("target_date", "Zieldatum", "date"), F("responsible", "Verantwortlich", "select", RESPONSIBLE),
                    F("status", "Stand", "select", GOAL_STATUS))


def _goal_edit_fields(persons: dict[str, str]) -> tuple[F, ...]:
    """The goal page's fields: the field of action (one of the 18, 000 §4) and the person the goal is
    for (a member of the case by pseudonymous label; none: the whole household) can change too."""
    return (F("field_of_action", "Handlungsfeld", "select", {str(k): f"{k} {label}" for k, label in FIELDS_OF_ACTION.items()}),
            *GOAL_EDIT_FIELDS[:1],
            F("person_id", "Betroffene Person", "select", persons, hint="Ohne Auswahl gilt das Ziel für den ganzen Haushalt.", optional=True),
            *GOAL_EDIT_FIELDS[1:])


def _values(form: dict[str, str], fields: tuple[F, ...]) -> dict[str, str]:
    return {f.name: form.get(f.name, "").strip() for f in fields}


def _required(values: dict[str, str], fields: tuple[F, ...]) -> dict[str, str]:
    """Empty required fields, each with its German reason (checkboxes are never required here)."""
    return {f.name: ("Bitte wählen." if f.kind == "select" else "Bitte ausfüllen.")
            for f in fields if f.kind != "checkbox" and not f.optional and not values.get(f.name)}


def _at_fields(errors: dict[str, str], fields: tuple[F, ...]) -> dict[str, str]:
    """API errors at the form's fields; anything else goes to the form's summary ("_")."""
    names = {f.name for f in fields}
    out: dict[str, str] = {}
    for k, m in errors.items():
        key = k if k in names else "_"
        out[key] = f"{out[key]} {m}" if key in out else m
    return out


async def _record(request: Request, s: Session, ctx: dict[str, Any], failed: str, fields: tuple[F, ...], values: dict[str, str],
                  errors: dict[str, str], method: str, path: str, body: dict[str, Any], ok: int, flash: str) -> Response:
    """Sends a record to casework unless the form is already refused; success: flash and back to the
    case page (303); casework's 403 is the caseload page; its 409/422 are shown at the fields."""
    case_id = ctx["case"]["case_id"]
    if not errors:
        answer = await backend(request).call(s, "casework", method, f"/cases/{case_id}{path}", json=body)
        if answer.status == ok:
            s.flash = flash
            return see_other(f"/faelle/{case_id}")
        if answer.status == 403:
            raise NotInCaseload()
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        field = answer.body.get("field") if isinstance(answer.body, dict) else None
        errors = _field_errors(answer, field if isinstance(field, str) else "_")
    return _case_page(request, ctx, 422, failed=failed, errors=_at_fields(errors, fields), values=values)


def _close_errors(values: dict[str, str], fields: tuple[F, ...]) -> dict[str, str]:
    errors = _required(values, fields)
    if not errors and values["reason"] not in CLOSE_REASONS:
        errors["reason"] = "Bitte einen der angebotenen Gründe wählen."
    return errors


REVISION_FIELDS = {"field_of_action": "Handlungsfeld", "person_id": "Person", "title": "Titel", "target_date": "Zieldatum",
                   "responsible": "Verantwortlich", "status": "Stand"}

def _shown(name: str, value: Any, persons: dict[str, str] | None = None) -> str:
    if name == "person_id":
        return "ganzer Haushalt" if value is None else (persons or {}).get(value, f"Person ({str(value)[:8]})")
    if name == "field_of_action":
        return f"{value} {FIELDS_OF_ACTION.get(int(value), '')}".strip()
    if name == "responsible":
        return RESPONSIBLE.get(value, value)
    if name == "status":
        return GOAL_STATUS.get(value, value)
    if name == "target_date":
        return de_date(value)
    return str(value)


def _changes(revisions: list[dict[str, Any]], persons: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Each revision with what it changed against the one before (the first: what was set). Revisions
    recorded before casework kept the person in them do not name it."""
    out, before = [], None
    for r in revisions:
        changed = [(REVISION_FIELDS[k], _shown(k, before[k], persons) if before else None, _shown(k, r[k], persons))
                   for k in REVISION_FIELDS if k in r and (before is None or (k in before and before[k] != r[k]))]
        out.append({**r, "changes": changed})
        before = r
    return list(reversed(out))


def _goal_values(goal: dict[str, Any], fields: tuple[F, ...]) -> dict[str, str]:
    return {f.name: "" if goal.get(f.name) is None else str(goal[f.name]) for f in fields}
