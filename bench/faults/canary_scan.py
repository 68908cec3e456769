"""Canary scan (issue 12 P1 and P2): a unique canary name, note text and justification text go through
every flow of the embedded stack (intake with a casework person and an ABRA person, a person search by
the name, the ABRA clearing booked, attended and its interview recorded, a case with first contact,
contact note, resource check, goals, a referral with a note and its handover, a hardship application
with its justification and its decision, the case closed, the monthly statistics generated and
mailed, the KPI figures). Then

- P1: every file of the data dir (each SQLite database with its -wal, the Temporal database, logs, span
  files, the mail sink, Redis' files) and every Redis stream (XRANGE, dead letters included) is scanned
  for the canary name in plain text, casefolded and UTF-16: 0 hits is the pass (intake's encrypted store
  is the only holder of the name, sealed);
- P2: both persons are erased (DELETE /persons/{id}/personal-data), and once casework and funding have
  audited the erasure the same places are scanned for the note and justification texts: 0 hits; the
  KPI figures before and after are printed (unchanged: the reports hold counts only).

Run on a fresh data dir: `python -m bench.faults.canary_scan` (starts and stops its own stack, about a
minute). tests/e2e/test_canary_scan.py runs `scan_flows` against the shared e2e stack in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import string
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, TypeVar

from redis.asyncio import Redis

from deploy.embedded import FAST_RECLAIM, TIME_SKIPPING, RunningStack
from services.contracts.workdays import BERLIN, city_today, is_working_day

T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    """Calls `check` until it returns without AssertionError (its value) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def unique(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))


@dataclass
class Canary:
    """The unique texts of one run: a name, a case note, a referral note, a goal title and a justification."""

    name: str = field(default_factory=lambda: unique("Kanarienvogelina"))
    note: str = field(default_factory=lambda: unique("Notizkanarie "))
    referral_note: str = field(default_factory=lambda: unique("Vermittlungskanarie "))
    goal: str = field(default_factory=lambda: unique("Zielkanarie "))
    justification: str = field(default_factory=lambda: unique("Begruendungskanarie "))
    interview: str = field(default_factory=lambda: unique("Clearingkanarie "))

    @property
    def texts(self) -> list[str]:
        """The free texts erasure must remove (P2)."""
        return [self.note, self.referral_note, self.goal, self.justification, self.interview]


def forms(text: str) -> list[bytes]:
    """How the text can sit in a file: UTF-8 as given and casefolded, UTF-16 (LE and BE)."""
    out: list[bytes] = []
    for t in dict.fromkeys([text, text.casefold(), text.upper()]):
        out += [t.encode(), t.encode("utf-16-le"), t.encode("utf-16-be")]
    return out


def show_hits(root: Path, files: dict[str, int], texts: list[str]) -> None:
    """Where each hit sits (offset and the bytes around it), to find the writer."""
    for name in files:
        data = (root / name).read_bytes()
        for needle in (f for t in texts for f in forms(t)):
            at = data.find(needle)
            while at >= 0:
                print(f"    {name}@{at}: {data[max(0, at - 120):at + len(needle) + 40]!r}")
                at = data.find(needle, at + 1)


def scan_files(root: Path, texts: list[str]) -> dict[str, int]:
    """Hits per file under `root` (relative path -> count of any form of any text), files with hits only."""
    needles = [f for t in texts for f in forms(t)]
    hits: dict[str, int] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        n = sum(data.count(x) for x in needles)
        if n:
            hits[str(path.relative_to(root))] = n
    return hits


async def scan_streams(redis_url: str, texts: list[str]) -> tuple[int, dict[str, int]]:
    """(streams scanned, hits per stream) over every Redis stream, dead letters included (XRANGE)."""
    needles = [f for t in texts for f in forms(t)]
    redis = Redis.from_url(redis_url)
    scanned, hits = 0, {}
    try:
        async for key in redis.scan_iter(_type="stream", count=1000):
            scanned += 1
            n = 0
            for _, fields in await redis.xrange(key):
                blob = b"".join(k + v for k, v in fields.items())
                n += sum(blob.count(x) for x in needles)
            if n:
                hits[key.decode()] = n
    finally:
        await redis.aclose()
    return scanned, hits


