"""The hardship fund on the case page (DOMAIN.md flow 5; seed 000 "Härtefallfond"): the caseworker
applies for a client of their own case ("Härtefallfonds beantragen": amount, purpose, period,
justification, with the fund's criteria as text and as the confirmations funding's API expects), and
the case page shows each application's state as the fund managers decide it (pending, approved with
the amount, rejected with the reason, payment ordered, paid). Funding decides who sees what (the
applications of one's own cases) and screens the criteria; its 422 answers are shown at the fields."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.kit.auth import Role
from services.web.api.casework import NotInCaseload, _person_labels
from services.web.api.common import ApiRefused, checked, german_message, uuid_or_gone
from services.web.api.front_desk import F
from services.web.api.funding import CATEGORIES, REASONS, STATUS, euro
from services.web.api.routes import backend, form_of, page, render, see_other
from services.web.backend import Answer, ServiceUnavailable
from services.web.sessions import Session

router = APIRouter()
Caseworker = Annotated[Session, Depends(page(Role.CASEWORKER.value))]

#: The fund's criteria (seed 000 "Härtefallfond"; budget 000 §7 row 34; four eyes DOMAIN.md flow 5), as shown to the caseworker.
CRITERIA_TEXT = (
    "Auf Mittel des Härtefallfonds besteht kein Rechtsanspruch.",
    "Die Notwendigkeit wird nach pädagogischen und sozialen Gesichtspunkten beurteilt: Bitte begründen Sie den Bedarf entsprechend.",
    "Der Bedarf darf nicht durch ein fehlerhaftes Handeln einer (anderen) Behörde entstanden sein.",
    "Die Unterstützung darf das Bestreben nicht untergraben, die Eigenständigkeit und Eigenverantwortung der Person zu fördern.",
    "Die Unterstützung ist auf einen klar definierten Zeitraum beschränkt (höchstens 6 Monate).",
    "Der Fonds hat 15.000 € im Jahr und wird von der Geschäftsführung des Integrationskonzepts verwaltet; über 1.000 € entscheiden zwei Personen.",
)
#: Confirmations where funding's API expects them (HardshipCriteria): a ticked box answers the criterion with "no".
CONFIRMATIONS = (
    F("legal_entitlement_elsewhere",
      "Ich bestätige: Es besteht kein vorrangiger Rechtsanspruch auf eine andere Leistung (z. B. Jobcenter, Bildungs- und Teilhabepaket).", "checkbox"),
    F("caused_by_authority_error", "Ich bestätige: Der Bedarf ist nicht durch ein fehlerhaftes Handeln einer (anderen) Behörde entstanden.", "checkbox"),
    F("undermines_self_reliance", "Ich bestätige: Die Unterstützung untergräbt nicht die Eigenständigkeit und Eigenverantwortung der Person.", "checkbox"),
)
OFFICE = F("responsible_office", "Zuständige Stelle, falls doch ein Rechtsanspruch besteht",
           hint="Nur ausfüllen, wenn die erste Bestätigung nicht zutrifft: Der Antrag wird dann an diese Stelle verwiesen.", optional=True)
#: The error summary's short names of the fields whose labels are long.
SUMMARY_LABELS = {"justification": "Begründung", "legal_entitlement_elsewhere": "Bestätigung Rechtsanspruch",
                  "caused_by_authority_error": "Bestätigung Behördenfehler", "undermines_self_reliance": "Bestätigung Eigenständigkeit",
                  "responsible_office": "Zuständige Stelle"}
_MESSAGES = (
    ("unknown case", "Der Fall ist dem Fonds noch nicht bekannt. Bitte versuchen Sie es in einer Minute erneut."),
    ("not a member of the case", "Die Person gehört nicht zu diesem Fall."),
    ("case is closed", "Der Fall ist abgeschlossen; ein Antrag ist nicht mehr möglich."),
    ("period_end is before period_start", "Das Ende liegt vor dem Beginn des Zeitraums."),
    ("responsible_office is required", "Bitte die zuständige Stelle nennen oder bestätigen, dass kein Rechtsanspruch besteht."),
)
_FIELD_MESSAGES = {
    "legal_entitlement_elsewhere": "Bitte bestätigen oder unten die zuständige Stelle nennen.",
    "caused_by_authority_error": "Bitte bestätigen. Ist der Bedarf durch den Fehler einer Behörde entstanden, hilft der Härtefallfonds nicht: "
                                 "Die Behörde muss ihn beheben.",
    "undermines_self_reliance": "Bitte bestätigen. Eine Unterstützung, die die Eigenständigkeit untergräbt, ist aus dem Härtefallfonds nicht möglich.",
    "amount": "Bitte einen Betrag über 0 € angeben.",
}


def fields(persons: dict[str, str]) -> tuple[F, ...]:
    return (
        F("person_id", "Person", "select", persons),
        F("amount", "Betrag in Euro", hint="z. B. 250 oder 1.250,50"),
        F("purpose_category", "Art des Bedarfs", "select", CATEGORIES),
        F("purpose", "Zweck", hint="Wofür das Geld gebraucht wird, z. B. Schulranzen und Material für die Seiteneinsteigerklasse."),
        F("period_start", "Zeitraum von", "date"),
        F("period_end", "Zeitraum bis", "date", hint="Höchstens 6 Monate nach dem Beginn."),
    )


def cents(text: str) -> int | None:
    """A German amount ("1.250,50", "250", "250 €") in cents; None if it is no amount."""
    t = text.replace("€", "").replace(" ", "").strip()
    if not re.fullmatch(r"\d{1,3}(\.\d{3})*(,\d{1,2})?|\d+(,\d{1,2})?", t):
        return None
    euros, _, part = t.replace(".", "").partition(",")
    return int(euros) * 100 + int((part + "00")[:2])


def state_text(a: dict[str, Any]) -> str:
    """The decision as the caseworker reads it on the case page."""
    status = a["status"]
    if status == "pending":
        done = len(a["deciders"])
        return (f"offen: die Geschäftsführung entscheidet ({done} von {a['deciders_required']} Entscheidungen)"
                + (" – überfällig, eskaliert" if a["escalated"] else ""))
    if status == "approved":
        return f"bewilligt: {euro(a['amount_cents'])}"
    if status == "payment_ordered":
        return f"bewilligt: {euro(a['amount_cents'])}, Auszahlung angeordnet"
    if status == "disbursed":
        return f"ausgezahlt: {euro(a['amount_cents'])}"
    if status == "rejected":
        return f"abgelehnt: {REASONS.get(a['reason'] or 'other', a['reason'])}"
    if status == "redirected":
        return f"an zuständige Stelle verwiesen: {a['responsible_office']}"
    return STATUS.get(status, status)


async def applications_of_case(request: Request, s: Session, case_id: str) -> dict[str, Any]:
    """The case page's hardship section: the applications of this case (caseworkers only; funding
    shows a caseworker the applications of their own cases). Funding being down hides only this."""
    if not s.has(Role.CASEWORKER.value):
        return {"hardship_shown": False, "hardship": []}
    try:
        answer = await backend(request).call(s, "funding", "GET", "/hardship/applications", params={"case_id": case_id})
    except ServiceUnavailable:
        return {"hardship_shown": True, "hardship": [], "hardship_down": True}
    items = checked(answer)["applications"]
    return {"hardship_shown": True, "hardship": [{**a, "state": state_text(a)} for a in reversed(items)], "hardship_down": False,
            "euro": euro, "categories": CATEGORIES}


def _api_errors(answer: Answer, known: set[str]) -> dict[str, str]:
    """funding's 409/422 at the form's fields: `criteria.x` at the confirmation x, `amount_cents` at
    the amount; a model-level error of the criteria at the responsible office; others to the summary."""
    body = answer.body if isinstance(answer.body, dict) else {}
    detail = body.get("detail")
    items = detail if isinstance(detail, list) else [{"loc": ["body", body.get("field") or "_"], "msg": str(detail or answer.body)}]
    errors: dict[str, str] = {}
    for d in items:
        loc = [str(p) for p in d.get("loc", []) if p not in ("body", "criteria")] or (["responsible_office"] if "criteria" in d.get("loc", []) else ["_"])
        field = {"amount_cents": "amount"}.get(loc[0], loc[0])
        field = field if field in known else "_"
        msg = str(d.get("msg", ""))
        german = next((g for e, g in _MESSAGES if e in msg), None)
        months = re.search(r"(\d+) months", msg)
        if german is None and months:
            german = f"Der Zeitraum muss klar begrenzt sein: höchstens {months.group(1)} Monate."
        errors.setdefault(field, german or _FIELD_MESSAGES.get(field) or german_message(msg))
    return errors


async def _context(request: Request, s: Session, case_id: str) -> dict[str, Any]:
    api = backend(request)
    cid = uuid_or_gone(case_id)
    answer = await api.call(s, "casework", "GET", f"/cases/{cid}")
    if answer.status == 403:
        raise NotInCaseload()
    case = checked(answer)
    persons = _person_labels([str(m) for m in case.get("member_ids", [])])
    year = date.today().year
    budget = await api.call(s, "funding", "GET", f"/budgets/hardship/{year}/balance")
    form_fields = fields(persons)
    summary = [{"name": f.name, "label": f.label} for f in form_fields] + [{"name": k, "label": v} for k, v in SUMMARY_LABELS.items()]
    return {"case": case, "fields": form_fields, "summary_fields": summary, "confirmations": CONFIRMATIONS, "office": OFFICE, "criteria_text": CRITERIA_TEXT,
            "balance": budget.body if budget.status == 200 else None, "year": year, "euro": euro}


def _form_page(request: Request, ctx: dict[str, Any], status: int = 200, errors: dict[str, str] | None = None,
               values: dict[str, str] | None = None) -> HTMLResponse:
    today = date.today().isoformat()
    return render(request, "cw_hardship_apply.html", status, errors=errors or {}, values=values or {"period_start": today}, **ctx)


@router.get("/faelle/{case_id}/haertefallfonds", response_class=HTMLResponse)
async def apply_form(request: Request, case_id: str, s: Caseworker) -> HTMLResponse:
    return _form_page(request, await _context(request, s, case_id))


@router.post("/faelle/{case_id}/haertefallfonds", response_class=HTMLResponse)
async def apply(request: Request, case_id: str, s: Caseworker) -> Response:
    form = await form_of(request)
    ctx = await _context(request, s, case_id)
    names = [f.name for f in ctx["fields"]] + ["justification", OFFICE.name] + [c.name for c in CONFIRMATIONS]
    values = {n: form.get(n, "").strip() for n in names}
    known = set(names)
    errors: dict[str, str] = {}
    amount = cents(values["amount"]) if values["amount"] else None
    if values["amount"] and amount is None:
        errors["amount"] = "Bitte einen Betrag in Euro angeben, z. B. 250 oder 1.250,50."
    criteria: dict[str, Any] = {}
    # a ticked confirmation answers its criterion with "no"; an unticked one is left out, so funding names it
    if values["legal_entitlement_elsewhere"] == "ja":
        criteria["legal_entitlement_elsewhere"] = False
    elif values["responsible_office"]:
        criteria.update(legal_entitlement_elsewhere=True, responsible_office=values["responsible_office"])
    for name in ("caused_by_authority_error", "undermines_self_reliance"):
        if values[name] == "ja":
            criteria[name] = False
    # sent even when the amount is unreadable (then None): funding names every other field too, and stores nothing
    body = {
        "case_id": ctx["case"]["case_id"], "person_id": values["person_id"] or None, "amount_cents": amount,
        "purpose": values["purpose"], "purpose_category": values["purpose_category"] or None, "justification": values["justification"],
        "period_start": values["period_start"] or None, "period_end": values["period_end"] or None, "criteria": criteria,
    }
    answer = await backend(request).call(s, "funding", "POST", "/hardship/applications", json=body)
    if answer.status == 201:
        a = answer.body
        s.flash = f"Der Antrag auf {euro(a['amount_cents'])} aus dem Härtefallfonds ist gestellt: {state_text(a)}."
        return see_other(f"/faelle/{ctx['case']['case_id']}#haertefallfonds")
    if answer.status == 403:
        raise NotInCaseload()
    if answer.status not in (409, 422):
        raise ApiRefused(answer)
    errors = {**_api_errors(answer, known), **errors}
    return _form_page(request, ctx, 422, errors, values)
