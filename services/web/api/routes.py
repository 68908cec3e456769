"""The pages of the staff web application. Every page names the roles that may see it (`page(...)`),
every form carries the session's CSRF token (synchronizer token, checked by `form_of`), and every
read or action goes to a service's API with the signed-in user's token."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jwt
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.auth import Role
from services.web import navigation
from services.web.backend import SERVICE_LABELS, Backend, ServiceUnavailable, SignInLocked, SignInRequired
from services.web.sessions import Session

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

#: The ops API's reasons (services/kit/ops.py) in German for the console.
_REASONS = (
    (re.compile(r"^timer (\S+) overdue since (\S{16})"), "Zeitgeber {0} überfällig seit {1}"),
    (re.compile(r"^activity (\S+) in attempt (\d+)"), "Aktivität {0} im {1}. Versuch"),
    (re.compile(r"^workflow task failing \(attempt (\d+)\)"), "Worker scheitert an der Workflow-Aufgabe ({0}. Versuch)"),
    (re.compile(r"^workflow task not picked up since (\S{16})"), "kein Worker nimmt die Arbeit an, seit {0}"),
)


def german_reason(text: str) -> str:
    for pattern, german in _REASONS:
        m = pattern.match(text)
        if m:
            return german.format(*(g.replace("T", " ") for g in m.groups()))
    return text


TEMPLATES.env.filters["german_reason"] = german_reason
router = APIRouter()
OPERATOR = (Role.OPERATOR.value,)
#: German names of the alert kinds the services raise (kit alerts); unknown kinds are shown as they are.
ALERT_KINDS = {"reminder": "Erinnerung", "escalation": "Eskalation", "deadline": "Frist", "overdue": "überfällig"}


class Denied(Exception):
    """The signed-in user lacks the role for this page or action."""


class CsrfFailed(Exception):
    pass


class Gone(Exception):
    """A placeholder or record that does not exist."""


# ---- helpers ------------------------------------------------------------------------------------


def backend(request: Request) -> Backend:
    return request.app.state.backend


def session_of(request: Request) -> Session:
    return request.state.session


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def page(*roles: str):  # noqa: ANN201 - returns a FastAPI dependency
    """Dependency: signed in, holding one of `roles` (none given = any staff role), with a live token; a POST
    (any unsafe method) also carries the session's CSRF token, checked before the handler runs."""

    async def check(request: Request) -> Session:
        s = session_of(request)
        if not s.signed_in:
            raise SignInRequired()
        if s.token_expires and s.token_expires < time.time() + 30:
            oidc = request.app.state.oidc
            if oidc is None or not await oidc.refresh(s):
                raise SignInRequired()
        if roles and not s.has(*roles):
            raise Denied()
        if not roles and not s.roles:
            raise Denied()
        if request.method not in SAFE_METHODS:  # every form of every screen: its CSRF token before the handler runs
            await form_of(request)
        return s

    check.allowed = roles  # type: ignore[attr-defined]
    return check


