"""S2 (issue 12): every POST/PUT/PATCH with a JSON body of the four services, sent hypothesis-generated
bodies: valid-looking ones and broken ones (schemathesis' positive and negative generation from the
request model's JSON schema, plus mutations of a valid-looking body: one field set to a NUL byte, a
huge string, odd unicode, an out-of-range or negative number, 0001-01-01 or 9999-12-31, a bad UUID,
null, a list or an object; a required field dropped; an unknown field added).

    .venv/bin/python -m bench.faults.body_fuzz                      # fresh stack, 4 services, 30 bodies per operation
    .venv/bin/python -m bench.faults.body_fuzz --examples 5 --services funding

Holds for every answer: 2xx or 4xx, never 5xx; a 422 names the field (`loc`) and the reason (`msg`) of
each error; and after a 4xx the service's database is unchanged: a fingerprint of every table (the audit
log excluded, it records refused attempts; the inbox excluded, it is the consumers'; the outbox without
its `published_at`, which the relay sets) is the same after the request as before. Path parameters
name real records where the stack has them (read from its list endpoints after a few seeded requests),
else what schemathesis generates. Each operation is sent with a token of a demo account holding its
role (as bench.faults.schemathesis_run). Prints per service: operations, requests, 2xx, 4xx, 5xx,
422 without field, partial writes; exit status 1 when any of the last three is not 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from bench.faults.schemathesis_run import route_roles, token, user_for
from deploy.embedded import RunningStack
from services.kit.migrations import SERVICES

EXCLUDED_TABLES = ("audit", "inbox", "alembic_version")
EXCLUDED_COLUMNS = {"outbox": {"published_at", "stream_entry_id", "entry_id"}}
JUNK: list[Any] = [
    "\x00", "a\x00b", "x" * 100_000, "\u202e\u0645\U0001f600\ufeff\ud7ff", "", " ", -1, 0, 10**30, -(10**30), 2**63, 1.5e308, -0.5,
    "0001-01-01", "9999-12-31", "0001-01-01T00:00:00Z", "not-a-uuid", "00000000-0000-0000-0000-000000000000", None, True, [], {}, [None], {"": None},
]
#: the key under which list endpoints name the record a path's `{id}` means (by the path's first segment)
ID_KEYS = {"intakes": "intake_id", "intake-drafts": "draft_id", "persons": "person_id", "households": "household_id",
           "clearings": "clearing_id", "cases": "case_id", "referrals": "referral_id", "partner-referrals": "referral_id",
           "hardship": "application_id", "measures": "application_id", "rounds": "round_id", "alerts": "alert_id"}


@dataclass
class BodyFigures:
    service: str
    operations: int = 0
    requests: int = 0
    ok: int = 0
    refused: int = 0
    server_errors: int = 0
    unnamed_422: int = 0
    partial_writes: int = 0
    unsettled: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.service}: operations={self.operations} requests={self.requests} 2xx={self.ok} 4xx={self.refused} "
                f"5xx={self.server_errors} 422_without_field={self.unnamed_422} partial_writes={self.partial_writes}")


# ---- the database fingerprint --------------------------------------------------------------------


def fingerprint(db: Path) -> dict[str, str]:
    """table -> digest of its rows (sorted), for every table but the excluded ones."""
    out: dict[str, str] = {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        for table in sorted(tables):
            if table.startswith(EXCLUDED_TABLES):
                continue
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")') if r[1] not in EXCLUDED_COLUMNS.get(table, ())]
            rows = sorted(repr(r) for r in conn.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}"'))
            out[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    finally:
        conn.close()
    return out


def settle(stack: RunningStack, timeout: float = 8.0) -> bool:
    """Waits until every service database reads the same twice in a row (the events a 2xx caused handled)."""
    dbs = [stack.data_dir / f"{s}.db" for s in SERVICES]
    deadline = time.monotonic() + timeout
    last = [fingerprint(d) for d in dbs]
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = [fingerprint(d) for d in dbs]
        if now == last:
            return True
        last = now
    return False


# ---- records to name in paths ----------------------------------------------------------------------


def _collect(value: Any, pool: dict[str, list[str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str | int) and not isinstance(v, bool) and (k in ("id", "number", "username") or k.endswith("_id")):
                if str(v) not in pool.setdefault(k, []):
                    pool[k].append(str(v))
            _collect(v, pool)
    elif isinstance(value, list):
        for v in value[:20]:
            _collect(v, pool)


def seed_records(stack: RunningStack) -> None:
    """A few records through the front door, so that paths can name real ones: an intake (and so a case),
    a draft, ABRA slots, a report."""
    person = {
        "given_name": "Fuzz", "family_name": "Probe", "date_of_birth": "1990-04-02", "sex": "female", "relation": "head", "nationality": "SY",
        "languages": [{"code": "ar"}], "german_level": "A1", "literate": True, "schooling_years": 10, "highest_certificate": "secondary",
        "vocational_qualification": None, "work_experience_years": 5, "able_to_work": True, "wants_registration": True,
        "health_insurance": "statutory", "residence_status": "recognised_refugee", "move_in_date": "2026-11-02",
        "consents": [{"partner": "social_casework", "purpose": "counselling", "given_on": "2026-11-02"}],
    }
    headers = {"Authorization": f"Bearer {token(stack, 'service')}"}
    with httpx.Client(base_url=stack.url("intake"), headers=headers, timeout=30) as c:
        c.post("/intakes", json={"household": {"district": "Westen", "persons": [person]}})
        c.post("/intakes", json={"household": {"district": "Mitte", "persons": [{**person, "nationality": "BG", "residence_status": "eu_free_movement"}]}})
        c.post("/intake-drafts", json={"content": {}})
    with httpx.Client(base_url=stack.url("intake"), headers={"Authorization": f"Bearer {token(stack, 'abralead')}"}, timeout=30) as c:
        c.post("/abra/slots", json={"slots": [{"starts_at": "2030-01-07T09:00:00Z"}]})
    with httpx.Client(base_url=stack.url("reporting"), headers=headers, timeout=60) as c:
        c.post("/reports", json={"kind": "monthly_statistics", "period": "2026-11"})
    settle(stack, timeout=15)


def harvest(stack: RunningStack, service: str, doc: dict[str, Any]) -> dict[str, list[str]]:
    """Ids, numbers and user names that the service's list endpoints (GET without path parameters) show."""
    pool: dict[str, list[str]] = {}
    roles = route_roles(service)
    for path, ops in doc["paths"].items():
        if "get" in ops and "{" not in path and path not in ("/", "/health") and not path.startswith("/ops"):
            with httpx.Client(base_url=stack.url(service), timeout=30,
                              headers={"Authorization": f"Bearer {token(stack, user_for(roles.get(('GET', path))))}"}) as c:
                r = c.get(path)
            if r.status_code == 200 and r.headers.get("content-type", "").startswith("application/json"):
                _collect(r.json(), pool)
    return pool


