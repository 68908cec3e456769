"""CPU accounting and sampling profiles of the stack's processes, for the benchmarks.

- `cpu_seconds(pid)`: user + system CPU time of a process (Linux /proc).
- `wait_until_idle(pids)`: waits until the stack has finished the work a load caused (every process under
  a few percent of a core for a while), so CPU per intake counts the downstream work too.
- `Profiler`: py-spy (`py-spy record --format raw`) on each Python process of the stack while a load runs;
  `summary()` splits each process's samples into what they were spent on (`CATEGORIES`) and lists the
  hottest functions (self time). py-spy samples Python threads only: the Temporal SDK's Rust core and
  the Temporal server are counted by /proc, not profiled. With `--gil` only the thread holding the GIL is
  sampled, so the samples are Python CPU time (SQLite's C code runs without the GIL: see `thread_cpu`).
- `thread_cpu(pid)`: CPU seconds per thread name (main, aiosqlite's connection threads, the Temporal
  SDK's Rust threads, the span exporter), to split what the profile cannot see.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

#: (category, substrings of a frame's file path); a sample counts for the innermost frame that matches one
TELEMETRY = ("opentelemetry", "kit/telemetry.py")
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging", ("/logging/", "python-json-logger", "pythonjsonlogger")),
    ("database (SQLAlchemy, SQLite, asyncpg)", ("sqlalchemy", "aiosqlite", "sqlite3", "asyncpg", "alembic")),
    ("validation and serialisation (pydantic, json)", ("pydantic", "/json/", "orjson")),
    ("broker (FastStream, redis-py)", ("faststream", "/redis/")),
    ("Temporal SDK (client, worker, sandbox)", ("temporalio",)),
    ("encryption and tokens", ("cryptography", "/jwt/", "nacl")),
    ("HTTP (uvicorn, Starlette, FastAPI, httpx)", ("uvicorn", "starlette", "fastapi", "httptools", "/h11/", "httpx", "httpcore", "anyio")),
    ("event loop and threads", ("asyncio", "threading.py", "selectors.py", "concurrent/futures")),
    ("own code (services, workflows)", ("services/", "workflows/")),
)


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (index 11 utime, 12 stime, 13 cutime, 14 cstime,
    in clock ticks; 1 the parent pid), or None if the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its waited-for children (Linux /proc), in seconds."""
    fields = proc_stat(pid)
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK if fields else 0.0


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of `pid`, summed by thread name (Linux /proc/<pid>/task)."""
    tick = os.sysconf("SC_CLK_TCK")
    result: Counter[str] = Counter()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        result[_thread_kind(comm, task.name == str(pid))] += (int(fields[11]) + int(fields[12])) / tick
    return dict(result)


def _thread_kind(comm: str, main: bool) -> str:
    if main:
        return "main (event loop)"
    if comm.startswith("tokio") or "temporal" in comm.lower():
        return "Temporal SDK core (Rust)"
    return "other threads (SQLite connections, span export, executors)"


def idle_cpu_rate(pids: dict[str, int], seconds: float = 5.0) -> float:
    """CPU the processes use at rest, in cores (0.07 = 7 % of one core), over `seconds`."""
    before = sum(cpu_seconds(pid) for pid in pids.values())
    time.sleep(seconds)
    return (sum(cpu_seconds(pid) for pid in pids.values()) - before) / seconds


def wait_until_idle(pids: dict[str, int], *, below: float = 0.05, quiet_for: float = 2.0, timeout: float = 300.0) -> float:
    """Waits until no process in `pids` used more than `below` of a core for `quiet_for` seconds in a row
    (the downstream work of a load is done); returns the seconds waited. Bounded by `timeout`."""
    t0 = time.monotonic()
    quiet_since: float | None = None
    last = {name: cpu_seconds(pid) for name, pid in pids.items()}
    while time.monotonic() - t0 < timeout:
        time.sleep(0.5)
        now = {name: cpu_seconds(pid) for name, pid in pids.items()}
        busiest = max((now[n] - last[n]) / 0.5 for n in now) if now else 0.0
        last = now
        if busiest > below:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_for:
            return time.monotonic() - t0 - quiet_for
    return time.monotonic() - t0


def categorise(frames: list[str]) -> str:
    """The category of one sample (frames outermost first, as py-spy's raw format writes them): that of
    the innermost frame that belongs to one (a consumer's handler runs inside the telemetry middleware,
    so only what telemetry itself runs counts as telemetry)."""
    for frame in reversed(frames):
        if any(s in frame for s in TELEMETRY):
            return "telemetry (spans, export)"
        for name, needles in CATEGORIES:
            if any(s in frame for s in needles):
                return name
    return "other"


class Profiler:
    """py-spy on each process of `pids` (Python processes only) until `stop()`; samples at `rate` Hz."""

    def __init__(self, pids: dict[str, int], out_dir: Path, rate: int = 97) -> None:
        self.pids = pids
        self.out_dir = out_dir
        self.rate = rate
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    @property
    def available(self) -> bool:
        return Path(self.binary).exists()

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            self.procs[name] = subprocess.Popen(
                [self.binary, "record", "--pid", str(pid), "--rate", str(self.rate), "--format", "raw", "--nonblocking", "--gil",
                 "--output", str(self.out_dir / f"{name}.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def summary(self, top: int = 8) -> dict[str, Any]:
        """Per process: samples, share per category, and the `top` functions by self time."""
        result: dict[str, Any] = {}
        for name in self.pids:
            path = self.out_dir / f"{name}.txt"
            if not path.exists():
                continue
            categories: Counter[str] = Counter()
            leaves: Counter[str] = Counter()
            total = 0
            for line in path.read_text(errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                if not count.isdigit():
                    continue
                n = int(count)
                frames = [f for f in stack.split(";") if not f.startswith(("thread (", "process "))]
                total += n
                categories[categorise(frames)] += n
                if frames:
                    leaves[_short(frames[-1])] += n
            result[name] = {
                "samples": total,
                "categories": {k: round(v / total, 3) for k, v in categories.most_common()} if total else {},
                "hottest": [(k, round(v / total, 3)) for k, v in leaves.most_common(top)] if total else [],
            }
        return result


def _short(frame: str) -> str:
    """`func (path/to/file.py:12)` → `func (file.py)`."""
    func, _, where = frame.partition(" (")
    return f"{func} ({Path(where.split(':')[0]).name})"
