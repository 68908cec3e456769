"""Front desk screens (DOMAIN.md flow 1; issue 7): the intake interview as a guided form in steps
(household -> persons -> consents -> review), saved as an intake draft after every step (intake's
/intake-drafts API) and resumable from a list; the API's 422 answers shown at the field; after
completion each person's routes and registration status (ABRA gate) and a summary for the newcomer,
as an HTML print view and as a one-page PDF to download (services/web/summary_pdf.py). The list of
drafts comes from intake (GET /intake-drafts): the clerk's own open drafts, the team's open drafts (a
household that comes back the next day meets another clerk at the counter, who resumes and completes a
colleague's draft) and the clerk's recently completed ones.

Issue 14: every step is checked by intake as it is saved (a draft may be incomplete, but a value that
is present and wrong is refused): the form comes back with the errors at their fields and an error
summary that takes the focus. District, nationality and languages are picked from lists with German
names (services/contracts/codes.py, the lists intake validates against); the person form is grouped
in fieldsets and answers nothing in advance (literacy from 6, the ability to work for 15-64);
consents can be given once for the whole household; a household of minors only can be referred to
the youth welfare office (§42a SGB VIII)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.contracts import codes
from services.contracts.workdays import BERLIN
from services.kit import i18n
from services.kit.auth import Role
from services.web import newcomer
from services.web import summary_pdf as summary_document
from services.web.api import common, person_search
from services.web.api.common import ApiRefused, Errors, checked, errors_of, uuid_or_gone
from services.web.api.routes import Gone, backend, form_of, page, render, see_other
from services.web.sessions import Session

router = APIRouter()
FRONT = (Role.FRONT_DESK.value,)
Front = Annotated[Session, Depends(page(*FRONT))]
TEAM_LIST_LIMIT = 200  # open drafts of the whole front desk shown at once (the API's maximum page)
COMPLETED_SHOWN_DAYS = 30  # the clerk's completed drafts stay on the list for 30 days


@dataclass(frozen=True)
class F:
    name: str
    label: str
    kind: str = "text"  # text | date | number | select | checkbox | yesno
    options: dict[str, str] | None = None
    hint: str = ""
    optional: bool = False
    autocomplete: str = "off"
    group: str = ""


ADDRESS_FIELDS = (
    F("district", "Sozialraum", "select", {d: d for d in codes.DISTRICTS}, hint="Sozialraum der Wohnadresse"),
    F("street", "Straße", optional=True),
    F("house_number", "Hausnummer", optional=True),
    F("postcode", "Postleitzahl", hint="5 Ziffern", optional=True),
    F("city", "Ort", optional=True),
)
REFERRAL_FIELD = F("referred_to_youth_welfare", "An das Jugendamt verwiesen: unbegleitete Minderjährige ohne volljährige Person im Haushalt", "checkbox",
                   hint="Das Jugendamt nimmt unbegleitete ausländische Minderjährige vorläufig in Obhut (§ 42a SGB VIII). "
                        "Die Minderjährigen werden dann an das Jugendamt geleitet, nicht an das Fallmanagement.")
LANGUAGE_SLOTS = ("language_1", "language_2", "language_3")
#: the person form in groups (fieldsets): personal data, language, education, work, status
PERSON_GROUPS = (
    ("Angaben zur Person", (
        F("given_name", "Vorname"),
        F("family_name", "Familienname"),
        F("date_of_birth", "Geburtsdatum", "date"),
        F("sex", "Geschlecht", "select", common.SEX),
        F("relation", "Stellung im Haushalt", "select", common.RELATION),
        F("nationality", "Staatsangehörigkeit", "select", codes.nationalities_de(), hint="Liste nach Staaten; am Ende „staatenlos“ und „ungeklärt“"),
    )),
    ("Sprache", (
        F("language_1", "Sprache", "select", codes.languages_de(), optional=True, hint="Sprache, die die Person spricht"),
        F("language_2", "Weitere Sprache", "select", codes.languages_de(), optional=True),
        F("language_3", "Dritte Sprache", "select", codes.languages_de(), optional=True),
        F("german_level", "Deutschkenntnisse", "select", common.GERMAN_LEVEL),
    )),
    ("Bildung", (
        F("literate", "Kann lesen und schreiben", "yesno", common.YES_NO, hint="Ab 6 Jahren; bei jüngeren Kindern leer lassen"),
        F("schooling_years", "Schulbesuch in Jahren", "number", hint="Ganze Zahl, z. B. 10"),
        F("highest_certificate", "Höchster Schulabschluss", "select", common.CERTIFICATE),
        F("vocational_qualification", "Berufsausbildung", optional=True, hint="falls vorhanden"),
    )),
    ("Arbeit", (
        F("work_experience_years", "Berufserfahrung in Jahren", "number", hint="Ganze Zahl, z. B. 0"),
        F("able_to_work", "Erwerbsfähig (mindestens 3 Stunden täglich)", "yesno", common.YES_NO,
          hint="Nur für Personen von 15 bis 64 Jahren; sonst leer lassen"),
    )),
    ("Aufenthalt und Anmeldung", (
        F("health_insurance", "Krankenversicherung", "select", common.HEALTH_INSURANCE),
        F("residence_status", "Aufenthaltsstatus", "select", common.RESIDENCE),
        F("status_since", "Status seit", "date", optional=True, hint="nur bei Duldung erforderlich"),
        F("move_in_date", "Zuzugsdatum", "date"),
        F("wants_registration", "Meldet den Wohnsitz hier an", "yesno", common.YES_NO,
          hint="Bei Staatsangehörigen Bulgariens und Rumäniens folgt das ABRA-Clearing"),
    )),
)
PERSON_FIELDS = tuple(f for _, group in PERSON_GROUPS for f in group)
#: the API's field names (errors are located by them): the language slots are the API's `languages`
KNOWN = tuple(f.name for f in PERSON_FIELDS if f.name not in LANGUAGE_SLOTS) + ("languages",)
STEPS = (("haushalt", "Haushalt und Adresse"), ("personen", "Personen"), ("einwilligungen", "Einwilligungen"), ("pruefen", "Prüfen und abschließen"))


def today() -> date:
    return datetime.now(BERLIN).date()


# ---- form <-> draft content ---------------------------------------------------------------------


def _value(f: F, form: dict[str, str]) -> Any:
    raw = form.get(f.name, "").strip()
    if f.kind == "checkbox":
        return f.name in form
    if raw == "":
        return None
    if f.kind == "yesno":
        return {"ja": True, "nein": False}.get(raw, raw)  # anything else: the API names it
    if f.kind == "number":
        return int(raw) if raw.isdigit() else raw  # the API names a non-number
    return raw


def person_from(form: dict[str, str]) -> dict[str, Any]:
    """The draft's person from the form: what was not answered stays out (the draft may be incomplete;
    intake refuses what is present and wrong)."""
    out: dict[str, Any] = {}
    for f in PERSON_FIELDS:
        if f.name in LANGUAGE_SLOTS:
            continue
        v = _value(f, form)
        if v is not None:
            out[f.name] = v
    chosen = [form.get(slot, "").strip() for slot in LANGUAGE_SLOTS]
    out["languages"] = [{"code": c} for i, c in enumerate(chosen) if c and c not in chosen[:i]]
    return out


def person_values(p: dict[str, Any]) -> dict[str, Any]:
    values = {k: ({True: "ja", False: "nein"}[v] if isinstance(v, bool) else v) for k, v in p.items()}
    for slot, lang in zip(LANGUAGE_SLOTS, p.get("languages") or [], strict=False):
        values[slot] = lang.get("code", "") if isinstance(lang, dict) else ""
    return values


def person_errors(errors: dict[str, str]) -> dict[str, str]:
    """The API names `languages`; the form shows it at the first language list."""
    out = dict(errors)
    if "languages" in out:
        out["language_1"] = out.pop("languages")
    return out


def household_of(content: dict[str, Any]) -> dict[str, Any]:
    return content.setdefault("household", {"district": "", "persons": []})


def address_values(content: dict[str, Any]) -> dict[str, Any]:
    h = household_of(content)
    a = h.get("address") or {}
    return {"district": h.get("district", ""), "referred_to_youth_welfare": bool(h.get("referred_to_youth_welfare")),
            **{k: a.get(k, "") for k in ("street", "house_number", "postcode", "city")}}


def apply_address(content: dict[str, Any], form: dict[str, str]) -> None:
    """The household step's answers; an empty district is kept as "" so that intake names it (the
    step is where the district is chosen)."""
    h = household_of(content)
    h["district"] = form.get("district", "").strip()
    parts = {k: form.get(k, "").strip() for k in ("street", "house_number", "postcode", "city")}
    if any(v for k, v in parts.items() if k != "city"):
        h["address"] = {k: v for k, v in parts.items() if v}
    else:
        h.pop("address", None)
    if REFERRAL_FIELD.name in form:
        h[REFERRAL_FIELD.name] = True
    else:
        h.pop(REFERRAL_FIELD.name, None)


# ---- API access -----------------------------------------------------------------------------------


async def load(request: Request, s: Session, draft_id: str) -> dict[str, Any]:
    body = checked(await backend(request).call(s, "intake", "GET", f"/intake-drafts/{uuid_or_gone(draft_id)}"))
    return body


class Refused(Exception):
    """Intake refused to save the draft (422): what is wrong, located at the form's fields."""

    def __init__(self, errors: Errors) -> None:
        super().__init__("draft refused")
        self.errors = errors


