"""Finding a known person (issue 14): "Personen suchen" for the front desk and casework (by name in any
script or spelling, birth date, and for casework the case number), and the duplicate warning of the
intake interview (intake's POST /intakes/duplicate-check) before a second household is created. Intake
ranks on its blind index and audit-logs every search and every person it shows; the case number goes to
casework, which shows a caseworker only the cases of their caseload."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from services.kit.auth import Role
from services.web.api.common import checked
from services.web.api.routes import backend, form_of, page, render
from services.web.sessions import Session

router = APIRouter()
SEARCHERS = (Role.FRONT_DESK.value, Role.CASEWORKER.value, Role.TEAM_LEAD.value, Role.DATA_PROTECTION_OFFICER.value)
CASEWORK = (Role.CASEWORKER.value, Role.TEAM_LEAD.value)
Searcher = Annotated[Session, Depends(page(*SEARCHERS))]
SHOWN = 20
_CASE_NUMBER = re.compile(r"^[0-9a-f]{8}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# ---- duplicate warning of the intake interview ------------------------------------------------------


def _checkable(p: Any) -> dict[str, str] | None:
    """A draft person with both names and a valid birth date (what the duplicate check compares)."""
    if not isinstance(p, dict):
        return None
    given, family, born = (str(p.get(k) or "").strip() for k in ("given_name", "family_name", "date_of_birth"))
    try:
        date.fromisoformat(born)
    except ValueError:
        return None
    if not given or not family or len(given) > 100 or len(family) > 100:
        return None
    return {"given_name": given, "family_name": family, "date_of_birth": born}


async def known_households(request: Request, s: Session, persons: list[Any]) -> list[dict[str, Any]]:
    """The households intake already knows with a person who is likely one of the draft's `persons`,
    each with its known persons and which of the draft's persons they match (positions from 0)."""
    checked_persons: list[dict[str, str]] = []
    positions: list[int] = []
    for i, p in enumerate(persons):
        c = _checkable(p)
        if c is not None:
            checked_persons.append(c)
            positions.append(i)
    if not checked_persons:
        return []
    answer = await backend(request).call(s, "intake", "POST", "/intakes/duplicate-check", json={"persons": checked_persons})
    if answer.status == 422:  # a form value intake refuses is shown when the draft is completed
        return []
    households = checked(answer)["households"]
    for h in households:
        for kp in h["persons"]:
            kp["matches"] = [positions[m] for m in kp["matches"]]
    return households


# ---- the search screen ----------------------------------------------------------------------------


async def _by_case_number(request: Request, s: Session, number: str) -> tuple[list[dict[str, Any]], str | None]:
    """The household of a case (full id or its first 8 characters, as the case page shows it): persons
    from intake, the case from casework (a caseworker's own caseload only)."""
    api = backend(request)
    case = None
    if len(number) == 36:
        answer = await api.call(s, "casework", "GET", f"/cases/{uuid.UUID(number)}")
        if answer.status == 403:
            return [], "Dieser Fall gehört nicht zu Ihrer Fallzahl."
        case = checked(answer) if answer.status != 404 else None
    else:
        offset = 0
        while case is None:
            page_ = checked(await api.call(s, "casework", "GET", "/cases", params={"limit": 1000, "offset": offset}))
            case = next((c for c in page_["cases"] if c["case_id"].startswith(number)), None)
            offset += 1000
            if offset >= page_["total"]:
                break
    if case is None or not case.get("intake_id"):
        return [], None
    intake = checked(await api.call(s, "intake", "GET", f"/intakes/{case['intake_id']}"))
    rows = [{**p, "intake_id": intake["intake_id"], "household_id": intake["household_id"], "district": intake["district"], "case_id": case["case_id"]}
            for p in intake["persons"] if not p.get("erased")]
    return rows, None


async def _cases_of(request: Request, s: Session, household_ids: set[str]) -> dict[str, str]:
    """household id -> the caseworker's (team lead: any) open or closed case of it, from casework."""
    out: dict[str, str] = {}
    for hid in sorted(household_ids):
        answer = await backend(request).call(s, "casework", "GET", "/cases", params={"household_id": hid, "limit": 1})
        if answer.status == 200 and answer.body["cases"]:
            out[hid] = answer.body["cases"][0]["case_id"]
    return out


@router.get("/personen/suche", response_class=HTMLResponse)
async def search_form(request: Request, s: Searcher) -> HTMLResponse:
    return render(request, "person_search.html", values={}, errors={}, hits=None, more=False, note=None,
                  casework=s.has(*CASEWORK), front_desk=s.has(Role.FRONT_DESK.value), dpo=s.has(Role.DATA_PROTECTION_OFFICER.value))


@router.post("/personen/suche", response_class=HTMLResponse)
async def search_page(request: Request, s: Searcher) -> HTMLResponse:
    """Search by name and/or birth date (intake's GET /persons/search) or, for casework, by case number.
    The form is posted, so names never stand in a URL (browser history, proxy logs)."""
    form = await form_of(request)
    casework = s.has(*CASEWORK)
    values = {k: form.get(k, "").strip()[:200] for k in ("name", "geburtsdatum", "fallnummer")}
    values["fallnummer"] = values["fallnummer"].lower()
    errors: dict[str, str] = {}
    hits: list[dict[str, Any]] | None = None
    more = False
    note = None
    if values["fallnummer"] and casework:
        if not _CASE_NUMBER.match(values["fallnummer"]):
            errors["fallnummer"] = "Die Fallnummer hat 8 Zeichen (0–9, a–f), wie auf der Fallseite, oder ist die vollständige Fall-ID."
        else:
            hits, note = await _by_case_number(request, s, values["fallnummer"])
    else:
        born = None
        if values["geburtsdatum"]:
            try:
                born = date.fromisoformat(values["geburtsdatum"])
            except ValueError:
                errors["geburtsdatum"] = "Bitte ein gültiges Datum angeben."
        if not errors:
            params: dict[str, Any] = {"limit": SHOWN}
            if values["name"]:
                params["q"] = values["name"]
            if born:
                params["date_of_birth"] = born.isoformat()
            answer = await backend(request).call(s, "intake", "GET", "/persons/search", params=params)
            if answer.status == 422:
                errors["name"] = "Bitte mindestens 2 Buchstaben eines Namens oder ein Geburtsdatum angeben."
            else:
                body = checked(answer)
                hits, more = body["hits"], body["more"]
    if hits is not None and casework:
        cases = await _cases_of(request, s, {h["household_id"] for h in hits if not h.get("case_id")})
        for h in hits:
            h.setdefault("case_id", cases.get(h["household_id"]))
    return render(request, "person_search.html", 422 if errors else 200, values=values, errors=errors, hits=hits, more=more,
                  note=note, casework=casework, front_desk=s.has(Role.FRONT_DESK.value),
                  dpo=s.has(Role.DATA_PROTECTION_OFFICER.value))