async def form_of(request: Request) -> dict[str, str]:
    """The submitted form, after checking its CSRF token against the session's."""
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not secrets.compare_digest(sent, session_of(request).csrf):
        raise CsrfFailed()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    s = session_of(request)
    flash, s.flash = s.flash, None
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "session": s,
            "csrf": s.csrf,
            "nav": navigation.items_for(s.roles) if s.signed_in else [],
            "role_labels": navigation.ROLE_LABELS,
            "service_labels": SERVICE_LABELS,
            "alert_kinds": ALERT_KINDS,
            "path": request.url.path,
            "flash": flash,
            **context,
        },
        status_code=status_code,
    )


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def install_error_pages(app: FastAPI) -> None:
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        s = session_of(request)
        if s.signed_in:  # the service no longer accepts the token: end the session
            await request.app.state.sessions.delete(s)
            request.state.session = request.app.state.sessions.new()
            request.state.session.flash = "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an."
        target = request.url.path if request.method == "GET" else "/"
        return see_other(f"/anmelden?weiter={quote(target)}")

    async def denied(request: Request, exc: Denied) -> Response:
        return render(request, "error.html", 403, title="Keine Berechtigung",
                      message="Für diese Seite fehlt Ihnen die Rolle. Wenden Sie sich an Ihre Teamleitung, wenn Sie sie brauchen.")

    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return render(request, "error.html", 403, title="Formular abgelaufen",
                      message="Das Formular war nicht mehr gültig. Bitte laden Sie die Seite neu und senden Sie es erneut.")

    async def unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return render(request, "error.html", 502, title="Dienst nicht erreichbar",
                      message=f"Der Dienst {SERVICE_LABELS.get(exc.service, exc.service)} antwortet gerade nicht. Bitte versuchen Sie es später erneut.")

    async def gone(request: Request, exc: Gone) -> Response:
        return render(request, "error.html", 404, title="Nicht gefunden", message="Diese Seite gibt es nicht.")

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return render(request, "error.html", 405, title="Nicht möglich", message="Diese Aktion ist hier nicht möglich.")
        return render(request, "error.html", 404, title="Nicht gefunden", message="Diese Seite gibt es nicht.")

    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "error.html", 404, title="Nicht gefunden", message="Diese Seite gibt es nicht.")

    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(SignInRequired, sign_in_required)  # type: ignore[arg-type]
    app.add_exception_handler(Denied, denied)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfFailed, csrf_failed)  # type: ignore[arg-type]
    app.add_exception_handler(ServiceUnavailable, unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(Gone, gone)  # type: ignore[arg-type]


# ---- health, sign-in, sign-out ------------------------------------------------------------------


@router.get("/health")
async def health(request: Request) -> dict[str, str]:
    await request.app.state.sessions.redis.ping()  # no sessions without Redis
    return {"status": "ok", "service": "web"}


@router.get("/anmelden", response_class=HTMLResponse)
async def sign_in_form(request: Request, weiter: str | None = None, abgemeldet: bool = False) -> HTMLResponse:
    s = session_of(request)
    if s.signed_in:
        return see_other(safe_next(weiter))  # type: ignore[return-value]
    oidc = request.app.state.settings.sign_in == "oidc"
    return render(request, "sign_in.html", weiter=safe_next(weiter), errors={}, username="", oidc=oidc, signed_out=abgemeldet)


@router.post("/anmelden", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    if request.app.state.settings.sign_in != "local":
        raise Gone()
    form = await form_of(request)
    username = form.get("username", "").strip()
    password = form.get("password", "")
    target = safe_next(form.get("weiter"))
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Bitte geben Sie Ihren Benutzernamen ein."
    elif len(username) > 100:
        errors["username"] = "Der Benutzername ist zu lang (höchstens 100 Zeichen)."
    if not password:
        errors["password"] = "Bitte geben Sie Ihr Passwort ein."
    token, status = None, 422
    if not errors:
        try:
            token = await backend(request).password_token(request.app.state.settings.token_service, username, password, client_address(request))
        except SignInLocked as locked:
            status, errors["password"] = 429, locked_message(locked.seconds)
        else:
            if token is None:
                errors["password"] = "Benutzername oder Passwort ist falsch."
    if errors or token is None:
        return render(request, "sign_in.html", status, weiter=target, errors=errors, username=username, oidc=False, signed_out=False)
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})  # from the service itself, just now
    s = await request.app.state.sessions.rotate(session_of(request))
    now = time.time()
    s.username = str(claims["sub"])
    s.display_name = str(claims.get("name") or claims["sub"])
    s.roles = sorted(r for r in claims.get("roles", []) if r in navigation.ALL_ROLES)
    s.token = token["access_token"]
    s.token_expires = float(claims.get("exp") or now + int(token.get("expires_in", 0)))
    s.signed_in_at = now
    request.state.session = s
    return see_other(target)


def client_address(request: Request) -> str:
    """The browser's address (behind a TLS proxy listed in WEB_FORWARDED_ALLOW_IPS: the one it forwards)."""
    return request.client.host if request.client else "-"


