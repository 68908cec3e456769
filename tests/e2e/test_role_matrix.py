"""The generated role x action matrix: every route of every service (and of the web application) that
requires roles answers 403 to every demo user holding none of them, against the running stack.

Routes are enumerated from the apps themselves (each ServiceSpec's FastAPI app is built, not started)
and the roles read from the `require(...)` dependencies (`check.allowed`), so routes that are added
later are checked without touching this file. A route without any role requirement must be on the
short list of deliberately open routes below."""

from __future__ import annotations

import importlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from services.kit.auth import required_roles
from services.kit.migrations import SERVICES
from services.kit.service import create_app
from services.kit.settings import PlatformSettings
from tests.support.stack import RunningStack
from tests.support.web import csrf_of, sign_in, web_client

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
SEED = json.loads((ROOT / "deploy" / "seed_users.json").read_text())["users"]
DEMO_USERS = {u["username"]: frozenset(u["roles"]) for u in SEED}

#: Routes any signed-in staff member (or anyone) may call; everything else must name its roles.
OPEN_ROUTES = {
    ("POST", "/auth/token"),  # sign-in itself
    ("GET", "/health"),  # probes, no data
    ("GET", "/"),  # the service's name, version and links to /docs and /health, no data
    ("GET", "/alerts"),  # filtered to the caller's roles inside
    ("POST", "/alerts/{alert_id}/resolve"),  # checks the alert's role inside
}
WEB_OPEN_ROUTES = {("GET", "/health"), ("GET", "/anmelden"), ("POST", "/anmelden"), ("GET", "/anmelden/oidc"),
                   ("GET", "/anmelden/oidc/rueckruf"), ("POST", "/abmelden")}


@dataclass(frozen=True)
class Action:
    app: str
    method: str
    path: str
    allowed: frozenset[str] | None  # None: no role requirement found

    def __str__(self) -> str:
        return f"{self.app} {self.method} {self.path}"


def _actions(app_name: str, app: Any) -> Iterator[Action]:
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute):
            continue
        roles = required_roles(route.dependant)
        for method in sorted(ctx.methods or ()):
            if method == "HEAD":
                continue
            yield Action(app_name, method, ctx.path, frozenset(roles) if roles is not None else None)


def service_actions() -> list[Action]:
    out: list[Action] = []
    for svc in SERVICES:
        spec = importlib.import_module(f"services.{svc}.app").build()
        out.extend(_actions(svc, create_app(spec, PlatformSettings())))
    return out


def web_actions() -> list[Action]:
    from services.web.app import create_app as create_web

    return list(_actions("web", create_web()))


SERVICE_ACTIONS = service_actions()
WEB_ACTIONS = web_actions()


def matrix(actions: list[Action]) -> list[tuple[Action, str]]:
    """(action, demo user) for every user holding none of the action's roles (a role-less web page
    means: any staff role)."""
    return [(a, user) for a in actions if a.allowed for user, roles in DEMO_USERS.items() if not roles & a.allowed]


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "2026-1" if "year" in m.group(0) else str(uuid.uuid4()), path)


class TestEveryRouteNamesItsRoles:
    def test_the_matrix_covers_routes_of_every_service(self) -> None:
        assert {a.app for a in SERVICE_ACTIONS if a.allowed} == set(SERVICES)
        assert any(a.path == "/ops/dead-letters" and a.allowed == {"operator"} for a in SERVICE_ACTIONS)

    def test_only_the_deliberately_open_routes_have_no_role_requirement(self) -> None:
        open_routes = {(a.method, a.path) for a in SERVICE_ACTIONS if a.allowed is None}
        assert open_routes <= OPEN_ROUTES, f"routes without require(...): {sorted(open_routes - OPEN_ROUTES)}"

    def test_every_web_page_checks_the_sign_in_or_is_deliberately_open(self) -> None:
        open_routes = {(a.method, a.path) for a in WEB_ACTIONS if a.allowed is None}
        assert open_routes <= WEB_OPEN_ROUTES, f"web routes without page(...): {sorted(open_routes - WEB_OPEN_ROUTES)}"


class TestRoleMatrix:
    @pytest.mark.parametrize(("action", "user"), matrix(SERVICE_ACTIONS), ids=lambda v: str(v))
    async def test_a_user_without_the_role_gets_403(self, stack: RunningStack, action: Action, user: str) -> None:
        async with stack.client(action.app, user) as c:
            r = await c.request(action.method, fill(action.path), json={} if action.method in ("POST", "PUT", "PATCH") else None)
        assert r.status_code == 403, f"{action} as {user} ({sorted(DEMO_USERS[user])}): {r.status_code} {r.text[:200]}"


class TestWebRoleMatrix:
    @pytest.mark.parametrize(("action", "user"), matrix(WEB_ACTIONS), ids=lambda v: str(v))
    async def test_a_user_without_the_role_is_refused_the_page(self, stack: RunningStack, action: Action, user: str) -> None:
        async with web_client(stack) as c:
            await sign_in(stack, c, user)
            start = await c.get("/")
            data = {"csrf_token": csrf_of(start.text)} if action.method == "POST" else None
            r = await c.request(action.method, fill(action.path), data=data)
        assert r.status_code == 403, f"{action} as {user}: {r.status_code}"
        assert "Keine Berechtigung" in r.text

