"""Token forgeries against every route of the four services (issue 12, "Security: Auth").

Every route is enumerated from the services' FastAPI apps (built, not started), so a route added later is
attacked without touching this file. Each protected route gets every forgery of `forgeries()`: no token,
garbage, an expired token, a token signed with a wrong key, `alg=none`, alg confusion (RS256 header over an
HMAC of the local secret; HS256 signed with an RSA public key), another issuer or audience (another city's
realm), a token without `exp`, an unknown API token, and two correctly signed tokens whose roles are not the
route's (another staff role; a made-up role). The tenant-scoped accounts are tried on another tenant's record:
org1 on org2's funding application, provider1 on provider2's measure figures, a referral partner on another
partner's referral (only with `--referrals`, which runs an intake through to a case first).

Expected: 401 for every forgery, 403 for another role, 403/404 for another tenant; never 2xx, and every 403
leaves an audit_log row (outcome "denied", actor, role, the route's record type) in the service's database.

    .venv/bin/python -m bench.faults.auth_attacks              # fresh embedded stack in a temp dir, stopped after
    .venv/bin/python -m bench.faults.auth_attacks --referrals  # also the referral partner on another's referral
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import hashlib
import hmac
import importlib
import json
import re
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.routing import APIRoute, iter_route_contexts

from bench.faults.tenant_records import referral_to
from deploy.embedded import RunningStack
from services.kit.audit import route_record
from services.kit.auth import required_roles
from services.kit.migrations import SERVICES
from services.kit.service import create_app
from services.kit.settings import PlatformSettings

ROOT = Path(__file__).resolve().parents[2]
SEED = json.loads((ROOT / "deploy" / "seed_users.json").read_text())["users"]
DEMO_ROLES = {u["username"]: frozenset(u["roles"]) for u in SEED}
#: the routes any caller may reach (sign-in, probes, the service's name page, the API docs)
UNPROTECTED = {("POST", "/auth/token"), ("GET", "/health"), ("GET", "/")}
REFUSED = {401, 403, 404}


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str
    allowed: frozenset[str] | None  # None: signed-in staff of any role (checked inside, e.g. /alerts)

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"


@functools.cache
def service_routes() -> list[Route]:
    """Every (method, path) of the four services' APIs, with the roles their `require(...)` names."""
    out: list[Route] = []
    for svc in SERVICES:
        app = create_app(importlib.import_module(f"services.{svc}.app").build(), PlatformSettings())
        for ctx in iter_route_contexts(app.routes):
            route = ctx.original_route
            if not isinstance(route, APIRoute):
                continue
            roles = required_roles(route.dependant)
            for method in sorted(ctx.methods or ()):
                if method != "HEAD" and (method, ctx.path) not in UNPROTECTED:
                    out.append(Route(svc, method, ctx.path, frozenset(roles) if roles is not None else None))
    return out


def fill(path: str, values: dict[str, str] | None = None) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if values and name in values:
            return values[name]
        return "2026-Q1" if name == "period" else "2026" if "year" in name else "7" if name == "number" else str(uuid.uuid4())

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", one, path)


# ---- forgeries -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_jwt(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT assembled by hand (PyJWT refuses to make the malformed ones): HMAC-SHA256 over it with `key`, or no signature."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = _b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key is not None else ""
    return f"{signing_input}.{signature}"


