"""F4: poison events on every consumed stream of the embedded stack, while good events flow.

    .venv/bin/python -m bench.faults.poison                  # every consumed stream, every kind
    .venv/bin/python -m bench.faults.poison --streams intake.intake-completed.v1 casework.case-opened.v1

Starts the stack (`ankommen up --detach`, fresh temporary data directory, fast reclaim: an entry
pending 1.5 s is reclaimed). A consumed stream is one with a consumer group. Phases:

1. good events without poison: intakes POSTed at `--rate` per second; each one's delay is POST start →
   its CaseOpened on `casework.case-opened.v1` (casework handled IntakeCompleted and published);
2. the same with poison in flight: one entry of each kind of `bench.faults.poison_kinds` (garbage that
   is not JSON, JSON of the wrong shape or schema, a wrong event_type header, no headers, raw fields
   that are not UTF-8) XADDed to every consumed stream, then the same intakes; the script waits until
   every poison entry is dead-lettered for every group of its stream;
3. `ankommen dlq list` must list each of them; `ankommen dlq replay <entries> --stream S` puts them back,
   each for its own group, which dead-letters it again after the last delivery (no other group sees it).

Prints per stream and group: poison sent, dead-lettered, deliveries of each, listed, replayed, dead
again; then the good events sent/handled with their delay p50/p99, without and with poison.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from bench.faults.poison_kinds import KINDS, poison_entry
from bench.faults.redis_kill import intake_payload, out, rows
from bench.intake_pipeline import CaseOpenedWatcher, pct
from deploy.embedded import FAST_RECLAIM, RunningStack, cli
from services.contracts import all_events
from services.kit import deadletters


@dataclass
class Good:
    sent: int = 0
    answered: int = 0
    handled: int = 0
    delays_s: list[float] = field(default_factory=list)

    def line(self) -> str:
        p50, p99 = pct(self.delays_s, 50), pct(self.delays_s, 99)
        fmt = lambda x: "n/a" if x is None else f"{x * 1000:.0f} ms"  # noqa: E731
        return f"sent {self.sent}, answered {self.answered}, handled {self.handled}, delay p50 {fmt(p50)}, p99 {fmt(p99)}"


@dataclass
class StreamGroup:
    stream: str
    group: str
    sent: int = 0
    dead: list[deadletters.DeadLetter] = field(default_factory=list)
    listed: int = 0
    replayed: int = 0
    dead_again: list[deadletters.DeadLetter] = field(default_factory=list)


@dataclass
class Report:
    rows: list[StreamGroup]
    baseline: Good
    with_poison: Good
    pending_after: int
    seconds_to_dead: float
    seconds_to_dead_again: float

    @property
    def expected(self) -> int:
        return sum(r.sent for r in self.rows)


async def consumed_streams(redis: Redis, only: list[str] | None) -> dict[str, list[str]]:
    """Stream -> its consumer groups, for every stream with a group (only `only`, if given)."""
    result: dict[str, list[str]] = {}
    for stream in sorted(all_events()):
        if only and stream not in only:
            continue
        if await redis.exists(stream):
            groups = sorted(g["name"].decode() for g in await redis.xinfo_groups(stream))
            if groups:
                result[stream] = groups
    return result


async def good_events(stack: RunningStack, watcher: CaseOpenedWatcher, n: int, rate: float, offset: int, timeout: float) -> Good:
    good = Good()
    started: dict[str, float] = {}
    async with stack.client("intake", timeout=15) as client:

        async def post(i: int) -> None:
            await asyncio.sleep(i / rate)
            t = time.perf_counter()
            good.sent += 1
            try:
                r = await client.post("/intakes", json=intake_payload(offset + i), headers={"Idempotency-Key": f"poison-good-{offset + i}"})
            except httpx.HTTPError:
                return
            if r.status_code == 201:
                good.answered += 1
                started[str(r.json()["intake_id"])] = t

        await asyncio.gather(*(post(i) for i in range(n)))
    await watcher.wait_for(set(started), timeout)
    good.delays_s = [watcher.seen[i] - t for i, t in started.items() if i in watcher.seen]
    good.handled = len(good.delays_s)
    return good


async def inject(redis: Redis, streams: dict[str, list[str]], kinds: tuple[str, ...]) -> dict[tuple[str, str], StreamGroup]:
    """One poison entry of each kind on each stream; returns the stream/group rows and remembers the entry ids."""
    table: dict[tuple[str, str], StreamGroup] = {}
    events = all_events()
    for stream, groups in streams.items():
        for kind in kinds:
            _, fields = await poison_entry(kind, events[stream])
            await redis.xadd(stream, fields)
        for group in groups:
            table[(stream, group)] = StreamGroup(stream, group, sent=len(kinds))
    return table


async def poison_dead(redis: Redis, since: dict[str, str]) -> dict[tuple[str, str], list[deadletters.DeadLetter]]:
    """Dead letters written after the ids in `since` (dlq stream -> last entry id before), by stream and group."""
    found: dict[tuple[str, str], list[deadletters.DeadLetter]] = defaultdict(list)
    for d in await deadletters.list_dead(redis):
        stream = d.dlq_stream.removesuffix(deadletters.DLQ_SUFFIX)
        if stream in since and _after(d.entry_id, since[stream]):
            found[(stream, d.group)].append(d)
    return found


def _after(entry_id: str, than: str) -> bool:
    a, b = (tuple(int(x) for x in e.split("-")) for e in (entry_id, than))
    return a > b


async def dlq_marks(redis: Redis, streams: list[str]) -> dict[str, str]:
    marks = {}
    for stream in streams:
        last = await redis.xrevrange(stream + deadletters.DLQ_SUFFIX, count=1)
        marks[stream] = last[0][0].decode() if last else "0-0"
    return marks


async def wait_dead(redis: Redis, table: dict[tuple[str, str], StreamGroup], since: dict[str, str], timeout: float) -> dict[tuple[str, str], list[Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = await poison_dead(redis, since)
        if all(len(found.get(k, [])) >= r.sent for k, r in table.items()) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def pending_total(redis: Redis, streams: dict[str, list[str]], timeout: float) -> int:
    """Entries pending in the streams' groups, polled until none or `timeout` passed."""
    deadline = time.monotonic() + timeout
    while True:
        pending = 0
        for stream in streams:
            pending += sum(int(g["pending"]) for g in await redis.xinfo_groups(stream))
        if pending == 0 or time.monotonic() > deadline:
            return pending
        await asyncio.sleep(0.5)