async def save(request: Request, s: Session, draft_id: str | None, content: dict[str, Any]) -> str:
    """Saves the draft; intake checks every value that is present (422 -> Refused, nothing saved)."""
    api = backend(request)
    if draft_id is None:
        answer = await api.call(s, "intake", "POST", "/intake-drafts", json={"content": content})
    else:
        answer = await api.call(s, "intake", "PUT", f"/intake-drafts/{draft_id}", json={"content": content})
    if answer.status == 422:
        raise Refused(errors_of(answer.body, KNOWN))
    body = checked(answer, 201 if draft_id is None else 200)
    return str(body["draft_id"])


def step_context(draft_id: str | None, current: str, errors: dict[str, str] | None = None, summary: list[Any] | None = None,
                 local: bool = False) -> dict[str, Any]:
    """`local`: the errors are at this page's own fields (a step just submitted), not at completion."""
    return {"draft_id": draft_id, "steps": STEPS, "current": current, "errors": errors or {}, "summary": summary or [], "local": local}


def household_page(request: Request, draft_id: str | None, values: dict[str, Any], errors: Errors | None = None, *, local: bool = True) -> HTMLResponse:
    action = f"/erstgespraech/{draft_id}/haushalt" if draft_id else "/erstgespraech/neu"
    errors = errors or Errors()
    return render(request, "fd_household.html", 422 if errors.items else 200, fields=ADDRESS_FIELDS, referral=REFERRAL_FIELD, values=values,
                  action=action, **step_context(draft_id, "haushalt", errors.at("haushalt"), errors.items, local=local))


