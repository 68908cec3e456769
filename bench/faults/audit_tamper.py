"""A2: the audit log's hash chain detects tampering (`ankommen audit verify`).

Starts the embedded stack on a fresh data directory (loopback only), makes audited traffic (intakes,
person searches, case and plan reads, hardship applications with their full record), stops it,
then tampers with copies of each service's database in every way the chain must detect and runs the
verifier on each copy:

- changed: a record's actor, outcome, record id or time rewritten;
- deleted: a record in the middle, the first record;
- inserted: a forged record without a place in the chain; a forged record appended after the last
  one with a made-up hash; a record squeezed into the middle (the records after it renumbered);
- truncated: the last records deleted (the chain head still names the old last record).

Prints: records per service, tampering tried, detected (must equal tried), and exits 1 otherwise.
    python -m bench.faults.audit_tamper [--intakes 20] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

SERVICES = ("intake", "casework", "funding", "reporting")


def _seqs(db: sqlite3.Connection) -> list[int]:
    return [r[0] for r in db.execute("SELECT seq FROM audit_log WHERE seq IS NOT NULL ORDER BY seq")]


def _change(column: str, value: str) -> Callable[[sqlite3.Connection], None]:
    def tamper(db: sqlite3.Connection) -> None:
        seqs = _seqs(db)
        db.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?", (value, seqs[len(seqs) // 2]))  # noqa: S608 - fixed column names
    return tamper


def _delete_middle(db: sqlite3.Connection) -> None:
    seqs = _seqs(db)
    db.execute("DELETE FROM audit_log WHERE seq = ?", (seqs[len(seqs) // 2],))


def _delete_first(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM audit_log WHERE seq = 1")


def _insert_unchained(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO audit_log (at, actor, role, action, record_type, record_id, outcome) "
               "SELECT at, 'intruder', role, action, record_type, record_id, outcome FROM audit_log WHERE seq = 1")


def _insert_after_last(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO audit_log (at, actor, role, action, record_type, record_id, outcome, seq, prev_hash, hash) "
               "SELECT at, 'intruder', role, action, record_type, record_id, outcome, seq + 1, hash, hash "
               "FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")


def _insert_in_middle(db: sqlite3.Connection) -> None:
    seqs = _seqs(db)
    middle = seqs[len(seqs) // 2]
    db.execute("UPDATE audit_log SET seq = -seq - 1 WHERE seq >= ?", (middle,))  # renumber without hitting the unique index
    db.execute("UPDATE audit_log SET seq = -seq WHERE seq < 0")
    db.execute("INSERT INTO audit_log (at, actor, role, action, record_type, record_id, outcome, seq, prev_hash, hash) "
               "SELECT at, 'intruder', role, action, record_type, record_id, outcome, ?, prev_hash, hash FROM audit_log WHERE seq = ?",
               (middle, middle + 1))
    db.execute("UPDATE audit_log SET prev_hash = ? WHERE seq = ?", ("f" * 64, middle + 1))


def _truncate_tail(db: sqlite3.Connection) -> None:
    seqs = _seqs(db)
    db.execute("DELETE FROM audit_log WHERE seq > ?", (seqs[-1] - 3,))


TAMPERINGS: dict[str, Callable[[sqlite3.Connection], None]] = {
    "changed actor": _change("actor", "someone_else"),
    "changed outcome": _change("outcome", "forged"),
    "changed record id": _change("record_id", "00000000-0000-0000-0000-000000000000"),
    "changed time": _change("at", "2020-01-01 00:00:00.000000"),
    "deleted middle": _delete_middle,
    "deleted first": _delete_first,
    "inserted unchained": _insert_unchained,
    "inserted after last": _insert_after_last,
    "inserted in middle": _insert_in_middle,
    "truncated tail": _truncate_tail,
}


async def verify_copy(path: Path, key: bytes) -> tuple[int, list[str]]:
    from services.kit.audit_verify import KIT_TABLES, verify_database

    result = await verify_database(f"sqlite+aiosqlite:///{path}", KIT_TABLES, key)
    return result.records, [str(f) for f in result.findings]


async def tamper_all(data_dir: Path, key: bytes, work: Path) -> dict[str, tuple[int, int, int, list[str]]]:
    """Per service: (records, tried, detected, tamperings not detected), each tampering on a fresh
    copy of the service's database (an intact copy must verify OK first)."""
    figures = {}
    for svc in SERVICES:
        source = work / f"{svc}.intact.db"
        with sqlite3.connect(data_dir / f"{svc}.db") as live, sqlite3.connect(source) as copy:
            live.backup(copy)
        records, findings = await verify_copy(source, key)
        if findings:
            raise SystemExit(f"{svc}: the intact log does not verify: {findings[0]}")
        tried, detected, missed = 0, 0, []
        for name, tamper in TAMPERINGS.items():
            target = work / f"{svc}.{name.replace(' ', '_')}.db"
            shutil.copyfile(source, target)
            with sqlite3.connect(target) as db:
                tamper(db)
            tried += 1
            _, found = await verify_copy(target, key)
            detected += bool(found)
            if not found:
                missed.append(name)
        figures[svc] = (records, tried, detected, missed)
    return figures


