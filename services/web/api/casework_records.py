"""Caseworker screens, the daily records on a case page (DOMAIN.md flow 3; 001 phases 1-4): first contact
and starter pack, goals and their adjustment (goal page with revisions), the integration agreement,
consents and their withdrawal, the closure with its confirmation page, and the team lead's reassignment.
The work list, the case page itself, reviews and referrals are in casework.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

# the case page's helpers: these screens render into the same case page
from services.web.api.casework import (  # noqa: I001
    CONSENT_PARTNERS,
    LABELS,
    Lead,
    NotInCaseload,
    Worker,
    _at_fields,
    _case_context,
    _case_page,
    _changes,
    _close_errors,
    _field_errors,
    _goal_edit_fields,
    _goal_values,
    _person_labels,
    _record,
    _required,
    _values,
)
from services.web.api.common import ApiRefused, checked, uuid_or_gone
from services.web.api.front_desk import F
from services.web.api.routes import Gone, backend, form_of, render, see_other
from services.web.sessions import Session

router = APIRouter()


def _checked(values: dict[str, str], name: str) -> bool:
    return values.get(name) == "ja"


@router.post("/faelle/{case_id}/erstkontakt", response_class=HTMLResponse)
async def record_first_contact(request: Request, case_id: str, s: Worker) -> Response:
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    fields = ctx["first_contact_fields"]
    values = _values(form, fields)
    body = {"contact_on": values["contact_on"], "starter_pack": _checked(values, "starter_pack")}
    return await _record(request, s, ctx, "erstkontakt", fields, values, _required(values, fields), "POST", "/first-contact", body, 200,
                         "Der Erstkontakt ist erfasst.")


@router.post("/faelle/{case_id}/ziele", response_class=HTMLResponse)
async def add_goal(request: Request, case_id: str, s: Worker) -> Response:
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    fields = ctx["goal_fields"]
    values = _values(form, fields)
    errors = _required(values, fields)
    if values["person_id"] and values["person_id"] not in ctx["members"]:
        errors["person_id"] = "Die Person gehört nicht zu diesem Fall."
    body = {"field_of_action": values["field_of_action"], "title": values["title"], "target_date": values["target_date"],
            "responsible": values["responsible"], "person_id": values["person_id"] or None}
    return await _record(request, s, ctx, "ziel", fields, values, errors, "POST", "/goals", body, 201, "Das Ziel ist hinzugefügt.")


@router.post("/faelle/{case_id}/vereinbarung", response_class=HTMLResponse)
async def agree_plan(request: Request, case_id: str, s: Worker) -> Response:
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    fields = ctx["agreement_fields"]
    values = _values(form, fields)
    body = {"agreed_on": values["agreed_on"], "agreed_by_client": _checked(values, "agreed_by_client"),
            "agreed_by_caseworker": _checked(values, "agreed_by_caseworker")}
    return await _record(request, s, ctx, "vereinbarung", fields, values, _required(values, fields), "POST", "/plan/agree", body, 200,
                         "Die Integrationsvereinbarung ist erfasst.")


@router.post("/faelle/{case_id}/einwilligungen", response_class=HTMLResponse)
async def give_consent(request: Request, case_id: str, s: Worker) -> Response:
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    fields = ctx["consent_fields"]
    values = _values(form, fields)
    return await _record(request, s, ctx, "einwilligung", fields, values, _required(values, fields), "POST", "/consents", dict(values), 204,
                         f"Die Einwilligung für {CONSENT_PARTNERS.get(values['partner'], values['partner'])} ist erfasst.")


@router.post("/faelle/{case_id}/einwilligungen/widerruf", response_class=HTMLResponse)
async def withdraw_consent(request: Request, case_id: str, s: Worker) -> Response:
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    fields = (F("person_id", "Person"), F("partner", "Partner"), F("purpose", "Zweck"))
    values = _values(form, fields)
    errors = {} if all(values.values()) else {"_": "Bitte die Einwilligung wählen, die widerrufen wird."}
    return await _record(request, s, ctx, "widerruf", (), values, errors, "POST", "/consents/withdraw", dict(values), 200,
                         f"Der Widerruf der Einwilligung für {CONSENT_PARTNERS.get(values['partner'], values['partner'])} ist erfasst.")




@router.post("/faelle/{case_id}/abschluss/bestaetigen", response_class=HTMLResponse)
async def confirm_close(request: Request, case_id: str, s: Worker) -> Response:
    """Closing is final (casework ends the case's review, onboarding and referral workflows and frees
    the caseload place; 001 phase 4): the close form first shows what closing does, with the reason,
    and only "Fall abschließen" there closes. An invalid reason is shown at the case page's field."""
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    if ctx["case"]["phase"] == "closed":
        s.flash = "Der Fall ist bereits abgeschlossen."
        return see_other(f"/faelle/{ctx['case']['case_id']}")
    fields = ctx["close_fields"]
    values = _values(form, fields)
    errors = _close_errors(values, fields)
    if errors:
        return _case_page(request, ctx, 422, failed="abschluss", errors=errors, values=values)
    open_referrals = [r for r in ctx["referrals"] if r["status"] == "open"]
    return render(request, "cw_close_confirm.html", reason=values["reason"], open_referrals=open_referrals, **ctx)