def locked_message(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return (f"Zu viele falsche Anmeldeversuche. Die Anmeldung ist aus Sicherheitsgründen für {minutes} "
            f"{'Minute' if minutes == 1 else 'Minuten'} gesperrt. Bitte versuchen Sie es danach erneut "
            "oder wenden Sie sich an die IT-Betreuung, wenn Sie Ihr Passwort vergessen haben.")


@router.get("/anmelden/oidc")
async def oidc_start(request: Request) -> Response:
    oidc = request.app.state.oidc
    if oidc is None:
        raise Gone()
    return RedirectResponse(await oidc.authorization_url(session_of(request)), status_code=303)


@router.get("/anmelden/oidc/rueckruf", response_class=HTMLResponse)
async def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    from services.web.oidc import OidcError

    oidc = request.app.state.oidc
    if oidc is None:
        raise Gone()
    try:
        principal, tokens = await oidc.finish(session_of(request), code, state)
    except OidcError:
        return render(request, "sign_in.html", 400, weiter="/", errors={"oidc": "Die Anmeldung ist fehlgeschlagen. Bitte versuchen Sie es erneut."},
                      username="", oidc=True, signed_out=False)
    s = await request.app.state.sessions.rotate(session_of(request))
    now = time.time()
    s.username = principal.username
    ident = tokens["id_claims"]
    s.display_name = str(ident.get("name") or ident.get("preferred_username") or principal.username)
    s.roles = sorted(principal.roles)
    s.token = tokens["access_token"]
    s.refresh_token = tokens.get("refresh_token")
    s.token_expires = now + int(tokens.get("expires_in", 300))
    s.signed_in_at = now
    request.state.session = s
    return see_other("/")


@router.post("/abmelden")
async def sign_out(request: Request) -> Response:
    await form_of(request)
    await request.app.state.sessions.delete(session_of(request))
    request.state.session_ended = True
    return see_other("/anmelden?abgemeldet=1")


# ---- start page ---------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def start(request: Request, s: Annotated[Session, Depends(page())]) -> HTMLResponse:
    sections = [(role, navigation.ROLE_LABELS[role], navigation.items_for([role])) for role in navigation.ALL_ROLES if role in s.roles]
    return render(request, "start.html", sections=sections)



# ---- work list (alerts of every service) --------------------------------------------------------


@router.get("/arbeitsliste", response_class=HTMLResponse)
async def work_list(request: Request, s: Annotated[Session, Depends(page())]) -> HTMLResponse:
    answers, down = await backend(request).each(s, "GET", "/alerts", params={"mine": "true"})
    alerts = [{**a, "service": ans.service} for ans in answers if ans.status == 200 for a in ans.body]
    alerts.sort(key=lambda a: (a["due_at"] is None, a["due_at"] or "", a["raised_at"]))
    return render(request, "work_list.html", alerts=alerts, down=down)


@router.post("/arbeitsliste/{service}/{alert_id}/erledigt")
async def resolve_alert(request: Request, service: str, alert_id: uuid.UUID, s: Annotated[Session, Depends(page())]) -> Response:
    await form_of(request)
    if service not in SERVICE_LABELS:
        raise Gone()
    answer = await backend(request).call(s, service, "POST", f"/alerts/{alert_id}/resolve")
    if answer.status == 403:
        raise Denied()
    if answer.status == 404:
        raise Gone()
    s.flash = "Die Meldung ist als erledigt markiert." if answer.status == 200 else "Die Meldung konnte nicht erledigt werden."
    return see_other("/arbeitsliste")


# ---- operator console ---------------------------------------------------------------------------


@router.get("/betrieb/vorgaenge", response_class=HTMLResponse)
async def stuck_work(
    request: Request, s: Annotated[Session, Depends(page(*OPERATOR))], nur_haengende: bool = False
) -> HTMLResponse:
    answers, down = await backend(request).each(s, "GET", "/ops/workflows", params={"stuck_only": str(nur_haengende).lower()})
    lists = [a.body for a in answers if a.status == 200]
    return render(request, "ops_workflows.html", lists=lists, down=down, stuck_only=nur_haengende,
                  stuck_count=sum(1 for wl in lists for w in wl["workflows"] if w["stuck"]))


@router.get("/betrieb/fehlerwarteschlange", response_class=HTMLResponse)
async def dead_letters(request: Request, s: Annotated[Session, Depends(page(*OPERATOR))]) -> HTMLResponse:
    answers, down = await backend(request).each(s, "GET", "/ops/dead-letters")
    dead = [{**d, "service": a.service} for a in answers if a.status == 200 for d in a.body]
    dead.sort(key=lambda d: d["dead_at"])
    return render(request, "ops_dead_letters.html", dead=dead, down=down)


@router.post("/betrieb/fehlerwarteschlange/erneut")
async def replay_dead_letter(request: Request, s: Annotated[Session, Depends(page(*OPERATOR))]) -> Response:
    form = await form_of(request)
    service, entry, stream = form.get("service", ""), form.get("entry", ""), form.get("stream", "")
    if service not in SERVICE_LABELS:
        raise Gone()
    answer = await backend(request).call(s, service, "POST", f"/ops/dead-letters/{quote(entry, safe='')}/replay", params={"stream": stream})
    if answer.status == 403:
        raise Denied()
    s.flash = (
        f"Ereignis erneut eingespielt ({answer.body['original_stream']})." if answer.status == 200
        else "Der Eintrag ist nicht mehr in der Fehlerwarteschlange."
    )
    return see_other("/betrieb/fehlerwarteschlange")


@router.get("/betrieb/ablauf", response_class=HTMLResponse)
async def trace(
    request: Request, s: Annotated[Session, Depends(page(*OPERATOR))], id: Annotated[str | None, Query(alias="id")] = None
) -> HTMLResponse:
    errors: dict[str, str] = {}
    result = None
    wanted = (id or "").strip()
    if id is not None:
        if not wanted:
            errors["id"] = "Bitte geben Sie eine Vorgangs-ID ein."
        elif len(wanted) < 4 or len(wanted) > 64 or not all(c.isalnum() or c == "-" for c in wanted):
            errors["id"] = "Eine Vorgangs-ID besteht aus 4 bis 64 Buchstaben, Ziffern und Bindestrichen."
        else:
            for service in SERVICE_LABELS:  # any service reads the shared span files; the first that answers wins
                try:
                    answer = await backend(request).call(s, service, "GET", f"/ops/traces/{wanted}")
                except ServiceUnavailable:
                    continue
                if answer.status == 403:
                    raise Denied()
                result = answer.body if answer.status == 200 else {"id": wanted, "traces": [], "unavailable": True}
                break
    return render(request, "ops_trace.html", 422 if errors else 200, wanted=wanted, errors=errors, result=result)