async def run_poison(stack: RunningStack, *, only: list[str] | None = None, kinds: tuple[str, ...] = KINDS, good: int = 40, rate: float = 4.0,
                     timeout: float = 180) -> Report:
    redis = Redis.from_url(stack.redis_url)
    watcher = CaseOpenedWatcher(redis)
    watcher.start()
    try:
        streams = await consumed_streams(redis, only)
        await good_events(stack, watcher, 3, rate, 1_000_000, timeout)  # warm-up, not counted
        baseline = await good_events(stack, watcher, good, rate, 0, timeout)
        since = await dlq_marks(redis, list(streams))
        t0 = time.monotonic()
        table = await inject(redis, streams, kinds)
        with_poison = await good_events(stack, watcher, good, rate, good, timeout)
        found = await wait_dead(redis, table, since, timeout)
        seconds_to_dead = time.monotonic() - t0
        for key, row in table.items():
            row.dead = found.get(key, [])
        listing = cli(stack.data_dir, "dlq", "list").stdout
        for row in table.values():
            row.listed = sum(1 for d in row.dead if f"{d.dlq_stream} {d.entry_id} " in listing and f"group {row.group} " in _line(listing, d))
        since_replay = await dlq_marks(redis, list(streams))
        t1 = time.monotonic()
        for stream in streams:
            entries = [d.entry_id for (s, _), r in table.items() if s == stream for d in r.dead]
            if entries:
                replayed = cli(stack.data_dir, "dlq", "replay", *entries, "--stream", stream, check=False).stdout.splitlines()
                for (s, g), r in table.items():
                    if s == stream:
                        r.replayed = sum(1 for line in replayed if line.startswith("replayed ") and f" for group {g} as " in line)
        again = await wait_dead(redis, {k: StreamGroup(r.stream, r.group, sent=len(r.dead)) for k, r in table.items()}, since_replay, timeout)
        seconds_to_dead_again = time.monotonic() - t1
        for key, row in table.items():
            row.dead_again = again.get(key, [])
        pending = await pending_total(redis, streams, timeout)
        return Report(list(table.values()), baseline, with_poison, pending, seconds_to_dead, seconds_to_dead_again)
    finally:
        await watcher.stop()
        await redis.aclose()