@router.post("/faelle/{case_id}/abschluss", response_class=HTMLResponse)
async def close_case(request: Request, case_id: str, s: Worker) -> Response:
    """The confirmed closure (from the confirmation page)."""
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    fields = ctx["close_fields"]
    values = _values(form, fields)
    return await _record(request, s, ctx, "abschluss", fields, values, _close_errors(values, fields), "POST", "/close", dict(values), 200,
                         "Der Fall ist abgeschlossen.")


@router.post("/faelle/{case_id}/zuweisung", response_class=HTMLResponse)
async def reassign(request: Request, case_id: str, s: Lead) -> Response:
    form = await form_of(request)
    ctx = await _case_context(request, s, case_id)
    fields = ctx["reassign_fields"]
    values = _values(form, fields)
    return await _record(request, s, ctx, "zuweisung", fields, values, _required(values, fields), "POST", "/reassign", dict(values), 200,
                         f"Der Fall ist {values['caseworker']} zugewiesen.")


# --- one goal: adjust it, see its revisions ------------------------------------------------------------







async def _goal_context(request: Request, s: Session, case_id: str, goal_id: str) -> dict[str, Any]:
    api = backend(request)
    cid, gid = uuid_or_gone(case_id), uuid_or_gone(goal_id)
    answer = await api.call(s, "casework", "GET", f"/cases/{cid}")
    if answer.status == 403:
        raise NotInCaseload()
    case = checked(answer)
    plan = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/plan"))
    goal = next((g for g in plan["goals"] if g["goal_id"] == str(gid)), None)
    if goal is None:
        raise Gone()
    revisions = checked(await api.call(s, "casework", "GET", f"/cases/{cid}/goals/{gid}/revisions"))
    members = [str(m) for m in case.get("member_ids", [])]
    persons = _person_labels(members)
    return {"case": case, "goal": goal, "revisions": _changes(revisions, persons), "person_labels": persons, "members": members,
            "fields": _goal_edit_fields(persons), **LABELS}




@router.get("/faelle/{case_id}/ziele/{goal_id}", response_class=HTMLResponse)
async def goal_page(request: Request, case_id: str, goal_id: str, s: Worker) -> HTMLResponse:
    ctx = await _goal_context(request, s, case_id, goal_id)
    return render(request, "cw_goal.html", values=_goal_values(ctx["goal"], ctx["fields"]), errors={}, **ctx)


@router.post("/faelle/{case_id}/ziele/{goal_id}", response_class=HTMLResponse)
async def change_goal(request: Request, case_id: str, goal_id: str, s: Worker) -> Response:
    form = await form_of(request)
    ctx = await _goal_context(request, s, case_id, goal_id)
    fields = ctx["fields"]
    values = _values(form, fields)
    errors = _required(values, fields)
    if values["field_of_action"] and values["field_of_action"] not in fields[0].options:
        errors["field_of_action"] = "Bitte eines der 18 Handlungsfelder wählen."
    if values["person_id"] and values["person_id"] not in ctx["members"]:
        errors["person_id"] = "Die Person gehört nicht zu diesem Fall."
    if not errors:
        current = _goal_values(ctx["goal"], fields)
        body: dict[str, Any] = {k: (v or None) if k == "person_id" else v for k, v in values.items() if v != current[k]}
        path = f"/faelle/{ctx['case']['case_id']}/ziele/{ctx['goal']['goal_id']}"
        if not body:
            s.flash = "Keine Änderung: das Ziel ist unverändert."
            return see_other(path)
        answer = await backend(request).call(s, "casework", "PATCH", f"/cases/{ctx['case']['case_id']}/goals/{ctx['goal']['goal_id']}", json=body)
        if answer.status == 200:
            s.flash = f"Das Ziel ist angepasst (Revision {answer.body['revision']})."
            return see_other(path)
        if answer.status == 403:
            raise NotInCaseload()
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        errors = _at_fields(_field_errors(answer, "_"), fields)
    return render(request, "cw_goal.html", 422, values=values, errors=errors, **ctx)