def path_candidates(path: str, name: str, pool: dict[str, list[str]]) -> list[str]:
    if name == "id":
        key = ID_KEYS.get(path.strip("/").split("/")[0], "id")
        return pool.get(key, []) + pool.get("id", [])[:3]
    return pool.get(name, [])


# ---- bodies --------------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, body: Any) -> Any:
    """A valid-looking body with one thing broken: a field set to junk, a required field dropped, an unknown field added."""
    if not isinstance(body, dict) or not body:
        return draw(st.sampled_from(JUNK))
    body = json.loads(json.dumps(body))
    target, keys = body, list(body)
    for _ in range(draw(st.integers(0, 2))):  # sometimes one level down
        nested = [k for k in keys if isinstance(target[k], dict) and target[k]] + [k for k in keys if isinstance(target[k], list) and target[k]]
        if not nested:
            break
        k = draw(st.sampled_from(nested))
        inner = target[k] if isinstance(target[k], dict) else target[k][0]
        if not isinstance(inner, dict) or not inner:
            break
        target, keys = inner, list(inner)
    how = draw(st.sampled_from(["junk", "junk", "junk", "drop", "extra"]))
    key = draw(st.sampled_from(keys))
    if how == "junk":
        target[key] = draw(st.sampled_from(JUNK))
    elif how == "drop":
        del target[key]
    else:
        target["unexpected_" + draw(st.sampled_from(["x", "\x00", "ü"]))] = draw(st.sampled_from(JUNK))
    return body


def write_operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            if method in ("post", "put", "patch") and "application/json" in content:
                out.append((method.upper(), path))
    return sorted(out)


# ---- the run -------------------------------------------------------------------------------------


def _check_answer(fig: BodyFigures, label: str, r: httpx.Response) -> None:
    fig.requests += 1
    fig.statuses[r.status_code] += 1
    if 200 <= r.status_code < 300:
        fig.ok += 1
    elif 400 <= r.status_code < 500:
        fig.refused += 1
    else:
        fig.server_errors += 1
        fig.findings.append(f"{r.status_code} {label}: {r.text[:300]}")
    if r.status_code == 422:
        detail = r.json().get("detail")
        if not (isinstance(detail, list) and detail and all(e.get("loc") and e.get("msg") for e in detail)):
            fig.unnamed_422 += 1
            fig.findings.append(f"422 without field {label}: {r.text[:300]}")