def _line(listing: str, d: deadletters.DeadLetter) -> str:
    return next((line for line in listing.splitlines() if line.startswith(f"{d.dlq_stream} {d.entry_id} ")), "")


def print_report(r: Report, stack: RunningStack) -> None:
    print(f"{'stream':<44} {'group':<10} {'sent':>4} {'dead':>4} {'deliveries':>10} {'listed':>6} {'replayed':>8} {'dead again':>10}")
    for row in r.rows:
        deliveries = ",".join(str(x) for x in sorted({d.deliveries for d in row.dead})) or "-"
        print(f"{row.stream:<44} {row.group:<10} {row.sent:>4} {len(row.dead):>4} {deliveries:>10} {row.listed:>6} {row.replayed:>8} {len(row.dead_again):>10}")
    out("consumed streams / stream-group pairs", f"{len({x.stream for x in r.rows})} / {len(r.rows)}")
    out("poison kinds", ", ".join(KINDS))
    out("poison entries sent (each reaches every group)", sum({x.stream: x.sent for x in r.rows}.values()))
    out("dead letters expected (entries x groups)", r.expected)
    out("dead-lettered", sum(len(x.dead) for x in r.rows))
    out("deliveries before dead-lettering (all)", ",".join(str(v) for v in sorted({d.deliveries for x in r.rows for d in x.dead})) or "-")
    out("listed by `ankommen dlq list`", sum(x.listed for x in r.rows))
    out("replayed by `ankommen dlq replay`", sum(x.replayed for x in r.rows))
    out("dead-lettered again after replay (own group only)", sum(len(x.dead_again) for x in r.rows))
    out("entries pending in any group afterwards", r.pending_after)
    out("seconds until all dead-lettered / again", f"{r.seconds_to_dead:.1f} / {r.seconds_to_dead_again:.1f}")
    out("good intakes without poison", r.baseline.line())
    out("good intakes with poison in flight", r.with_poison.line())
    facts = dict(rows(stack.data_dir, "reporting", "SELECT kind, count(*) FROM facts WHERE kind IN ('IntakeCompleted', 'CaseOpened') GROUP BY kind"))
    out("reporting counted IntakeCompleted / CaseOpened", f"{facts.get('IntakeCompleted', 0)} / {facts.get('CaseOpened', 0)}")


def passed(r: Report) -> bool:
    return (all(len(x.dead) == x.sent and {d.deliveries for d in x.dead} == {5} and x.listed == x.sent and x.replayed == x.sent
                and len(x.dead_again) == x.sent for x in r.rows)
            and r.pending_after == 0 and r.with_poison.handled == r.with_poison.sent and r.baseline.handled == r.baseline.sent)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", nargs="*", help="only these streams (default: every consumed stream)")
    p.add_argument("--good", type=int, default=40, help="good intakes per phase")
    p.add_argument("--rate", type=float, default=4.0, help="good intakes per second")
    p.add_argument("--timeout", type=float, default=240)
    p.add_argument("--keep-data", action="store_true")
    args = p.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="ankommen-poison-"))
    stack = RunningStack(data_dir, env=dict(FAST_RECLAIM))
    print(f"data directory (fresh): {data_dir}", flush=True)
    try:
        stack.up()
        report = asyncio.run(run_poison(stack, only=args.streams, good=args.good, rate=args.rate, timeout=args.timeout))
        print_report(report, stack)
        ok = passed(report)
        out("verdict", "PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        stack.down()
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
