"""S1 (issue 12): schemathesis (`st run`, all checks) against the OpenAPI document of each of the four
services of a running embedded stack, authenticated, loopback only, bounded examples per operation.

    .venv/bin/python -m bench.faults.schemathesis_run                  # fresh stack, 4 services, 25 examples
    .venv/bin/python -m bench.faults.schemathesis_run --examples 5 --services reporting --seed 7

Authentication: every route names its roles (`require(...)`, read from the app as the role matrix
does); each operation is sent with a token (`ankommen token --user NAME`) of the first demo account of
deploy/seed_users.json that holds one of them (the `service` account where it qualifies). The open
routes (`/`, `/health`, `/auth/token`, `/alerts`) get the `service` token.

Prints per service: operations, requests sent, 5xx, schema violations (response_schema_conformance),
other check failures by check; then the 5xx and schema violations one by one (method, path, status,
the start of the body). Exit status 1 when a service answered 5xx or violated its schema.
"""

from __future__ import annotations

import argparse
import base64
import functools
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

from deploy.embedded import RunningStack
from services.kit.auth import required_roles
from services.kit.migrations import SERVICES
from services.kit.service import create_app
from services.kit.settings import PlatformSettings

ROOT = Path(__file__).resolve().parents[2]
SEED_USERS = json.loads((ROOT / "deploy" / "seed_users.json").read_text())["users"]
ALL_CHECKS = "all"


@dataclass
class Figures:
    service: str
    operations: int = 0
    requests: int = 0
    server_errors: int = 0
    schema_violations: int = 0
    other: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)  # the 5xx and schema violations, one line each
    statuses: Counter[int] = field(default_factory=Counter)

    def line(self) -> str:
        other = ", ".join(f"{k}={v}" for k, v in sorted(self.other.items())) or "none"
        return (f"{self.service}: operations={self.operations} requests={self.requests} 5xx={self.server_errors} "
                f"schema_violations={self.schema_violations} other_check_failures={sum(self.other.values())} ({other})")


@functools.cache
def route_roles(service: str) -> dict[tuple[str, str], set[str] | None]:
    """(METHOD, path template) -> the roles the route requires (None: no role named), from the app itself."""
    app = create_app(importlib.import_module(f"services.{service}.app").build(), PlatformSettings())
    out: dict[tuple[str, str], set[str] | None] = {}
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute):
            for method in ctx.methods or ():
                out[(method, ctx.path_format)] = required_roles(getattr(ctx, "dependant", None) or ctx.original_route.dependant)
    return out


def user_for(roles: set[str] | None) -> str:
    """The demo account an operation is sent as: `service` when it holds a role, else the first that does."""
    if not roles:
        return "service"
    for u in sorted(SEED_USERS, key=lambda u: u["username"] != "service"):
        if roles & set(u["roles"]):
            return u["username"]
    raise LookupError(f"no demo account holds any of {sorted(roles)}")


