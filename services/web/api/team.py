"""Team lead screens for the caseworker register (DOMAIN.md flow 3; 001 "feste Zuständigkeit nach
Sozialraum"; 000 "Soziales Fallmanagement", Betreuungsschlüssel 1:190): every caseworker with
districts, languages, FTE, caseload against the target of the ratio and the cap, and leave with the
substitute; forms to add a caseworker, to change districts, languages, FTE and cap, and to record the
start or end of a leave. Casework enforces the rules (cap from the FTE, the substitute a registered
colleague) and its 409/422 answers are shown at the fields."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.kit.auth import Role
from services.web.api.common import ApiRefused, checked, german_message
from services.web.api.front_desk import F
from services.web.api.routes import Gone, backend, form_of, page, render, see_other
from services.web.backend import Answer
from services.web.sessions import Session

router = APIRouter()
Lead = Annotated[Session, Depends(page(Role.TEAM_LEAD.value))]
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,200}$")

NEW_FIELDS = (
    F("username", "Benutzername der Fachkraft", hint="Der Anmeldename, z. B. caseworker5."),
    F("districts", "Sozialräume", hint="Durch Komma getrennt, z. B. Westen, Mitte."),
    F("languages", "Sprachen", hint="Zweistellige Sprachcodes durch Komma getrennt, z. B. de, ar.", optional=True),
    F("fte", "Stellenanteil (VZÄ)", hint="1 für eine volle Stelle, 0,5 für eine halbe; die Obergrenze ist 190 Fälle je Vollzeitstelle."),
)
CHANGE_FIELDS = (
    F("districts", "Sozialräume", hint="Durch Komma getrennt, z. B. Westen, Mitte."),
    F("languages", "Sprachen", hint="Zweistellige Sprachcodes durch Komma getrennt, z. B. de, ar.", optional=True),
    F("fte", "Stellenanteil (VZÄ)", hint="1 für eine volle Stelle, 0,5 für eine halbe."),
    F("cap", "Abweichende Obergrenze (Fälle)", hint="Leer lassen: 190 Fälle je Vollzeitstelle.", optional=True),
)
#: casework's reasons in German (services/casework), checked before the general rules.
_MESSAGES = (
    ("already in the register", "Diese Fachkraft ist bereits im Register."),
    ("substitute must be another registered caseworker", "Die Vertretung muss eine andere Fachkraft aus dem Register sein."),
    ("no such caseworker", "Diese Fachkraft ist nicht im Register."),
)
_FIELD_MESSAGES = {
    "fte": "Der Stellenanteil liegt über 0 und höchstens bei 1,5 (z. B. 0,5 für eine halbe Stelle).",
    "cap": "Die Obergrenze ist eine ganze Zahl von 0 bis 1000.",
    "languages": "Bitte zweistellige Sprachcodes angeben, z. B. de, ar.",
    "districts": "Bitte mindestens einen Sozialraum angeben (je höchstens 64 Zeichen).",
    "username": "Der Benutzername besteht aus Buchstaben, Ziffern und . _ @ - (ohne Leerzeichen).",
}


def _german(msg: str, field: str) -> str:
    for english, german in _MESSAGES:
        if english in msg:
            return german
    return _FIELD_MESSAGES.get(field) or german_message(msg)


def _api_errors(answer: Answer, known: tuple[str, ...]) -> dict[str, str]:
    """casework's 409/422 at the form's fields (the first location after "body"); others to the summary."""
    body = answer.body if isinstance(answer.body, dict) else {}
    detail = body.get("detail")
    errors: dict[str, str] = {}
    if isinstance(detail, list):
        for d in detail:
            loc = [str(p) for p in d.get("loc", []) if p != "body"]
            field = loc[0] if loc and loc[0] in known else "_"
            errors.setdefault(field, _german(str(d.get("msg", "")), field))
    else:
        field = body.get("field") if body.get("field") in known else "_"
        errors[field] = _german(str(detail or answer.body), field)
    return errors


def _items(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def de_number(value: Any) -> str:
    return f"{float(value):g}".replace(".", ",")


def _values(form: dict[str, str], fields: tuple[F, ...]) -> dict[str, str]:
    return {f.name: form.get(f.name, "").strip() for f in fields}


def _register_body(values: dict[str, str], fields: tuple[F, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    """The form as casework's body; what cannot be sent at all (empty, not a number) as German errors."""
    errors = {f.name: "Bitte ausfüllen." for f in fields if not f.optional and not values.get(f.name)}
    body: dict[str, Any] = {}
    if "username" in values:
        body["username"] = values["username"]
    body["districts"] = _items(values["districts"])
    body["languages"] = _items(values["languages"])
    if values["fte"]:
        fte = _number(values["fte"])
        if fte is None:
            errors["fte"] = "Bitte eine Zahl angeben, z. B. 1 oder 0,5."
        body["fte"] = fte
    if values.get("cap"):
        if not values["cap"].isdigit():
            errors["cap"] = "Bitte eine ganze Zahl angeben."
        else:
            body["cap"] = int(values["cap"])
    return body, errors


async def _register(request: Request, s: Session) -> list[dict[str, Any]]:
    return checked(await backend(request).call(s, "casework", "GET", "/caseworkers"))


