"""The staff web application under attack (issue 12, "Security: Web app"), against a running stack.

- Headers: every GET page of the app (enumerated from its routes, so a new screen is covered), signed in with
  a role that may see it, plus error pages (404, 403, 405, CSRF refusal), a download (the household summary
  PDF of a real intake) and the sign-in page: Content-Security-Policy with frame-ancestors,
  X-Content-Type-Options, Referrer-Policy, X-Frame-Options, Permissions-Policy and Cache-Control: no-store.
- Cookie: HttpOnly, SameSite=Lax, Secure (and the __Host- prefix) when a trusted TLS proxy sends
  X-Forwarded-Proto: https, not over plain HTTP.
- CSRF: every POST route (enumerated) with a missing and with a wrong token, signed in with a role that may
  post there: refused with the "Formular abgelaufen" page (403).
- Sign-in lock: wrong passwords for one account until the lock (also the right password then refused), and
  wrong passwords for many accounts from one address until that address is locked; each audited in the token
  service's audit log. The test addresses (TEST-NET-3) come in as X-Forwarded-For from loopback, a trusted
  proxy; the locks are lifted at the end.
- Session fixation: the anonymous session id before sign-in is dead after it, an id the attacker made up is
  never adopted, and the signed-in id is dead after sign-out.

    .venv/bin/python -m bench.faults.web_attacks      # fresh embedded stack in a temp dir, stopped after
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import re
import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi.routing import APIRoute, iter_route_contexts
from redis.asyncio import Redis

from bench.faults.tenant_records import given_intake
from deploy.embedded import RunningStack

ROOT = Path(__file__).resolve().parents[2]
SEED = json.loads((ROOT / "deploy" / "seed_users.json").read_text())["users"]
DEMO_ROLES = {u["username"]: frozenset(u["roles"]) for u in SEED}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "ankommen_sitzung"
CSRF_REFUSED = "Formular abgelaufen"
LOCKED = "Zu viele falsche Anmeldeversuche"
#: header -> a check of its value; every page, error page and download must pass all of them
REQUIRED_HEADERS = {
    "content-security-policy": lambda v: "default-src 'self'" in v and "frame-ancestors 'none'" in v,
    "x-content-type-options": lambda v: v == "nosniff",
    "referrer-policy": lambda v: v in ("same-origin", "no-referrer", "strict-origin-when-cross-origin"),
    "x-frame-options": lambda v: v == "DENY",
    "permissions-policy": lambda v: "camera=()" in v and "geolocation=()" in v,
    "cache-control": lambda v: "no-store" in v,
}


@dataclass(frozen=True)
class WebRoute:
    method: str
    path: str
    roles: tuple[str, ...] | None  # None: open (sign-in, health); (): any staff role


def web_routes() -> list[WebRoute]:
    """Every (method, path) of the web app, with the roles its `page(...)` names."""
    web = importlib.import_module("services.web.app")
    out = []
    for ctx in iter_route_contexts(web.create_app().routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute):
            continue
        roles: set[str] | None = None
        stack = [route.dependant]
        while stack:
            d = stack.pop()
            if getattr(d.call, "allowed", None) is not None:
                roles = (roles or set()) | set(d.call.allowed)
            stack.extend(d.dependencies)
        for method in sorted(ctx.methods or ()):
            if method != "HEAD":
                out.append(WebRoute(method, ctx.path, tuple(sorted(roles)) if roles is not None else None))
    return out


def user_for(route: WebRoute) -> str:
    """A demo account that may use the route (the one with most roles for a page open to any staff role)."""
    if not route.roles:
        return "service"
    return min((u for u, roles in DEMO_ROLES.items() if roles & set(route.roles)), key=lambda u: (len(DEMO_ROLES[u]), u))


def fill(path: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        return values.get(name) or ("2026" if "year" in name else "2026-Q1" if "period" in name else "7" if name == "number" else str(uuid.uuid4()))

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", one, path)


def csrf_of(html: str) -> str | None:
    found = CSRF.search(html)
    return found.group(1) if found else None


@dataclass
class Figures:
    pages_checked: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    headers_missing: list[str] = field(default_factory=list)
    post_routes: int = 0
    csrf_refusals: int = 0
    csrf_not_refused: list[str] = field(default_factory=list)
    cookie: dict[str, bool] = field(default_factory=dict)
    account_attempts_until_lock: int | None = None
    right_password_refused_while_locked: bool = False
    address_attempts_until_lock: int | None = None
    locked_message_german: bool = False
    sign_in_audit: dict[str, int] = field(default_factory=dict)
    fixation: dict[str, bool] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [
            f"pages checked: {self.pages_checked} (statuses {dict(sorted(self.statuses.items()))}), headers missing (must be 0): {len(self.headers_missing)}",
            *[f"  MISSING {m}" for m in self.headers_missing[:20]],
            f"cookie: {', '.join(f'{k}={v}' for k, v in self.cookie.items())}",
            f"POST routes: {self.post_routes}, CSRF refusals: {self.csrf_refusals} of {2 * self.post_routes} (missing and wrong token each)",
            *[f"  NOT REFUSED {m}" for m in self.csrf_not_refused[:20]],
            f"sign-in attempts until lock: account {self.account_attempts_until_lock}, address {self.address_attempts_until_lock}; "
            f"right password refused while locked: {self.right_password_refused_while_locked}; German message: {self.locked_message_german}",
            f"sign-in audit rows: {', '.join(f'{k}={v}' for k, v in sorted(self.sign_in_audit.items()))}",
            f"session fixation: {', '.join(f'{k}={v}' for k, v in self.fixation.items())}",
        ]

    @property
    def ok(self) -> bool:
        return (not self.headers_missing and not self.csrf_not_refused and self.csrf_refusals == 2 * self.post_routes and all(self.cookie.values())
                and self.account_attempts_until_lock is not None and self.account_attempts_until_lock <= 10 and self.address_attempts_until_lock is not None
                and self.right_password_refused_while_locked and self.locked_message_german and all(self.fixation.values()))


class Browser:
    """One signed-in (or anonymous) browser: its cookie jar, against the web app."""

    def __init__(self, stack: RunningStack, address: str | None = None) -> None:
        headers = {"X-Forwarded-For": address} if address else {}
        self.stack = stack
        self.client = httpx.AsyncClient(base_url=stack.web_url, timeout=30.0, follow_redirects=False, headers=headers)

    async def sign_in(self, user: str, password: str | None = None) -> httpx.Response:
        form = await self.client.get("/anmelden")
        return await self.client.post("/anmelden", data={"csrf_token": csrf_of(form.text) or "", "username": user,
                                                         "password": password if password is not None else self.stack.password(user), "weiter": "/"})

    async def aclose(self) -> None:
        await self.client.aclose()


def missing_headers(r: httpx.Response, what: str) -> list[str]:
    return [f"{what} -> {r.status_code}: {name}" for name, ok in REQUIRED_HEADERS.items() if not ok(r.headers.get(name, ""))]


async def check_pages(stack: RunningStack, routes: list[WebRoute], figures: Figures) -> None:
    values = {"intake_id": (await given_intake(stack))[0]}  # the household pages and the summary PDF with real personal data
    browsers: dict[str, Browser] = {}
    try:
        anonymous = Browser(stack)
        browsers[""] = anonymous
        checks: list[tuple[Browser, str, str]] = [
            (anonymous, "GET", "/anmelden"), (anonymous, "GET", "/gibt-es-nicht"), (anonymous, "GET", "/static/style.css"),
        ]
        for route in routes:
            if route.method != "GET" or route.roles is None:
                continue
            user = user_for(route)
            if user not in browsers:
                browsers[user] = Browser(stack)
                await browsers[user].sign_in(user)
            checks.append((browsers[user], "GET", fill(route.path, values)))
        other = next(u for u in DEMO_ROLES if u not in browsers and DEMO_ROLES[u] == {"front_desk"})
        browsers[other] = Browser(stack)
        await browsers[other].sign_in(other)
        checks += [(browsers[other], "GET", "/betrieb/fehlerwarteschlange"), (browsers[other], "DELETE", "/"), (browsers[other], "POST", "/abmelden")]
        for browser, method, path in checks:
            r = await browser.client.request(method, path)
            figures.pages_checked += 1
            figures.statuses[r.status_code] = figures.statuses.get(r.status_code, 0) + 1
            missing = missing_headers(r, f"{method} {path}")
            if path.startswith("/static/"):  # the app's own CSS/JS: no personal data, cacheable
                missing = [m for m in missing if not m.endswith("cache-control")]
            figures.headers_missing += missing
    finally:
        for b in browsers.values():
            await b.aclose()


async def check_cookie(stack: RunningStack, figures: Figures) -> None:
    async with httpx.AsyncClient(base_url=stack.web_url, timeout=30.0) as c:
        plain = (await c.get("/anmelden")).headers.get("set-cookie", "")
        tls = (await c.get("/anmelden", headers={"X-Forwarded-Proto": "https"})).headers.get("set-cookie", "")
    low, tls_low = plain.lower(), tls.lower()
    figures.cookie = {
        "HttpOnly": "httponly" in low and "httponly" in tls_low,
        "SameSite=Lax": "samesite=lax" in low and "samesite=lax" in tls_low,
        "Secure behind TLS proxy": "; secure" in tls_low and tls.startswith(f"__Host-{COOKIE}="),
        "not Secure over plain http": "; secure" not in low,
    }


async def check_csrf(stack: RunningStack, routes: list[WebRoute], figures: Figures) -> None:
    posts = [r for r in routes if r.method in ("POST", "PUT", "PATCH", "DELETE")]
    figures.post_routes = len(posts)
    browsers: dict[str, Browser] = {}
    try:
        for route in posts:
            user = "service" if route.roles is None else user_for(route)
            if user not in browsers:
                browsers[user] = Browser(stack)
                await browsers[user].sign_in(user)
            b = browsers[user]
            for label, token in (("missing", None), ("wrong", "x" * 43)):
                data = {"csrf_token": token} if token else {}
                r = await b.client.request(route.method, fill(route.path, {}), data={**data, "username": user, "password": "x"})
                if r.status_code == 403 and CSRF_REFUSED in r.text:
                    figures.csrf_refusals += 1
                else:
                    figures.csrf_not_refused.append(f"{route.method} {route.path} ({label} token) as {user} -> {r.status_code}")
    finally:
        for b in browsers.values():
            await b.aclose()


def sign_in_audit(stack: RunningStack, actors: set[str]) -> dict[str, int]:
    with sqlite3.connect(f"file:{stack.data_dir / 'intake.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT actor, outcome FROM audit_log WHERE record_type = 'account' AND action = 'POST /auth/token'").fetchall()
    counts: dict[str, int] = {}
    for actor, outcome in rows:
        if actor in actors:
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


async def check_sign_in_lock(stack: RunningStack, figures: Figures, account: str = "abra2", limit: int = 30) -> None:
    run = uuid.uuid4().hex[:6]
    address = f"203.0.113.{int(run, 16) % 200 + 10}"
    b = Browser(stack, address)
    actors = {account}
    before = sign_in_audit(stack, actors)
    try:
        for attempt in range(1, limit + 1):
            r = await b.sign_in(account, f"falsch-{run}-{attempt}")
            if r.status_code == 429:
                figures.account_attempts_until_lock = attempt
                figures.locked_message_german = LOCKED in r.text and "gesperrt" in r.text
                break
        right = await b.sign_in(account)
        figures.right_password_refused_while_locked = right.status_code == 429 and LOCKED in right.text
        spray = Browser(stack, f"198.51.100.{int(run, 16) % 200 + 10}")  # one address, a new account name each time
        for attempt in range(1, limit + 1):
            name = f"niemand-{run}-{attempt}"
            actors.add(name)
            r = await spray.sign_in(name, "falsch")
            if r.status_code == 429:
                figures.address_attempts_until_lock = attempt
                break
        await spray.aclose()
        after = sign_in_audit(stack, actors)
        figures.sign_in_audit = {k: v - before.get(k, 0) for k, v in after.items()}
    finally:
        await b.aclose()
        redis = Redis.from_url(stack.redis_url)
        try:  # lift the locks again (the account is a demo account others sign in with)
            keys = [k async for k in redis.scan_iter(match="signin:*")]
            if keys:
                await redis.delete(*keys)
        finally:
            await redis.aclose()


async def check_fixation(stack: RunningStack, figures: Figures, user: str = "frontdesk") -> None:
    b = Browser(stack)
    try:
        await b.client.get("/anmelden")
        before = b.client.cookies.get(COOKIE)
        await b.sign_in(user)
        after = b.client.cookies.get(COOKIE)
        signed_in = (await b.client.get("/")).status_code == 200
        async with httpx.AsyncClient(base_url=stack.web_url, timeout=30.0, follow_redirects=False) as attacker:
            attacker.cookies.set(COOKIE, before or "")
            old_dead = (await attacker.get("/")).status_code == 303
            made_up = "angreifer-" + uuid.uuid4().hex
            attacker.cookies.clear()
            attacker.cookies.set(COOKIE, made_up)
            r = await attacker.get("/anmelden")
            not_adopted = COOKIE + "=" + made_up not in r.headers.get("set-cookie", "") and r.headers.get("set-cookie", "") != ""
            page = await b.client.get("/")
            await b.client.post("/abmelden", data={"csrf_token": csrf_of(page.text) or ""})
            attacker.cookies.clear()
            attacker.cookies.set(COOKIE, after or "")
            signed_out_dead = (await attacker.get("/")).status_code == 303
        figures.fixation = {"new id on sign-in": bool(before and after and before != after and signed_in), "old id dead": old_dead,
                            "made-up id not adopted": not_adopted, "id dead after sign-out": signed_out_dead}
    finally:
        await b.aclose()


async def attack(stack: RunningStack) -> Figures:
    figures = Figures()
    routes = web_routes()
    await check_cookie(stack, figures)
    await check_pages(stack, routes, figures)
    await check_csrf(stack, routes, figures)
    await check_fixation(stack, figures)
    await check_sign_in_lock(stack, figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="use (and keep) this data directory instead of a fresh temporary one")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ankommen-web-attacks-"))
    stack = RunningStack(data_dir)
    started = time.monotonic()
    stack.up()
    try:
        figures = asyncio.run(attack(stack))
    finally:
        stack.down()
    print(f"web attacks on a fresh embedded stack ({data_dir}), {time.monotonic() - started:.0f} s")
    for line in figures.lines():
        print(line)
    raise SystemExit(0 if figures.ok else 1)


if __name__ == "__main__":
    main()