def person_page(request: Request, draft_id: str, index: str, values: dict[str, Any], errors: Errors | None = None, *, at: int | None = None,
                local: bool = True) -> HTMLResponse:
    errors = errors or Errors()
    return render(request, "fd_person.html", 422 if errors.items else 200, groups=PERSON_GROUPS, values=values, index=index, here_person=at,
                  **step_context(draft_id, "personen", person_errors(errors.at("person", at)), errors.items, local=local))


# ---- list and household step --------------------------------------------------------------------


def _row(d: dict[str, Any]) -> dict[str, Any]:
    if not d["readable"]:
        names = "(Daten gelöscht)"
    elif d["completed_intake_id"]:
        names = f"{d['person_count']} Person{'en' if d['person_count'] != 1 else ''}" if d["person_count"] is not None else "–"
    else:
        names = ", ".join(d["names"]) or "(noch keine Personen)"
    return {**d, "id": d["draft_id"], "label": names}


@router.get("/erstgespraeche", response_class=HTMLResponse)
async def drafts(request: Request, s: Front) -> HTMLResponse:
    """The clerk's open drafts, the team's open drafts (started by colleagues) and the clerk's drafts
    completed in the last 30 days, each from intake's list (names are audit-logged there)."""
    api = backend(request)
    open_all = checked(await api.call(s, "intake", "GET", "/intake-drafts", params={"created_by": "all", "state": "open", "limit": TEAM_LIST_LIMIT}))
    since = (datetime.now(BERLIN) - timedelta(days=COMPLETED_SHOWN_DAYS)).isoformat()
    done = checked(await api.call(s, "intake", "GET", "/intake-drafts", params={"created_by": "me", "state": "completed", "updated_since": since, "limit": 50}))
    rows = [_row(d) for d in open_all["drafts"]]
    return render(request, "fd_drafts.html", own=[r for r in rows if r["created_by"] == s.username],
                  team=[r for r in rows if r["created_by"] != s.username], more=open_all["total"] - len(rows),
                  completed=[_row(d) for d in done["drafts"]])