def _list_page(request: Request, caseworkers: list[dict[str, Any]], status: int = 200, errors: dict[str, str] | None = None,
               values: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "team_caseworkers.html", status, caseworkers=caseworkers, fields=NEW_FIELDS, errors=errors or {},
                  values=values or {}, de_number=de_number)


@router.get("/team/fachkraefte", response_class=HTMLResponse)
async def caseworkers(request: Request, s: Lead) -> HTMLResponse:
    return _list_page(request, await _register(request, s))


@router.post("/team/fachkraefte", response_class=HTMLResponse)
async def add_caseworker(request: Request, s: Lead) -> Response:
    form = await form_of(request)
    values = _values(form, NEW_FIELDS)
    body, errors = _register_body(values, NEW_FIELDS)
    if not errors:
        answer = await backend(request).call(s, "casework", "POST", "/caseworkers", json=body)
        if answer.status == 201:
            cw = answer.body
            s.flash = (f"{cw['username']} ist im Register (Obergrenze {cw['cap']} Fälle)"
                       + (f"; {cw['caseload']} wartende Fälle sind gleich zugewiesen." if cw["caseload"] else "."))
            return see_other("/team/fachkraefte")
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        errors = _api_errors(answer, tuple(f.name for f in NEW_FIELDS))
    return _list_page(request, await _register(request, s), 422, errors, values)


async def _caseworker(request: Request, s: Session, username: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not USERNAME.match(username):
        raise Gone()
    register = await _register(request, s)
    cw = next((c for c in register if c["username"] == username), None)
    if cw is None:
        raise Gone()
    return cw, register


def _current(cw: dict[str, Any]) -> dict[str, str]:
    return {"districts": ", ".join(cw["districts"]), "languages": ", ".join(cw["languages"]), "fte": de_number(cw["fte"]),
            "cap": str(cw["cap"]) if cw["cap"] != cw["target"] else ""}


def _detail_page(request: Request, cw: dict[str, Any], register: list[dict[str, Any]], status: int = 200, failed: str = "",
                 errors: dict[str, str] | None = None, values: dict[str, str] | None = None) -> HTMLResponse:
    substitutes = {c["username"]: f"{c['username']} ({c['caseload']} von {c['cap']} Fällen)" for c in register if c["username"] != cw["username"]}
    leave_fields = (F("substitute", "Vertretung", "select", substitutes, hint="Die Vertretung sieht und bearbeitet die Fälle während der Abwesenheit.",
                      optional=True),)
    return render(request, "team_caseworker.html", status, cw=cw, change_fields=CHANGE_FIELDS, leave_fields=leave_fields, failed=failed,
                  errors=errors or {}, values=values if values is not None else _current(cw), de_number=de_number)


@router.get("/team/fachkraefte/{username}", response_class=HTMLResponse)
async def caseworker(request: Request, username: str, s: Lead) -> HTMLResponse:
    cw, register = await _caseworker(request, s, username)
    return _detail_page(request, cw, register)


@router.post("/team/fachkraefte/{username}", response_class=HTMLResponse)
async def change_caseworker(request: Request, username: str, s: Lead) -> Response:
    form = await form_of(request)
    cw, register = await _caseworker(request, s, username)
    values = _values(form, CHANGE_FIELDS)
    body, errors = _register_body(values, CHANGE_FIELDS)  # without a cap, casework sets it to 190 x FTE again
    if not errors:
        answer = await backend(request).call(s, "casework", "PATCH", f"/caseworkers/{username}", json=body)
        if answer.status == 200:
            c = answer.body
            s.flash = f"{username}: Sozialräume {', '.join(c['districts'])}, Stellenanteil {de_number(c['fte'])}, Obergrenze {c['cap']} Fälle."
            return see_other(f"/team/fachkraefte/{username}")
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        errors = _api_errors(answer, tuple(f.name for f in CHANGE_FIELDS))
    return _detail_page(request, cw, register, 422, "stammdaten", errors, values)


@router.post("/team/fachkraefte/{username}/abwesenheit", response_class=HTMLResponse)
async def record_leave(request: Request, username: str, s: Lead) -> Response:
    form = await form_of(request)
    cw, register = await _caseworker(request, s, username)
    values = {"action": form.get("action", ""), "substitute": form.get("substitute", "").strip()}
    errors: dict[str, str] = {}
    if values["action"] not in ("start", "end"):
        errors["_"] = "Bitte Beginn oder Ende der Abwesenheit wählen."
    if not errors:
        body = {"on_leave": values["action"] == "start", "substitute": values["substitute"] or None if values["action"] == "start" else None}
        answer = await backend(request).call(s, "casework", "POST", f"/caseworkers/{username}/leave", json=body)
        if answer.status == 200:
            c = answer.body
            s.flash = (f"Abwesenheit von {username} erfasst" + (f", Vertretung: {c['substitute']}." if c["substitute"] else " (ohne Vertretung).")
                       if c["on_leave"] else f"{username} ist wieder anwesend.")
            return see_other(f"/team/fachkraefte/{username}")
        if answer.status not in (409, 422):
            raise ApiRefused(answer)
        errors = _api_errors(answer, ("substitute",))
    return _detail_page(request, cw, register, 422, "abwesenheit", errors, values)