@dataclass
class Forger:
    secret: str
    issuer: str = "ankommen"
    _public_pem: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, sub: str, roles: list[str], **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.issuer, "aud": "ankommen", "sub": sub, "roles": roles, "districts": [], "iat": now, "exp": now + 600, **extra}

    def signed(self, sub: str, roles: list[str], **extra: Any) -> str:
        """A token as the stack's own token endpoint issues it (the right key), with the given claims."""
        return jwt.encode(self.claims(sub, roles, **extra), self.secret, algorithm="HS256")

    def forgeries(self, sub: str, roles: list[str]) -> dict[str, str | None]:
        """Name -> Authorization header value (None: no header). Each must be refused with 401."""
        c = self.claims(sub, roles)
        now = int(time.time())
        no_exp = {k: v for k, v in c.items() if k != "exp"}
        return {
            "no token": None,
            "garbage": "Bearer not.a.token",
            "expired": f"Bearer {jwt.encode({**c, 'iat': now - 7200, 'exp': now - 60}, self.secret, algorithm='HS256')}",
            "not yet valid": f"Bearer {jwt.encode({**c, 'nbf': now + 3600}, self.secret, algorithm='HS256')}",
            "wrong key": f"Bearer {jwt.encode(c, 'another-citys-secret-' + 'x' * 32, algorithm='HS256')}",
            "alg none": f"Bearer {_raw_jwt({'alg': 'none', 'typ': 'JWT'}, c, None)}",
            "alg None unsigned with signature": f"Bearer {_raw_jwt({'alg': 'None', 'typ': 'JWT'}, c, self.secret.encode())}",
            "RS256 header, HMAC of the local secret": f"Bearer {_raw_jwt({'alg': 'RS256', 'typ': 'JWT'}, c, self.secret.encode())}",
            "HS256 signed with an RSA public key": f"Bearer {_raw_jwt({'alg': 'HS256', 'typ': 'JWT'}, c, self._public_pem)}",
            "other issuer (another city)": f"Bearer {jwt.encode({**c, 'iss': 'https://sso.another-city.de/realms/ankommen'}, self.secret, algorithm='HS256')}",
            "other audience": f"Bearer {jwt.encode({**c, 'aud': 'another-app'}, self.secret, algorithm='HS256')}",
            "no exp (never expires)": f"Bearer {jwt.encode(no_exp, self.secret, algorithm='HS256')}",
            "unknown API token": f"Bearer ak_{uuid.uuid4().hex}",
            "basic auth": "Basic " + base64.b64encode(f"{sub}:secret".encode()).decode(),
        }


# ---- the run ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    route: Route
    forgery: str
    url: str
    authorization: str | None
    expect: frozenset[int]
    actor: str | None = None  # the token's `sub` when a 403 must be audited
    body: Any = None  # a valid body (another tenant's record: the scope check, not validation, must refuse)


@dataclass
class Outcome:
    attempt: Attempt
    status: int


@dataclass
class Report:
    routes: int = 0
    open_routes: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    audited_403: int = 0
    unaudited: list[str] = field(default_factory=list)

    @property
    def statuses(self) -> Counter[int]:
        return Counter(o.status for o in self.outcomes)

    @property
    def accepted(self) -> list[Outcome]:
        return [o for o in self.outcomes if 200 <= o.status < 300]

    @property
    def unexpected(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status not in o.attempt.expect]

    @property
    def forbidden(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 403]

    def lines(self) -> list[str]:
        forgeries = sorted({o.attempt.forgery for o in self.outcomes})
        out = [
            f"routes attacked: {self.routes} (of them {self.open_routes} open to any signed-in role); unprotected skipped: {len(UNPROTECTED)} per service",
            f"forgeries: {len(forgeries)} kinds, requests sent: {len(self.outcomes)}",
            "status counts: " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())),
            f"2xx (must be 0): {len(self.accepted)}",
            f"unexpected status (must be 0): {len(self.unexpected)}",
            f"403 answers: {len(self.forbidden)}, audited: {self.audited_403}, not audited (must be 0): {len(self.unaudited)}",
        ]
        per = Counter(o.attempt.forgery for o in self.outcomes)
        refused = Counter(o.attempt.forgery for o in self.outcomes if o.status in REFUSED)
        out += [f"  {name}: {refused[name]}/{per[name]} refused" for name in forgeries]
        out += [f"  UNEXPECTED {o.attempt.route} [{o.attempt.forgery}] -> {o.status}" for o in self.unexpected[:20]]
        out += [f"  NOT AUDITED {u}" for u in self.unaudited[:20]]
        return out