@router.get("/erstgespraech/neu", response_class=HTMLResponse)
async def new_interview(request: Request, s: Front) -> HTMLResponse:
    return household_page(request, None, {"city": "Hamm"})


@router.post("/erstgespraech/neu")
async def start_interview(request: Request, s: Front) -> Response:
    form = await form_of(request)
    content: dict[str, Any] = {"household": {"persons": []}}
    apply_address(content, form)
    try:
        draft_id = await save(request, s, None, content)
    except Refused as refused:
        return household_page(request, None, {**form, "referred_to_youth_welfare": REFERRAL_FIELD.name in form}, refused.errors)
    s.flash = "Das Erstgespräch ist als Entwurf gespeichert."
    return see_other(f"/erstgespraech/{draft_id}/personen")


@router.get("/erstgespraech/{draft_id}/haushalt", response_class=HTMLResponse)
async def household_step(request: Request, draft_id: str, s: Front) -> HTMLResponse:
    d = await load(request, s, draft_id)
    return household_page(request, draft_id, address_values(d["content"]))


@router.post("/erstgespraech/{draft_id}/haushalt")
async def save_household(request: Request, draft_id: str, s: Front) -> Response:
    form = await form_of(request)
    d = await load(request, s, draft_id)
    apply_address(d["content"], form)
    try:
        await save(request, s, draft_id, d["content"])
    except Refused as refused:
        return household_page(request, draft_id, {**form, "referred_to_youth_welfare": REFERRAL_FIELD.name in form}, refused.errors)
    return see_other(f"/erstgespraech/{draft_id}/personen")


# ---- persons --------------------------------------------------------------------------------------


@router.get("/erstgespraech/{draft_id}/personen", response_class=HTMLResponse)
async def persons_step(request: Request, draft_id: str, s: Front) -> HTMLResponse:
    d = await load(request, s, draft_id)
    return render(request, "fd_persons.html", persons=household_of(d["content"]).get("persons", []), labels=common,
                  **step_context(draft_id, "personen"))


@router.get("/erstgespraech/{draft_id}/person/{index}", response_class=HTMLResponse)
async def person_form(request: Request, draft_id: str, index: str, s: Front) -> HTMLResponse:
    d = await load(request, s, draft_id)
    persons = household_of(d["content"]).get("persons", [])
    if index == "neu":  # what the household shares comes from the first person; nothing about the new person is assumed
        first = person_values(persons[0]) if persons else {}
        values: dict[str, Any] = {k: first.get(k, "") for k in ("family_name", "nationality", "residence_status", *LANGUAGE_SLOTS)}
        values["move_in_date"] = first.get("move_in_date", today().isoformat())
    else:
        n = _index(index, persons)
        values = person_values(persons[n])
    return person_page(request, draft_id, index, values)


