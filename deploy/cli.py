"""The `ankommen` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from deploy import stack

ASYNCAPI_PATH = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.yaml"


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir).resolve() if args.data_dir else stack.default_data_dir()


def _redis_url(args: argparse.Namespace) -> str:
    if getattr(args, "redis_url", None):
        return args.redis_url
    if os.environ.get("ANKOMMEN_REDIS_URL"):
        return os.environ["ANKOMMEN_REDIS_URL"]
    state = stack.read_stack(_data_dir(args))
    if not state:
        sys.exit("no running stack found; start one with `ankommen up` or pass --redis-url")
    return state["redis"]["url"]


def cmd_up(args: argparse.Namespace) -> int:
    extra_env = {}
    if args.replicas is not None:
        extra_env["ANKOMMEN_REPLICAS"] = str(args.replicas)
    if args.postgres:
        extra_env["ANKOMMEN_DATABASE"] = "postgres"
    try:
        stack.Stack(_data_dir(args), extra_env=extra_env).check_replicas()
    except (RuntimeError, ValueError) as exc:
        print(f"ankommen: {exc}", file=sys.stderr)
        return 2
    if args.detach:
        return stack.up_detached(_data_dir(args), extra_env=extra_env)
    return stack.up_foreground(_data_dir(args), extra_env=extra_env)


def cmd_down(args: argparse.Namespace) -> int:
    return stack.down(_data_dir(args))


def cmd_status(args: argparse.Namespace) -> int:
    state = stack.read_stack(_data_dir(args))
    if not state or not stack.pid_alive(state.get("supervisor_pid")):
        print("not running")
        return 1
    stack.print_urls(state)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from services.kit.migrations import SERVICES, upgrade

    s = stack.Stack.of_running(_data_dir(args))
    for svc in SERVICES:
        upgrade(svc, s.database_url(svc))
        print(f"{svc}: migrated")
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    from redis.asyncio import Redis

    from services.kit import deadletters

    async def run() -> int:
        redis = Redis.from_url(_redis_url(args))
        try:
            if args.action == "list":
                dead = await deadletters.list_dead(redis, args.stream)
                if not dead:
                    print("no dead letters")
                for d in dead:
                    print(
                        f"{d.dlq_stream} {d.entry_id}  event {d.event_id} ({d.event_type})  group {d.group}  "
                        f"deliveries {d.deliveries}  dead at {d.dead_at}\n    {d.error}"
                    )
                return 0
            targets = await deadletters.list_dead(redis, args.stream)
            if args.entry:
                targets = [d for d in targets if d.entry_id in args.entry]
            elif not args.all:
                print("name an entry id or pass --all", file=sys.stderr)
                return 2
            if not targets:
                print("nothing to replay", file=sys.stderr)
                return 1
            for d in targets:
                new_id = await deadletters.replay(redis, d.dlq_stream, d.entry_id)
                print(f"replayed {d.event_id} to {d.original_stream} for group {d.group} as {new_id}")
            return 0
        finally:
            await redis.aclose()

    return asyncio.run(run())


def cmd_asyncapi(args: argparse.Namespace) -> int:
    from deploy import asyncapi

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(asyncapi.render(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from deploy import tracing

    traces = _data_dir(args) / "traces"
    if not traces.exists():
        print(f"no span files in {traces}; with OTEL_EXPORTER_OTLP_ENDPOINT set, look the id up in your tracing backend")
        return 1
    spans = list(tracing.load_spans(traces))
    if not tracing.find_trace_ids(spans, args.id):
        print(f"no spans mention {args.id} in {traces}: check the id (an intake, case, referral, application or trace id)", file=sys.stderr)
        return 1
    print(tracing.render(spans, args.id))
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    """`./ankommen test` runs pytest itself (before this command line); this is the same for `.venv/bin/ankommen test`."""
    import subprocess

    return subprocess.call([sys.executable, "-m", "pytest", *args.pytest_args], cwd=Path(__file__).resolve().parent.parent)


def cmd_token(args: argparse.Namespace) -> int:
    from services.kit.auth import UserDirectory, issue_token
    from services.kit.settings import PlatformSettings

    data_dir = _data_dir(args)
    s = stack.Stack(data_dir)
    users = UserDirectory.load(data_dir / "users.json")
    user = users.get(args.user)
    if user is None or not (data_dir / "secrets.json").exists():
        print(f"no user {args.user!r} in {data_dir / 'users.json'} (start the stack once with `ankommen up`)", file=sys.stderr)
        return 1
    settings = PlatformSettings(auth_secret=s.secret)
    print(issue_token(settings, user, ttl_s=args.ttl))
    return 0


def cmd_reporting(args: argparse.Namespace) -> int:
    from redis.asyncio import Redis

    from services.kit.db import Database
    from services.reporting.rebuild import rebuild
    from services.reporting.settings import ReportingSettings

    async def run() -> int:
        url = args.database_url or stack.Stack.of_running(_data_dir(args)).database_url("reporting")
        db, redis = Database(url), Redis.from_url(_redis_url(args))
        try:
            result = await rebuild(db, redis, ReportingSettings().time_zone)
        finally:
            await redis.aclose()
            await db.dispose()
        print(f"projections rebuilt from {result.events} events ({result.duplicates} duplicates, {result.unreadable} unreadable) "
              f"in {len(result.streams)} streams")
        return 0

    return asyncio.run(run())


def cmd_audit(args: argparse.Namespace) -> int:
    """`ankommen audit verify`: each service's audit chain checked; exit 1 if any is broken."""
    import json

    from services.kit.audit import derive_key
    from services.kit.audit_verify import verify_all
    from services.kit.migrations import SERVICES

    data_dir = _data_dir(args)
    key = os.environ.get("ANKOMMEN_AUDIT_KEY", "").encode()
    if not key:
        secrets_file = data_dir / "secrets.json"
        secret = os.environ.get("ANKOMMEN_AUTH_SECRET") or (json.loads(secrets_file.read_text())["auth_secret"] if secrets_file.exists() else "")
        if not secret:
            print(f"no audit key: set ANKOMMEN_AUDIT_KEY or ANKOMMEN_AUTH_SECRET, or name the stack's data directory ({secrets_file} missing)",
                  file=sys.stderr)
            return 2
        key = derive_key(secret)
    s = stack.Stack.of_running(data_dir)
    services = [args.service] if args.service else list(SERVICES)
    lines, ok = asyncio.run(verify_all({svc: s.database_url(svc) for svc in services}, key))
    print("\n".join(lines))
    return 0 if ok else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ankommen", description="Integration management for a municipality.")
    p.add_argument("--data-dir", help="state of the embedded stack (default: $ANKOMMEN_DATA_DIR or ./.ankommen)")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the embedded stack (Redis, Temporal, the four services, the staff web app and the mail sink)")
    up.add_argument("--detach", action="store_true", help="return once all are healthy and leave them running")
    up.add_argument("--replicas", type=int, metavar="N", help="processes per service (default 1, or $ANKOMMEN_REPLICAS); more than one needs --postgres")
    up.add_argument("--postgres", action="store_true",
                    help="run the services on a PostgreSQL server the stack starts (Debian's binaries; data in <data dir>/postgres; "
                         "or ANKOMMEN_DATABASE=postgres)")
    up.add_argument("--data-dir", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    up.set_defaults(func=cmd_up)

    for name, func, text in (
        ("down", cmd_down, "stop the embedded stack"),
        ("status", cmd_status, "show whether the stack runs and where"),
        ("migrate", cmd_migrate, "apply the database migrations of every service"),
    ):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("--data-dir", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
        sp.set_defaults(func=func)

    dlq = sub.add_parser("dlq", help="dead letters: list or replay")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("entry", nargs="*", help="dead-letter entry ids to replay (of --stream, if given)")
    dlq.add_argument("--all", action="store_true", help="replay every dead letter (of --stream, if given)")
    dlq.add_argument("--stream", help="original stream, e.g. intake.intake-completed.v1")
    dlq.add_argument("--redis-url")
    dlq.add_argument("--data-dir", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    dlq.set_defaults(func=cmd_dlq)

    api = sub.add_parser("asyncapi", help="write the AsyncAPI document generated from the contracts")
    api.add_argument("--out", default=str(ASYNCAPI_PATH))
    api.add_argument("--data-dir", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    api.set_defaults(func=cmd_asyncapi)

    tr = sub.add_parser("trace", help="span tree for an intake, case or trace id")
    tr.add_argument("id")
    tr.add_argument("--data-dir", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    tr.set_defaults(func=cmd_trace)

    rep = sub.add_parser("reporting", help="reporting: rebuild the projections by replaying the event streams from id 0")
    rep.add_argument("action", choices=["rebuild"])
    rep.add_argument("--redis-url")
    rep.add_argument("--database-url", help="reporting database (default: REPORTING_DATABASE_URL or the stack's SQLite file)")
    rep.add_argument("--data-dir", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    rep.set_defaults(func=cmd_reporting)

    aud = sub.add_parser("audit", help="audit trail: verify each service's hash chain (changed, deleted, inserted records, truncated tail)")
    aud.add_argument("action", choices=["verify"])
    aud.add_argument("--service", choices=["intake", "casework", "funding", "reporting"], help="only this service (default: all four)")
    aud.add_argument("--data-dir", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    aud.set_defaults(func=cmd_audit)

    test = sub.add_parser("test", help="run the test suite with pytest (arguments go to pytest, e.g. `ankommen test tests/unit -q`)",
                          add_help=False)
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(func=cmd_test)

    tok = sub.add_parser("token", help="print a short-lived token for a seeded user")
    tok.add_argument("--user", required=True)
    tok.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    tok.add_argument("--data-dir", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    tok.set_defaults(func=cmd_token)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