def attempts(routes: list[Route], forger: Forger) -> Iterator[Attempt]:
    users = sorted(DEMO_ROLES)
    for i, route in enumerate(routes):
        url = fill(route.path)
        for name, auth in forger.forgeries("attacker", sorted(route.allowed or {"operator"})).items():
            yield Attempt(route, name, url, auth, frozenset({401}))
        if route.allowed is None:
            continue
        others = [u for u in users if not DEMO_ROLES[u] & route.allowed]
        if others:  # a real account of another role, its token from the same issuer; a unique sub to find its audit row
            user = others[i % len(others)]
            sub = f"attack-{uuid.uuid4().hex[:12]}"
            yield Attempt(route, "another role", url, f"Bearer {forger.signed(sub, sorted(DEMO_ROLES[user]))}", frozenset({403}), sub)
        sub = f"attack-{uuid.uuid4().hex[:12]}"
        yield Attempt(route, "made-up role", url, f"Bearer {forger.signed(sub, ['admin', 'root'])}", frozenset({403}), sub)


async def _send(client: httpx.AsyncClient, base: str, attempt: Attempt, gate: asyncio.Semaphore) -> Outcome:
    headers = {"Authorization": attempt.authorization} if attempt.authorization else {}
    body = attempt.body if attempt.body is not None else {} if attempt.route.method in ("POST", "PUT", "PATCH") else None
    files = body.pop("__files__", None) if isinstance(body, dict) else None
    async with gate:
        if files:
            r = await client.request(attempt.route.method, base + attempt.url, headers=headers, files=files)
        else:
            r = await client.request(attempt.route.method, base + attempt.url, headers=headers, json=body)
    return Outcome(attempt, r.status_code)


async def send_all(stack: RunningStack, todo: list[Attempt], concurrency: int = 8) -> list[Outcome]:
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=30.0) as client:
        return list(await asyncio.gather(*(_send(client, stack.url(a.route.service), a, gate) for a in todo)))


def denied_rows(stack: RunningStack, service: str) -> list[tuple[str, str, str, str, str | None]]:
    """(actor, role, action, record_type, record_id) of the service's audit rows with outcome "denied"."""
    with sqlite3.connect(f"file:{stack.data_dir / f'{service}.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT actor, role, action, record_type, record_id FROM audit_log WHERE outcome = 'denied'").fetchall()


def check_audit(stack: RunningStack, report: Report, before: dict[str, Counter[tuple[str, str, str]]]) -> None:
    """Every 403 has its audit row: by its unique actor, or (scoped accounts) by the growth of (actor, action, record type)."""
    rows = {svc: denied_rows(stack, svc) for svc in SERVICES}
    by_actor = {svc: {r[0]: r for r in rs} for svc, rs in rows.items()}
    grown = {svc: Counter((r[0], r[2], r[3]) for r in rs) - before.get(svc, Counter()) for svc, rs in rows.items()}
    for o in report.forbidden:
        a = o.attempt
        action, record_type = f"{a.route.method} {a.route.path}", route_record(a.route.path)
        row = by_actor[a.route.service].get(a.actor or "")
        if row is not None and row[2] == action and row[3] == record_type and row[1]:
            report.audited_403 += 1
            continue
        key = (a.actor or "", action, record_type)
        if a.actor and grown[a.route.service][key] > 0:
            grown[a.route.service][key] -= 1
            report.audited_403 += 1
            continue
        report.unaudited.append(f"{a.route} [{a.forgery}] as {a.actor}")


def denied_counts(stack: RunningStack) -> dict[str, Counter[tuple[str, str, str]]]:
    return {svc: Counter((r[0], r[2], r[3]) for r in denied_rows(stack, svc)) for svc in SERVICES}


# ---- another tenant's records ---------------------------------------------------------------------


def _application(title: str) -> dict[str, Any]:
    today = date.today()
    return {
        "title": title, "provider": "Flüchtlingshilfe e.V.", "organisation_kind": "initiative", "fields_of_action": [1, 5],
        "target_group": "geflüchtete Jugendliche", "period_start": today.isoformat(), "period_end": (today + timedelta(days=90)).isoformat(),
        "budget_lines": [{"item": "Honorare", "amount_cents": 90_000}, {"item": "Material", "amount_cents": 10_000}], "amount_cents": 100_000,
        "guidelines": {"refugees_target_group": True, "new_approach": "Peer-Mentoring", "lasting_integration": "Vereinsmitgliedschaft"},
    }