def files_scanned(root: Path) -> dict[str, int]:
    kinds = {"sqlite (db, -wal)": 0, "temporal db": 0, "logs": 0, "span files": 0, "mail sink (.eml)": 0, "other": 0}
    for p in (p for p in root.rglob("*") if p.is_file()):
        name = p.name
        key = ("temporal db" if name.startswith("temporal.db") else "sqlite (db, -wal)" if ".db" in name else "span files" if p.parent.name == "traces"
               else "mail sink (.eml)" if p.suffix == ".eml" else "logs" if p.parent.name == "logs" else "other")
        kinds[key] += 1
    return kinds


# ---- the flows ------------------------------------------------------------------------------------


async def _call(stack: RunningStack, service: str, user: str, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 204)) -> Any:
    async with stack.client(service, user, timeout=30) as c:
        r = await c.request(method, path, json=body)
    assert r.status_code in expect, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def _person(given: str, family: str, born: str, nationality: str, residence: str, **extra: Any) -> dict[str, Any]:
    return {
        "given_name": given, "family_name": family, "date_of_birth": born, "sex": "female", "relation": "head", "nationality": nationality,
        "languages": [{"code": "de"}], "german_level": "A1", "literate": True, "schooling_years": 10, "highest_certificate": "secondary",
        "vocational_qualification": None, "work_experience_years": 5, "able_to_work": True, "wants_registration": True,
        "health_insurance": "statutory", "residence_status": residence, "move_in_date": city_today().isoformat(),
        "consents": [{"partner": "social_casework", "purpose": "counselling", "given_on": city_today().isoformat()},
                     *({"partner": "integration_point", "purpose": p, "given_on": city_today().isoformat()} for p in ("referral", "data_exchange"))],
        **extra,
    }


SlotPublisher = Callable[[RunningStack], Awaitable[None]]


