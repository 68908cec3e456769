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

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.contracts import codes
from services.contracts.workdays import BERLIN
from services.kit.auth import Role
from services.web.api import common
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


def install(app: Any) -> None:
    async def refused(request: Request, exc: ApiRefused) -> Response:
        return render(request, "error.html", 409, title="Nicht möglich",
                      message="Der Dienst hat die Aktion abgelehnt: "
                              f"{common.german_message(str(exc.answer.body.get('detail') if isinstance(exc.answer.body, dict) else exc.answer.body))}")

    app.add_exception_handler(ApiRefused, refused)