def tenant_body(route: Route) -> Any:
    """A body that passes validation, so that only the record's owner check can refuse the request."""
    today = date.today().isoformat()
    return {
        "POST /measures/{id}/drawdowns": {"amount_cents": 1000},
        "POST /measures/{id}/receipts": {"__files__": {"file": ("beleg.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")}},
        "POST /measures/{id}/proof-of-use": {"items": [{"purpose": "Honorare", "amount_cents": 1000, "spent_on": today}], "report": "Sachbericht",
                                             "receipt_ids": [str(uuid.uuid4())]},
        "PUT /measures/{number}/figures/{period}": {"values": {"participants": 3, "sessions_held": 1}},
        "POST /partner-referrals/{id}/steps": {"step": "acknowledged"},
    }.get(f"{route.method} {route.path}")


def _measure_of(stack: RunningStack, provider: str) -> str:
    with sqlite3.connect(f"file:{stack.data_dir / 'reporting.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT number, data FROM measures ORDER BY number").fetchall()
    mine = [str(n) for n, data in rows if json.loads(data).get("provider") == provider]
    if not mine:
        raise RuntimeError(f"no measure of {provider} in the catalogue")
    return mine[0]


async def tenant_attempts(stack: RunningStack, routes: list[Route], *, referrals: bool) -> list[Attempt]:
    """org1 on org2's application, provider1 on provider2's measure (and, with `referrals`, a referral
    partner on another partner's referral), on every route that role may call with a record in its path."""
    async with stack.client("funding", "org2") as c:
        r = await c.post("/measures", json=_application("Sprachcafé (Angriffsziel)"))
        r.raise_for_status()
        application = r.json()["application_id"]
    cases: list[tuple[str, str, dict[str, str]]] = [
        ("funding", "org1", {"id": application}),
        ("reporting", "provider1", {"number": _measure_of(stack, "KJC"), "period": "2024-Q3"}),
    ]
    if referrals:
        cases.append(("casework", "migberatung", {"id": await referral_to(stack, "language_course")}))
    out = []
    for service, user, values in cases:
        role = next(iter(DEMO_ROLES[user]))
        auth = f"Bearer {stack.token(user)}"
        for route in routes:
            if route.service == service and route.allowed and role in route.allowed and set(re.findall(r"\{([^}:]+)", route.path)) & set(values):
                out.append(Attempt(route, f"another tenant ({user})", fill(route.path, values), auth, frozenset({403, 404}), user, tenant_body(route)))
    return out


async def attack(stack: RunningStack, *, referrals: bool = False, concurrency: int = 8) -> Report:
    routes = list(service_routes())
    forger = Forger(json.loads((stack.data_dir / "secrets.json").read_text())["auth_secret"])
    before = denied_counts(stack)
    todo = [*attempts(routes, forger), *await tenant_attempts(stack, routes, referrals=referrals)]
    report = Report(routes=len(routes), open_routes=sum(1 for r in routes if r.allowed is None))
    report.outcomes = await send_all(stack, todo, concurrency)
    check_audit(stack, report, before)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--referrals", action="store_true", help="also a referral partner on another partner's referral (runs an intake to a case first)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, help="use (and keep) this data directory instead of a fresh temporary one")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ankommen-auth-attacks-"))
    stack = RunningStack(data_dir)
    started = time.monotonic()
    stack.up()
    try:
        report = asyncio.run(attack(stack, referrals=args.referrals, concurrency=args.concurrency))
    finally:
        stack.down()
    print(f"auth attacks on a fresh embedded stack ({data_dir}), {time.monotonic() - started:.0f} s")
    for line in report.lines():
        print(line)
    raise SystemExit(1 if report.accepted or report.unexpected or report.unaudited else 0)


if __name__ == "__main__":
    main()