async def run_flows(stack: RunningStack, canary: Canary, publish_slots: SlotPublisher | None = None, mail_report: bool = True) -> dict[str, Any]:
    """Every flow with the canary: returns the ids of the persons, case and application. `publish_slots`
    publishes the ABRA slots (default: 20 at 16:00 on the next working days; the e2e tests' own on a shared stack)."""
    today = city_today().isoformat()
    district = "Westen"
    casework_person = _person(canary.name, canary.name, "1990-04-02", "SY", "recognised_refugee")
    abra_person = _person(canary.name + "abra", canary.name, "1988-01-01", "BG", "eu_free_movement", relation="partner", consents=[])
    started = time.monotonic()
    await (publish_slots or _publish_slots)(stack)
    created = await _call(stack, "intake", "frontdesk", "POST", "/intakes", {"household": {"district": district, "persons": [casework_person, abra_person]}})
    intake_id, pids = created["intake_id"], created["person_ids"]
    await _call(stack, "intake", "frontdesk", "GET", f"/intakes/{intake_id}")  # read back (audited, names in the answer only)
    await _call(stack, "intake", "frontdesk", "GET", f"/persons/search?q={canary.name}")  # the name in a query string
    t0 = time.monotonic()
    await _clearing(stack, canary, created["household_id"], pids[1])
    timings = {"intake": round(t0 - started, 1), "clearing": round(time.monotonic() - t0, 1)}

    async def case() -> dict[str, Any]:
        cases = (await _call(stack, "casework", "teamlead", "GET", f"/cases?intake_id={intake_id}"))["cases"]
        assert len(cases) == 1 and cases[0]["caseworker"]
        return cases[0]

    t0 = time.monotonic()
    c = await until(case)
    case_id, cw = c["case_id"], c["caseworker"]
    await _call(stack, "casework", cw, "POST", f"/cases/{case_id}/first-contact", {"contact_on": today, "starter_pack": True, "note": canary.note})
    await _call(stack, "casework", cw, "POST", f"/cases/{case_id}/contacts", {"contact_on": today, "kind": "home_visit", "note": canary.note})
    await _call(stack, "casework", cw, "POST", f"/cases/{case_id}/plan/resource-check", {"answers": {"housing": canary.note}})
    goal = await _call(stack, "casework", cw, "POST", f"/cases/{case_id}/goals",
                       {"field_of_action": 3, "title": canary.goal, "target_date": "2027-06-30", "responsible": "client", "person_id": pids[0]})
    await _call(stack, "casework", cw, "PATCH", f"/cases/{case_id}/goals/{goal['goal_id']}", {"title": canary.goal + " v2"})
    referral = await _call(stack, "casework", cw, "POST", f"/cases/{case_id}/referrals",
                           {"person_id": pids[0], "partner": "integration_point", "note": canary.referral_note})
    await _call(stack, "casework", "ipadvisor", "GET", f"/referrals/{referral['referral_id']}/handover", expect=(200, 403, 404))
    await _call(stack, "intake", "ipadvisor", "GET", f"/referrals/{referral['referral_id']}/person", expect=(200, 403, 404))
    timings["casework"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    application = await _hardship(stack, canary, cw, case_id, pids[0])
    await _call(stack, "funding", "fundmanager", "POST", f"/hardship/applications/{application}/decisions", {"decision": "approve"})
    await _call(stack, "casework", cw, "POST", f"/cases/{case_id}/close", {"reason": "goals_achieved"})
    timings["funding and closure"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    if mail_report:
        await _report(stack)
    timings["report mailed"] = round(time.monotonic() - t0, 1)
    return {"person_ids": pids, "case_id": case_id, "application_id": application, "caseworker": cw, "timings": timings}


async def _publish_slots(stack: RunningStack) -> None:
    """ABRA slots on the next 20 working days (the clearing workflow books the first free one at its start)."""
    day, slots = city_today(), []
    while len(slots) < 20:
        if is_working_day(day):
            slots.append({"starts_at": datetime.combine(day, dtime(16), tzinfo=BERLIN).isoformat(), "capacity": 20})
        day += timedelta(days=1)
    await _call(stack, "intake", "abra", "POST", "/abra/slots", {"slots": slots})


async def _clearing(stack: RunningStack, canary: Canary, household_id: str, person_id: str) -> None:
    """The ABRA person's clearing: the appointment booked by the workflow, attended, the interview
    recorded with the canary in its free texts."""

    async def booked() -> str:
        found = [c for c in await _call(stack, "intake", "abra", "GET", f"/clearings?household_id={household_id}") if c["person_id"] == person_id]
        assert found and found[0]["appointment_at"] is not None
        return found[0]["clearing_id"]

    cid = await until(booked)
    await _call(stack, "intake", "abra", "GET", f"/clearings/{cid}")
    await _call(stack, "intake", "abra", "POST", f"/clearings/{cid}/attendance", {"attended": True})
    interview = {"living_situation": canary.interview, "migration_circumstances": canary.interview, "information_given": canary.interview,
                 "needs_found": ["work"], "long_term_coaching": False}
    await _call(stack, "intake", "abra", "POST", f"/clearings/{cid}/interview", interview)


async def _report(stack: RunningStack) -> None:
    """The month's statistics generated and delivered by mail (the mail sink keeps the .eml)."""
    report = await _call(stack, "reporting", "reporting", "POST", "/reports", {"kind": "monthly_statistics", "period": f"{city_today():%Y-%m}"})
    await _call(stack, "reporting", "reporting", "POST", f"/reports/{report['report_id']}/deliver", expect=(202,))

    async def delivered() -> None:
        assert (await _call(stack, "reporting", "reporting", "GET", f"/reports/{report['report_id']}"))["delivered_at"] is not None

    await until(delivered, timeout=60)


async def _hardship(stack: RunningStack, canary: Canary, cw: str, case_id: str, person_id: str) -> str:
    today = city_today()
    body = {"case_id": case_id, "person_id": person_id, "amount_cents": 15_000, "purpose": canary.justification + " Zweck",
            "purpose_category": "school_supplies", "justification": canary.justification,
            "period_start": today.isoformat(), "period_end": (today + timedelta(days=30)).isoformat(),
            "criteria": {"legal_entitlement_elsewhere": False, "caused_by_authority_error": False, "undermines_self_reliance": False}}

    async def applied() -> str:
        return (await _call(stack, "funding", cw, "POST", "/hardship/applications", body, expect=(201,)))["application_id"]

    return await until(applied)


async def aggregates(stack: RunningStack) -> dict[str, Any]:
    figures = await _call(stack, "reporting", "reporting", "GET", f"/kpis?period={city_today():%Y-%m}")
    return {k["name"]: k["value"] for k in figures["kpis"]}


async def erase(stack: RunningStack, person_ids: list[str]) -> None:
    """Erases the persons at intake and waits until casework and funding audited their part."""
    import sqlite3

    for pid in person_ids:
        await _call(stack, "intake", "operator", "DELETE", f"/persons/{pid}/personal-data", expect=(204,))

    async def propagated() -> None:
        for db in ("casework.db", "funding.db"):
            with sqlite3.connect(stack.data_dir / db) as conn:
                n = conn.execute(f"SELECT count(*) FROM audit_log WHERE action = 'erase' AND record_id IN ({','.join('?' * len(person_ids))})",
                                 person_ids).fetchone()[0]
            assert n == len(person_ids), f"{db}: {n} of {len(person_ids)} erasures applied"

    await until(propagated, timeout=60)


# ---- the scan ---------------------------------------------------------------------------------------


@dataclass
class Scan:
    files: dict[str, int]
    streams_scanned: int
    streams: dict[str, int]

    @property
    def hits(self) -> int:
        return sum(self.files.values()) + sum(self.streams.values())


async def scan(stack: RunningStack, texts: list[str]) -> Scan:
    files = scan_files(stack.data_dir, texts)
    n, streams = await scan_streams(stack.redis_url, texts)
    return Scan(files, n, streams)


def report(label: str, s: Scan) -> None:
    print(f"{label}: plaintext hits {s.hits} (files with hits {len(s.files)}, streams scanned {s.streams_scanned}, streams with hits {len(s.streams)})")
    for where, n in sorted({**s.files, **{f"redis:{k}": v for k, v in s.streams.items()}}.items()):
        print(f"  {where}: {n}")


@dataclass
class Result:
    p1: Scan  # the name, before erasure
    texts_before: Scan  # the free texts before erasure (where they legitimately are: proves the scan sees them)
    p2: Scan  # the name and the free texts after erasure
    before: dict[str, Any]
    after: dict[str, Any]
    timings: dict[str, float]


async def scan_flows(stack: RunningStack, publish_slots: SlotPublisher | None = None, mail_report: bool = True) -> Result:
    """The whole check: flows, P1 scan, erasure, P2 scan (`mail_report` False: no statistics mailed, CI's short form)."""
    canary = Canary()
    ids = await run_flows(stack, canary, publish_slots, mail_report)
    before = await aggregates(stack)
    t0 = time.monotonic()
    p1 = await scan(stack, [canary.name])
    texts_before = await scan(stack, canary.texts)
    timings = {**ids["timings"], "scan": round(time.monotonic() - t0, 1)}
    t0 = time.monotonic()
    await erase(stack, ids["person_ids"])
    timings["erasure propagated"] = round(time.monotonic() - t0, 1)
    p2 = await scan(stack, [canary.name, *canary.texts])
    settle = time.monotonic() + 10  # each service checkpoints its WAL right after its erasure's commit (audited first)
    while p2.hits and time.monotonic() < settle:
        await asyncio.sleep(0.5)
        p2 = await scan(stack, [canary.name, *canary.texts])
    if p2.files:
        show_hits(stack.data_dir, p2.files, [canary.name, *canary.texts])
    after = await aggregates(stack)
    return Result(p1, texts_before, p2, before, after, timings)


async def main_async(data_dir: Path) -> int:
    stack = RunningStack(data_dir, env={**FAST_RECLAIM, **TIME_SKIPPING})
    stack.up()
    try:
        t0 = time.monotonic()
        r = await scan_flows(stack)
        p1, p2, before, after = r.p1, r.p2, r.before, r.after
        print(f"files scanned by kind: {files_scanned(stack.data_dir)}")
        report("P1 canary name before erasure", p1)
        report("notes and justification before erasure (where they are kept)", r.texts_before)
        report("P2 canary name, notes and justification after erasure", p2)
        changed = {k: (before.get(k), after.get(k)) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}
        print(f"aggregates before: {before}")
        print(f"aggregates after:  {after}")
        print(f"aggregates changed by the erasure: {len(changed)} {changed}")
        print(f"seconds per step: {r.timings}")
        print(f"elapsed s: {time.monotonic() - t0:.1f}")
        return 0 if p1.hits == 0 and p2.hits == 0 and not changed else 1
    finally:
        stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="a fresh data dir (default: a new temporary one)")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ankommen-canary-"))
    print(f"data dir: {data_dir} (fresh)")
    raise SystemExit(asyncio.run(main_async(data_dir)))


if __name__ == "__main__":
    main()
