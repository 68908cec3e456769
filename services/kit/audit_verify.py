"""Verifying a service's audit chain (`ankommen audit verify`) and chaining the records written before
the chain existed (at the service's start-up). See services/kit/audit.py for the chain itself.

`verify` reads the log in seq order and reports every place where it is broken:
- a **changed** record: its hash does not match its fields under the key;
- a **deleted** record: a gap in seq (the next record's prev_hash also no longer links);
- an **inserted** record: a record without seq written after the chain began, a seq out of order or
  twice, a link that does not match, or a record beyond the chain head;
- a **truncated tail**: the log ends before the chain head's seq and hash.
The head itself is printed, so an operator can keep it elsewhere (then rolling the head back to an
earlier state, together with the tail, is detected too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.audit import GENESIS, AuditChain, chain_rows, record_hash
from services.kit.db import Database, KitTables, add_kit_tables

PAGE = 5000


@dataclass
class Finding:
    seq: int | None
    record_id: int | None
    kind: str  # changed | deleted | inserted | truncated
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else f"record id {self.record_id}"
        return f"{where}: {self.kind}: {self.detail}"


@dataclass
class Verification:
    records: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    pending_legacy: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


_COLUMNS = ("id", "seq", "prev_hash", "hash", "at", "actor", "role", "action", "record_type", "record_id", "outcome", "trace_id")


async def verify(conn: AsyncConnection, tables: KitTables, key: bytes) -> Verification:
    """Every broken place of the chain in `conn`'s database (see the module docstring)."""
    log, head = tables.audit, tables.audit_chain
    result = Verification()
    head_row = (await conn.execute(sa.select(head.c.seq, head.c.hash, head.c.legacy_until).where(head.c.id == 1))).first()
    legacy_until = 0
    if head_row is not None:
        result.head_seq, result.head_hash, legacy_until = int(head_row.seq), str(head_row.hash), int(head_row.legacy_until)
    unchained = (await conn.execute(sa.select(log.c.id).where(log.c.seq.is_(None)).order_by(log.c.id))).scalars().all()
    for record_id in unchained:
        if record_id <= legacy_until:
            result.pending_legacy += 1
        else:
            result.findings.append(Finding(None, record_id, "inserted", "record without a place in the chain"))
    expected_seq, last_hash, after = 1, GENESIS, 0
    columns = [log.c[name] for name in _COLUMNS]
    while True:
        page = (await conn.execute(sa.select(*columns).where(log.c.seq > after).order_by(log.c.seq).limit(PAGE))).all()
        for row in page:
            expected_seq, last_hash = _check(result, key, row._asdict(), expected_seq, last_hash)
        if len(page) < PAGE:
            break
        after = page[-1].seq
    _check_tail(result, expected_seq - 1, last_hash)
    result.records += len(unchained)
    return result


def _check(result: Verification, key: bytes, row: dict[str, Any], expected_seq: int, last_hash: str) -> tuple[int, str]:
    """Checks one record against the one before; returns the next expected seq and the hash to link to."""
    result.records += 1
    seq = int(row["seq"])
    if seq > result.head_seq:
        result.findings.append(Finding(seq, row["id"], "inserted", f"record beyond the chain head (seq {result.head_seq})"))
    if seq > expected_seq:
        missing = f"seq {expected_seq}" if seq == expected_seq + 1 else f"seq {expected_seq} to {seq - 1}"
        result.findings.append(Finding(seq, row["id"], "deleted", f"{missing} missing before this record"))
    elif seq < expected_seq:
        result.findings.append(Finding(seq, row["id"], "inserted", "seq repeated or out of order"))
    elif row["prev_hash"] != last_hash:
        result.findings.append(Finding(seq, row["id"], "inserted", "does not link to the record before it"))
    if record_hash(key, row) != row["hash"]:
        result.findings.append(Finding(seq, row["id"], "changed", "hash does not match the record's fields"))
    return max(seq, expected_seq - 1) + 1, row["hash"]


def _check_tail(result: Verification, last_seq: int, last_hash: str) -> None:
    if last_seq < result.head_seq:
        result.findings.append(Finding(last_seq, None, "truncated",
                                       f"the log ends at seq {last_seq}, the chain head is at seq {result.head_seq}"))
    elif last_seq == result.head_seq and last_hash != result.head_hash:
        result.findings.append(Finding(last_seq, None, "changed", "the last record's hash is not the chain head's"))


async def verify_database(url: str, tables: KitTables, key: bytes) -> Verification:
    db = Database(url)
    try:
        async with db.read() as conn:
            return await verify(conn, tables, key)
    finally:
        await db.dispose()


async def chain_legacy(db: Database, chain: AuditChain) -> int:
    """Chains the records written before the chain existed (id <= the head's legacy_until), in id
    order; returns how many. Runs at the service's start-up; nothing later is chained this way."""
    log, head = chain.tables.audit, chain.tables.audit_chain
    async with db.begin() as conn:
        limit = (await conn.execute(sa.select(head.c.legacy_until).where(head.c.id == 1))).scalar_one_or_none()
        if not limit:
            return 0
        # the head first: a replica starting at the same time (PostgreSQL) waits here, then finds nothing left
        seq, last = await chain._lock_head(conn)
        rows = [r._asdict() for r in (await conn.execute(
            sa.select(*[log.c[n] for n in _COLUMNS]).where(log.c.seq.is_(None), log.c.id <= limit).order_by(log.c.id))).all()]
        if not rows:
            return 0
        new = chain_rows(chain.key, rows, seq, last)
        for row in rows:
            await conn.execute(log.update().where(log.c.id == row["id"]).values(seq=row["seq"], prev_hash=row["prev_hash"], hash=row["hash"]))
        await conn.execute(head.update().where(head.c.id == 1).values(seq=new[0], hash=new[1]))
        chain._hint = None
        return len(rows)


#: the kit tables as every service database has them (the same definitions in each service's metadata)
KIT_TABLES = add_kit_tables(sa.MetaData())


async def verify_all(urls: dict[str, str], key: bytes) -> tuple[list[str], bool]:
    """One line per service (OK with its record count and head, or its first broken place and how
    many more); True if every chain is intact."""
    lines, ok = [], True
    for service, url in urls.items():
        result = await verify_database(url, KIT_TABLES, key)
        head = f"head seq {result.head_seq} hash {result.head_hash[:16]}"
        pending = f", {result.pending_legacy} older records not yet chained (chained when the service starts)" if result.pending_legacy else ""
        if result.ok:
            lines.append(f"{service}: OK, {result.records} records, {head}{pending}")
            continue
        ok = False
        more = f" (and {len(result.findings) - 1} more)" if len(result.findings) > 1 else ""
        lines.append(f"{service}: BROKEN at {result.findings[0]}{more}; {result.records} records, {head}")
    return lines, ok