def token(stack: RunningStack, user: str) -> str:
    """A token for a demo account, as `ankommen token --user NAME` makes it, minted in this process (no CLI start per user)."""
    if user not in stack.tokens:
        from deploy.stack import Stack
        from services.kit.auth import UserDirectory, issue_token

        account = UserDirectory.load(stack.data_dir / "users.json").get(user)
        if account is None:
            raise LookupError(f"no demo account {user!r} in {stack.data_dir / 'users.json'}")
        stack.tokens[user] = issue_token(PlatformSettings(auth_secret=Stack(stack.data_dir).secret), account, ttl_s=3600)
    return stack.tokens[user]


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_config(stack: RunningStack, service: str, path: Path, *, request_timeout: float = 20) -> dict[str, int]:
    """schemathesis.toml for one service: a default token and one per operation; returns operations per user."""
    roles = route_roles(service)
    lines = [f"request-timeout = {request_timeout}", "", "[headers]", f"Authorization = {_toml('Bearer ' + token(stack, 'service'))}", ""]
    users: Counter[str] = Counter()
    for (method, template), allowed in sorted(roles.items()):
        if method == "HEAD":
            continue
        user = user_for(allowed)
        users[user] += 1
        lines += ["[[operations]]", f"include-path = {_toml(template)}", f"include-method = {_toml(method)}",
                  f"headers = {{ Authorization = {_toml('Bearer ' + token(stack, user))} }}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return dict(users)


def _decode(content: Any) -> str:
    if isinstance(content, dict) and "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    return "" if content is None else str(content)


def read_report(service: str, report_dir: Path) -> Figures:
    """Figures from schemathesis' NDJSON event stream and JSON summary."""
    fig = Figures(service)
    summary = json.loads(next(report_dir.glob("json-*.json")).read_text())
    fig.operations = summary["operations"]["tested"]
    for line in next(report_dir.glob("ndjson-*.ndjson")).open(encoding="utf-8"):
        event = json.loads(line)
        recorder = event.get("ScenarioFinished", {}).get("recorder")
        if not recorder:
            continue
        interactions = recorder.get("interactions", {})
        for inter in interactions.values():
            response = inter.get("response") or {}
            fig.requests += 1
            status = response.get("status_code")
            if status is not None:
                fig.statuses[status] += 1
            if status is not None and status >= 500:
                fig.server_errors += 1
                fig.findings.append(f"5xx {inter['request']['method']} {inter['request']['uri']} -> {status}: {_decode(response.get('content'))[:300]}")
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                if check.get("status") != "failure" or check["name"] == "not_a_server_error":
                    continue
                if check["name"] == "response_schema_conformance":
                    fig.schema_violations += 1
                    inter = interactions.get(case_id, {})
                    req, resp = inter.get("request", {}), inter.get("response") or {}
                    failure = check.get("failure_info", {}).get("failure", {})
                    fig.findings.append(f"schema {req.get('method')} {req.get('uri')} -> {resp.get('status_code')}: "
                                        f"{failure.get('title', '')} {_decode(resp.get('content'))[:200]}")
                else:
                    fig.other[check["name"]] += 1
    return fig


def run_service(stack: RunningStack, service: str, *, examples: int, seed: int, workdir: Path, phases: str | None = None,
                max_time: float | None = None, extra: list[str] | None = None) -> Figures:
    """One `st run` against `service`'s /openapi.json; returns its figures."""
    config = workdir / f"{service}.toml"
    write_config(stack, service, config)
    reports = workdir / f"{service}-reports"
    shutil.rmtree(reports, ignore_errors=True)
    st = Path(sys.executable).with_name("st")
    cmd = [str(st), "--config-file", str(config), "--no-color", "run", f"{stack.url(service)}/openapi.json", "--checks", ALL_CHECKS,
           "--max-examples", str(examples), "--seed", str(seed), "--workers", "1", "--report", "json,ndjson", "--report-dir", str(reports),
           "--suppress-health-check", "all", *(["--phases", phases] if phases else []), *(["--max-time", str(max_time)] if max_time else []),
           *(extra or [])]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=3600)
    (workdir / f"{service}-st.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    if not list(reports.glob("json-*.json")):
        raise RuntimeError(f"st run wrote no report for {service} (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return read_report(service, reports)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--services", default=",".join(SERVICES))
    p.add_argument("--examples", type=int, default=25, help="max examples per operation and phase (default 25)")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--phases", default=None, help="examples,coverage,fuzzing,stateful (default: all)")
    p.add_argument("--stack", type=Path, default=None, help="data dir of a stack already running (default: a fresh one, stopped at the end)")
    p.add_argument("--keep", action="store_true", help="keep the work dir with the st logs and reports")
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ankommen-st-"))
    own = args.stack is None
    stack = RunningStack(Path(tempfile.mkdtemp(prefix="ankommen-st-stack-")) if own else args.stack)
    figures: list[Figures] = []
    try:
        if own:
            stack.up()
        print(f"schemathesis run: fresh data dir={own} examples/operation={args.examples} seed={args.seed} checks=all", flush=True)
        for service in args.services.split(","):
            fig = run_service(stack, service, examples=args.examples, seed=args.seed, workdir=workdir, phases=args.phases)
            figures.append(fig)
            print(fig.line(), flush=True)
    finally:
        if own:
            stack.down()
            shutil.rmtree(stack.data_dir, ignore_errors=True)
    print(f"total: operations={sum(f.operations for f in figures)} requests={sum(f.requests for f in figures)} "
          f"5xx={sum(f.server_errors for f in figures)} schema_violations={sum(f.schema_violations for f in figures)} "
          f"other_check_failures={sum(sum(f.other.values()) for f in figures)}")
    for fig in figures:
        for finding in fig.findings[:40]:
            print(f"  {fig.service}: {finding}")
    if args.keep:
        print(f"st logs and reports: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(f.server_errors or f.schema_violations for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