def fuzz_service(stack: RunningStack, service: str, *, examples: int, seed_value: int) -> BodyFigures:
    fig = BodyFigures(service)
    doc = httpx.get(f"{stack.url(service)}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(doc)
    pool = harvest(stack, service, doc)
    roles = route_roles(service)
    for method, path in write_operations(doc):
        fig.operations += 1
        headers = {"Authorization": f"Bearer {token(stack, user_for(roles.get((method, path))))}"}
        stored = fig.ok
        with httpx.Client(base_url=stack.url(service), headers=headers, timeout=30) as client:
            fuzz_operation(stack, service, fig, schema[path][method], client, pool, examples=examples, seed_value=seed_value)
        if fig.ok > stored:  # new records to name in later paths
            pool.update({k: v for k, v in harvest(stack, service, doc).items() if k not in pool})
    return fig


def fuzz_operation(stack: RunningStack, service: str, fig: BodyFigures, op: Any, client: httpx.Client, pool: dict[str, list[str]], *,
                   examples: int, seed_value: int) -> None:
    """`examples` bodies to one operation; each answer checked, and the database compared around every 4xx."""
    method, path = op.method.upper(), op.path
    db = stack.data_dir / f"{service}.db"
    rnd = random.Random(seed_value)
    strategy = st.one_of(op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE))
    state = {"before": fingerprint(db)}

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy, data=st.data())
    def one(case: Any, data: st.DataObject) -> None:
        params = {}
        for name, generated in (case.path_parameters or {}).items():
            real = path_candidates(path, name, pool)
            params[name] = rnd.choice(real) if real and rnd.random() < 0.85 else str(generated if generated is not None else uuid.uuid4())
        body = case.body
        if isinstance(body, dict) and data.draw(st.booleans()):
            body = data.draw(mutated(body))
        url = path.format(**{k: quote(str(v), safe="") for k, v in params.items()})
        try:
            content = json.dumps(body, allow_nan=False)
        except (ValueError, TypeError):
            return  # a body JSON cannot carry (NaN): nothing to send
        r = client.request(method, url, content=content.encode("utf-8", "surrogatepass"), headers={"Content-Type": "application/json"})
        label = f"{method} {url} {content[:200]}"
        _check_answer(fig, label, r)
        if 400 <= r.status_code < 500:
            after = fingerprint(db)
            if after != state["before"]:
                changed = sorted(t for t in set(after) | set(state["before"]) if after.get(t) != state["before"].get(t))
                if not _only_async(changed):
                    fig.partial_writes += 1
                    fig.findings.append(f"partial write ({r.status_code}, tables {changed}) {label}")
                settle(stack)
                state["before"] = fingerprint(db)
        elif 200 <= r.status_code < 300:
            if not settle(stack):
                fig.unsettled += 1
            state["before"] = fingerprint(db)

    one()


def _only_async(tables: list[str]) -> bool:
    """Tables only the service's consumers, workflows and timers write (never a request)."""
    return all(t in ("alerts",) for t in tables)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--services", default=",".join(SERVICES))
    p.add_argument("--examples", type=int, default=30, help="bodies per operation (default 30)")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--stack", type=Path, default=None, help="data dir of a stack already running (default: a fresh one, stopped at the end)")
    args = p.parse_args(argv)
    own = args.stack is None
    stack = RunningStack(Path(tempfile.mkdtemp(prefix="ankommen-bodies-")) if own else args.stack)
    figures: list[BodyFigures] = []
    try:
        if own:
            stack.up()
        seed_records(stack)
        print(f"body fuzz: fresh data dir={own} bodies/operation={args.examples} seed={args.seed}", flush=True)
        for service in args.services.split(","):
            fig = fuzz_service(stack, service, examples=args.examples, seed_value=args.seed)
            figures.append(fig)
            print(fig.line(), flush=True)
    finally:
        if own:
            stack.down()
            shutil.rmtree(stack.data_dir, ignore_errors=True)
    print(f"total: operations={sum(f.operations for f in figures)} requests={sum(f.requests for f in figures)} 2xx={sum(f.ok for f in figures)} "
          f"4xx={sum(f.refused for f in figures)} 5xx={sum(f.server_errors for f in figures)} "
          f"422_without_field={sum(f.unnamed_422 for f in figures)} partial_writes={sum(f.partial_writes for f in figures)}")
    for fig in figures:
        for finding in fig.findings[:30]:
            print(f"  {fig.service}: {finding}")
    return 1 if any(f.server_errors or f.unnamed_422 or f.partial_writes for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