def _index(index: str, persons: list[Any]) -> int:
    if not index.isdigit() or int(index) >= len(persons):
        raise Gone()
    return int(index)


@router.post("/erstgespraech/{draft_id}/person/{index}")
async def save_person(request: Request, draft_id: str, index: str, s: Front) -> Response:
    form = await form_of(request)
    d = await load(request, s, draft_id)
    persons = household_of(d["content"]).setdefault("persons", [])
    person = person_from(form)
    if index == "neu":
        person["consents"] = []
        persons.append(person)
        n = len(persons) - 1
        flash = "Die Person ist hinzugefügt."
    else:
        n = _index(index, persons)
        person["consents"] = persons[n].get("consents", [])
        persons[n] = person
        flash = "Die Angaben zur Person sind gespeichert."
    try:
        await save(request, s, draft_id, d["content"])
    except Refused as refused:  # nothing saved: the form again, with what was entered and the errors at their fields
        return person_page(request, draft_id, index, {**form}, refused.errors, at=n)
    s.flash = flash
    return see_other(f"/erstgespraech/{draft_id}/personen")


@router.post("/erstgespraech/{draft_id}/person/{index}/entfernen")
async def remove_person(request: Request, draft_id: str, index: str, s: Front) -> Response:
    await form_of(request)
    d = await load(request, s, draft_id)
    persons = household_of(d["content"]).setdefault("persons", [])
    persons.pop(_index(index, persons))
    await save(request, s, draft_id, d["content"])
    s.flash = "Die Person ist entfernt."
    return see_other(f"/erstgespraech/{draft_id}/personen")


# ---- consents -------------------------------------------------------------------------------------


@router.get("/erstgespraech/{draft_id}/einwilligungen", response_class=HTMLResponse)
async def consents_step(request: Request, draft_id: str, s: Front) -> HTMLResponse:
    d = await load(request, s, draft_id)
    return _consents_page(request, draft_id, d["content"], Errors())


def _consents_page(request: Request, draft_id: str, content: dict[str, Any], errors: Errors, status: int = 200) -> HTMLResponse:
    persons = household_of(content).get("persons", [])
    given = {i: {f"{c['partner']}:{c['purpose']}" for c in p.get("consents", []) if isinstance(c, dict) and "partner" in c and "purpose" in c}
             for i, p in enumerate(persons)}
    on = next((c.get("given_on") for p in persons for c in p.get("consents", []) if isinstance(c, dict) and c.get("given_on")), today().isoformat())
    per_person = {i: errors.at("einwilligungen", i) for i in range(len(persons))}
    everyone = set.intersection(*given.values()) if len(given) > 1 else set()
    minors = {i for i, p in enumerate(persons) if _minor(p)}
    referred = bool(household_of(content).get("referred_to_youth_welfare"))
    return render(request, "fd_consents.html", status, persons=persons, given=given, everyone=everyone, given_on=on, consents=common.CONSENTS,
                  minors=minors, referred=referred, person_errors=per_person, **step_context(draft_id, "einwilligungen", summary=errors.items))


def _minor(p: dict[str, Any]) -> bool:
    """Under 18 today, for the consent page's note on who consents (the guardian); unknown: no note."""
    try:
        born = date.fromisoformat(str(p.get("date_of_birth")))
    except ValueError:
        return False
    t = today()
    return t.year - born.year - ((t.month, t.day) < (born.month, born.day)) < 18


@router.post("/erstgespraech/{draft_id}/einwilligungen")
async def save_consents(request: Request, draft_id: str, s: Front) -> Response:
    """A consent ticked for the whole household applies to every person, besides what is ticked per person."""
    form = await request.form()
    await form_of(request)
    d = await load(request, s, draft_id)
    persons = household_of(d["content"]).get("persons", [])
    on = str(form.get("given_on", "")).strip() or today().isoformat()
    household = [str(v) for v in form.getlist("consent-haushalt") if str(v) in common.CONSENTS]
    for i, p in enumerate(persons):
        chosen = household + [str(v) for v in form.getlist(f"consent-{i}") if str(v) in common.CONSENTS and str(v) not in household]
        p["consents"] = [{"partner": c.split(":")[0], "purpose": c.split(":")[1], "given_on": on} for c in chosen]
    try:
        await save(request, s, draft_id, d["content"])
    except Refused as refused:
        return _consents_page(request, draft_id, d["content"], refused.errors, 422)
    return see_other(f"/erstgespraech/{draft_id}/pruefen")