def household(i: int) -> dict:
    """A one-person household (a recognised refugee: casework opens a case) with a unique name."""
    person = {
        "given_name": f"Tamper{i}", "family_name": "Probe", "date_of_birth": f"{1970 + i % 30}-04-02", "sex": "female", "relation": "head",
        "nationality": "SY", "languages": [{"code": "ar"}], "german_level": "A1", "literate": True, "schooling_years": 10,
        "highest_certificate": "secondary", "vocational_qualification": None, "work_experience_years": 5, "able_to_work": True,
        "wants_registration": True, "health_insurance": "statutory", "residence_status": "recognised_refugee", "move_in_date": "2026-11-02",
        "consents": [{"partner": "social_casework", "purpose": "counselling", "given_on": "2026-11-02"}],
    }
    return {"household": {"district": "Westen", "persons": [person]}}


async def _traffic(stack, intakes: int) -> None:  # type: ignore[no-untyped-def]
    """Audited traffic: intakes, their reads and person searches (intake), case reads (casework), and
    refused calls (403, audited) on funding and reporting."""
    async with stack.client("intake") as intake, stack.client("casework") as casework, \
            stack.client("funding", user="frontdesk") as funding, stack.client("reporting", user="frontdesk") as reporting:
        for i in range(intakes):
            response = await intake.post("/intakes", json=household(i))
            if response.status_code != 201:
                raise SystemExit(f"intake refused: {response.status_code} {response.text[:500]}")
            created = response.json()
            (await intake.get(f"/intakes/{created['intake_id']}")).raise_for_status()
            (await intake.get("/persons/search", params={"q": f"Tamper{i} Probe"})).raise_for_status()
            cases = (await casework.get("/cases", params={"intake_id": created["intake_id"]})).json().get("cases", [])
            for case in cases:
                await casework.get(f"/cases/{case['case_id']}")
            assert (await funding.get("/payments")).status_code == 403
            assert (await reporting.post("/measures", json={})).status_code == 403


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--intakes", type=int, default=20)
    p.add_argument("--data-dir", help="an existing stopped stack's data directory (default: a fresh one, started and stopped here)")
    args = p.parse_args(argv)
    from deploy.embedded import RunningStack
    from services.kit.audit import derive_key

    with tempfile.TemporaryDirectory(prefix="ankommen-tamper-") as tmp:
        fresh = not args.data_dir
        data_dir = Path(args.data_dir) if args.data_dir else Path(tmp) / "stack"
        if fresh:
            stack = RunningStack(data_dir)
            stack.up()
            try:
                asyncio.run(_traffic(stack, args.intakes))
            finally:
                stack.down()
        secret = __import__("json").loads((data_dir / "secrets.json").read_text())["auth_secret"]
        work = Path(tmp) / "copies"
        work.mkdir()
        figures = asyncio.run(tamper_all(data_dir, derive_key(secret), work))
    total_tried = total_detected = 0
    print(f"audit tamper ({'fresh data dir' if fresh else data_dir}, {len(TAMPERINGS)} ways per service)")
    for svc, (records, tried, detected, missed) in figures.items():
        total_tried, total_detected = total_tried + tried, total_detected + detected
        print(f"{svc:<10} records {records:>6}  tampering tried {tried:>3}  detected {detected:>3}" + (f"  MISSED: {', '.join(missed)}" if missed else ""))
    print(f"total      tampering tried {total_tried:>3}  detected {total_detected:>3}")
    return 0 if total_tried == total_detected else 1


if __name__ == "__main__":
    sys.exit(main())
