"""The embedded stack's PostgreSQL server (`ankommen up --postgres`): Debian's server binaries
(`/usr/lib/postgresql/<version>/bin`, package `postgresql`), a cluster in `<data dir>/postgres`
(initdb on the first start, reused afterwards), loopback TCP only, password authentication with a
password kept in `secrets.json`, one database per service. Run as root, the server runs as the user
`postgres` (PostgreSQL refuses root), which then needs to reach the data directory.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

USER = "ankommen"
#: enough for 16 replicas of four services with their pools (10 + 10 overflow each) and the tools
MAX_CONNECTIONS = 400


class PostgresMissing(RuntimeError):
    pass


def bindir() -> Path | None:
    """Where initdb and postgres are: the newest /usr/lib/postgresql/*/bin, else initdb on PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True, key=_version):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _version(path: str) -> tuple[int, ...]:
    part = Path(path).parent.name
    return tuple(int(p) for p in part.split(".") if p.isdigit())


def run_as() -> str | None:
    """The user the server runs as: `postgres` when we are root (PostgreSQL refuses root), else ourselves."""
    return "postgres" if os.geteuid() == 0 else None


def password(data_dir: Path) -> str:
    """The database password of the stack (made once, kept in secrets.json beside the stack's other secrets)."""
    secrets_file = data_dir / "secrets.json"
    stored = json.loads(secrets_file.read_text())
    if "postgres_password" not in stored:
        stored["postgres_password"] = secrets.token_urlsafe(24)
        tmp = secrets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(secrets_file)
    return str(stored["postgres_password"])


def url(data_dir: Path, port: int, database: str, *, with_password: bool = True) -> str:
    secret = f":{password(data_dir)}" if with_password else ""
    return f"postgresql+asyncpg://{USER}{secret}@127.0.0.1:{port}/{database}"


def cluster_dir(data_dir: Path) -> Path:
    return data_dir / "postgres" / "data"


def initdb(data_dir: Path) -> bool:
    """Creates the cluster unless it exists; returns True if it made one."""
    bins = bindir()
    if bins is None:
        raise PostgresMissing(
            "--postgres needs PostgreSQL's server binaries (Debian: apt-get install postgresql; .ci/run installs it)"
        )
    cluster = cluster_dir(data_dir)
    if (cluster / "PG_VERSION").exists():
        return False
    home = cluster.parent
    home.mkdir(parents=True, exist_ok=True)
    user = run_as()
    pwfile = home / "initdb.pw"
    pwfile.write_text(password(data_dir) + "\n")
    os.chmod(pwfile, 0o600)
    try:
        if user:
            shutil.chown(home, user, user)
            shutil.chown(pwfile, user, user)
            _reachable(home, user)
        subprocess.run(
            [str(bins / "initdb"), "-D", str(cluster), "-U", USER, "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
             f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"],
            user=user, check=True, capture_output=True, text=True, cwd=str(home),
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"initdb failed: {exc.stderr.strip()[-2000:]}") from exc
    finally:
        pwfile.unlink(missing_ok=True)
    return True


def _reachable(home: Path, user: str) -> None:
    """The server's user must reach the cluster's directory (every directory above it searchable)."""
    probe = subprocess.run(["test", "-w", str(home)], user=user, check=False)
    if probe.returncode != 0:
        blocked = next((p for p in reversed(home.parents) if not os.stat(p).st_mode & 0o001), home)
        raise RuntimeError(
            f"PostgreSQL runs as user {user}, who cannot reach {home} ({blocked} is not searchable by others): "
            "choose a data directory elsewhere (--data-dir) or allow it (chmod o+x)"
        )


def server_cmd(data_dir: Path, port: int) -> list[str]:
    bins = bindir()
    assert bins is not None  # initdb ran first
    return [
        str(bins / "postgres"), "-D", str(cluster_dir(data_dir)), "-p", str(port),
        "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
        "-c", f"max_connections={MAX_CONNECTIONS}", "-c", "logging_collector=off",
    ]


def ready(port: int) -> bool:
    bins = bindir()
    if bins is None:
        return False
    probe = subprocess.run([str(bins / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)], capture_output=True, check=False)
    return probe.returncode == 0


def create_databases(data_dir: Path, port: int, names: tuple[str, ...]) -> None:
    """Creates each database that does not exist yet (one per service)."""
    bins = bindir()
    assert bins is not None
    env = {**os.environ, "PGPASSWORD": password(data_dir)}
    base = ["-h", "127.0.0.1", "-p", str(port), "-U", USER]
    listed = subprocess.run(
        [str(bins.parent / "bin" / "psql"), *base, "-d", "postgres", "-Atc", "SELECT datname FROM pg_database"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()
    for name in names:
        if name not in listed:
            subprocess.run([str(bins / "createdb"), *base, name], env=env, capture_output=True, text=True, check=True)