# ---- review and completion ------------------------------------------------------------------------


@router.get("/erstgespraech/{draft_id}/pruefen", response_class=HTMLResponse)
async def review_step(request: Request, draft_id: str, s: Front) -> Response:
    d = await load(request, s, draft_id)
    if d.get("completed_intake_id"):
        return see_other(f"/haushalt/{d['completed_intake_id']}")
    known = await person_search.known_households(request, s, household_of(d["content"]).get("persons", []))
    return _review_page(request, draft_id, d["content"], Errors(), known=known)


def _review_page(request: Request, draft_id: str, content: dict[str, Any], errors: Errors, status: int = 200,
                 known: list[dict[str, Any]] | None = None, warned: bool = False) -> HTMLResponse:
    """The review step; `known` are households intake already knows with a likely match (issue 14): the
    page warns, links to them and completes only on an explicit "neuer Haushalt" (`warned`: the clerk
    pressed the plain completion and is sent back to the warning)."""
    h = household_of(content)
    return render(request, "fd_review.html", status, household=h, address=address_values(content), persons=h.get("persons", []), labels=common,
                  fields=PERSON_FIELDS, nationalities=codes.nationalities_de(), languages=codes.languages_de(), general=errors.at("pruefen").get("_"),
                  known=known or [], warned=warned,
                  **step_context(draft_id, "pruefen", summary=errors.items))


@router.post("/erstgespraech/{draft_id}/abschliessen")
async def complete(request: Request, draft_id: str, s: Front) -> Response:
    """Completes the draft; unless the clerk confirmed a new household (`neuer_haushalt`), checks first
    whether intake knows one of its persons already and then shows the warning instead (409)."""
    form = await form_of(request)
    d = await load(request, s, draft_id)
    if form.get("neuer_haushalt") != "ja" and not d.get("completed_intake_id"):
        known = await person_search.known_households(request, s, household_of(d["content"]).get("persons", []))
        if known:
            return _review_page(request, draft_id, d["content"], Errors(), 409, known=known, warned=True)
    answer = await backend(request).call(s, "intake", "POST", f"/intake-drafts/{uuid_or_gone(draft_id)}/complete")
    if answer.status in (200, 201):
        s.flash = "Das Erstgespräch ist abgeschlossen."
        return see_other(f"/haushalt/{answer.body['intake_id']}")
    if answer.status not in (409, 422):
        checked(answer, 201)
    errors = errors_of(answer.body, KNOWN)
    first = errors.items[0]
    content = d["content"]
    if first.step == "haushalt":
        return household_page(request, draft_id, address_values(content), errors, local=False)
    if first.step == "person" and first.person is not None and first.person < len(household_of(content).get("persons", [])):
        p = household_of(content)["persons"][first.person]
        return person_page(request, draft_id, str(first.person), person_values(p), errors, at=first.person, local=False)
    if first.step == "einwilligungen":
        return _consents_page(request, draft_id, content, errors, 422)
    if first.step == "personen":
        return render(request, "fd_persons.html", 422, persons=household_of(content).get("persons", []), labels=common,
                      general=first.message, **step_context(draft_id, "personen", summary=errors.items))
    return _review_page(request, draft_id, content, errors, 422)


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


def install(app: Any) -> None:
    async def refused(request: Request, exc: ApiRefused) -> Response:
        return render(request, "error.html", 409, title="Nicht möglich",
                      message="Der Dienst hat die Aktion abgelehnt: "
                              f"{common.german_message(str(exc.answer.body.get('detail') if isinstance(exc.answer.body, dict) else exc.answer.body))}")

    app.add_exception_handler(ApiRefused, refused)
