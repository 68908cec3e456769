"""Composition root of the staff web application: sessions in Redis, the services' APIs as the only
back end, German server-rendered pages. Nothing connects at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from starlette.responses import Response

from services.kit.settings import PlatformSettings
from services.web.api import (
    abra,
    casework,
    casework_records,
    discretionary,
    front_desk,
    front_desk_household,
    front_desk_review,
    funding,
    hardship_case,
    integration_point,
    person_search,
    portal,
    privacy,
    referrals,
    reporting,
    reporting_catalogue,
    routes,
    team,
)
from services.web.backend import Backend
from services.web.sessions import SessionStore
from services.web.settings import WebSettings

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
#: every module with screens (a `router`), in the order their routes are matched
SCREENS = (routes, front_desk, front_desk_review, front_desk_household, person_search, abra, reporting, reporting_catalogue, casework, casework_records,
           funding, integration_point, referrals, discretionary, portal, team, hardship_case, privacy)

#: Security headers on every answer (BSI TR-03161 / OWASP ASVS V14): no framing, no sniffing, only
#: this origin's scripts and styles, nothing cached that a later user of the same PC could see.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _lifespan(settings: WebSettings, platform: PlatformSettings):  # noqa: ANN202 - a FastAPI lifespan
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = Redis.from_url(platform.redis_url)
        backend = Backend(settings)
        app.state.sessions = SessionStore(redis, idle_s=settings.session_idle_s, max_s=settings.session_max_s)
        app.state.backend = backend
        app.state.oidc = None
        if settings.sign_in == "oidc":
            from services.web.oidc import Oidc

            app.state.oidc = Oidc(settings, platform, backend.client)
        log.info("web started (sign-in: %s)", settings.sign_in)
        try:
            yield
        finally:
            await backend.close()
            await redis.aclose()

    return lifespan


def _session_middleware(settings: WebSettings):  # noqa: ANN202 - a Starlette HTTP middleware
    """Loads the staff member's session per request, saves it after, sets the cookie and the security headers."""

    async def session_middleware(request: Request, call_next):  # noqa: ANN001, ANN202 - Starlette signature
        path = request.url.path
        if path.startswith("/static/") or path == "/health":
            response: Response = await call_next(request)
            response.headers.update(SECURITY_HEADERS)
            return response
        store: SessionStore = request.app.state.sessions
        secure = settings.cookie_secure if settings.cookie_secure is not None else request.url.scheme == "https"
        # over HTTPS the cookie is bound to this exact host and path (RFC 6265bis __Host- prefix)
        name = f"__Host-{settings.cookie_name}" if secure else settings.cookie_name
        cookie = request.cookies.get(name)
        session = await store.load(cookie)
        if session is None:
            session = store.new()
        request.state.session = session
        request.state.session_ended = False
        try:
            response = await call_next(request)
        except Exception:  # an unexpected error still gets a German page with the security headers (not Starlette's plain 500)
            log.exception("%s %s failed", request.method, path)
            response = routes.render(request, "error.html", 500, title="Interner Fehler",
                                     message="Bei der Bearbeitung ist ein Fehler aufgetreten. Bitte versuchen Sie es erneut.")
        current = request.state.session
        if request.state.session_ended:
            response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")
        else:
            await store.save(current)
            if current.id != cookie:
                response.set_cookie(name, current.id, path="/", secure=secure, httponly=True, samesite="lax")
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = "no-store"
        if secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    return session_middleware


def create_app(settings: WebSettings | None = None, platform: PlatformSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    platform = platform or PlatformSettings()

    app = FastAPI(title="ankommen · Web", lifespan=_lifespan(settings, platform), docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.platform = platform
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for screens in SCREENS:
        app.include_router(screens.router)
    routes.install_error_pages(app)
    front_desk.install(app)
    casework.install(app)

    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # one trace from the staff member's click through every service it reaches (traceparent on API calls);
    # a trace lookup is no part of what it looks up, and sign-in forms are not traced
    # (the person search's query string holds names: spans keep URLs without it)
    from services.kit.telemetry import drop_query_string

    FastAPIInstrumentor.instrument_app(app, excluded_urls="health,static,betrieb/ablauf,anmelden,abmelden", server_request_hook=drop_query_string)

    app.middleware("http")(_session_middleware(settings))

    return app


def run() -> None:
    """Process entry point: telemetry first, then the app under uvicorn."""
    from services.kit import telemetry

    platform = PlatformSettings()
    settings = WebSettings()
    provider = telemetry.setup("web", platform)
    try:
        uvicorn.run(create_app(settings, platform), host=settings.host, port=settings.port, log_config=None, access_log=False, timeout_graceful_shutdown=5,
                    proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips)
    finally:
        provider.shutdown()
