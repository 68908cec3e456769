"""Audit trail: every read or write of personal data records who (user and role), what record,
when and with what outcome (DOMAIN.md "Data protection"; SGB X §67 ff.).

The log is tamper-evident: a hash chain per service database. Each record carries its position
`seq` (1, 2, 3 … without gaps), the previous record's hash `prev_hash` and its own `hash` =
HMAC-SHA256(key, canonical serialisation of the record including seq and prev_hash). The one-row
table `audit_chain` holds the chain head (last seq and hash); a record is written in the same
transaction as the head's update, so a changed record breaks its hash, a deleted or inserted one
breaks the sequence or the link, and a truncated tail no longer reaches the head
(`services.kit.audit_verify`, `ankommen audit verify`).

Writers are serialised by the head row: the head is updated by a compare-and-set
(`UPDATE … WHERE seq = :expected AND hash = :expected`), which on PostgreSQL waits for a concurrent
writer's row lock and then matches nothing, and on SQLite runs under the service's writer lock. The
expected head is the one this process wrote last (a hint); if the hint is stale (another process
wrote, or our transaction rolled back) the head is read with `SELECT … FOR UPDATE` and the batch
hashed again. The hot path costs one statement per batch besides the insert.

The key is the setting ANKOMMEN_AUDIT_KEY or, if unset, derived from the stack's secret
(ANKOMMEN_AUTH_SECRET): `audit_key(platform)`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit import telemetry
from services.kit.db import KEEP_ON_ROLLBACK, KitTables, utc_now

GENESIS = "0" * 64
#: the fields a record's hash covers, in this order
CHAINED_FIELDS = ("seq", "prev_hash", "at", "actor", "role", "action", "record_type", "record_id", "outcome", "trace_id")


def audit_key(platform: Any) -> bytes:
    """The chain's HMAC key: ANKOMMEN_AUDIT_KEY, or derived from the stack's secret (ANKOMMEN_AUTH_SECRET)."""
    explicit = getattr(platform, "audit_key", "") or ""
    if explicit:
        return explicit.encode()
    return derive_key(platform.auth_secret)


def derive_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"ankommen audit chain v1", hashlib.sha256).digest()


def _at_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: dict[str, Any]) -> bytes:
    """The bytes a record's hash covers: its chained fields as compact JSON in a fixed order."""
    values = [_at_text(row["at"]) if name == "at" else row.get(name) for name in CHAINED_FIELDS]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()


def record_hash(key: bytes, row: dict[str, Any]) -> str:
    return hmac.new(key, canonical(row), hashlib.sha256).hexdigest()


def chain_rows(key: bytes, rows: list[dict[str, Any]], seq: int, prev_hash: str) -> tuple[int, str]:
    """Gives each row its seq, prev_hash and hash after the head (seq, prev_hash); returns the new head."""
    for row in rows:
        seq += 1
        row["seq"], row["prev_hash"] = seq, prev_hash
        row["hash"] = prev_hash = record_hash(key, row)
    return seq, prev_hash


@dataclass
class AuditChain:
    """The chain of one service database: its key and this process's hint of the head."""

    tables: KitTables
    key: bytes
    _hint: tuple[int, str] | None = field(default=None, repr=False)

    async def append(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        """Chains and inserts `rows` in the caller's transaction (one head update, one insert)."""
        if not rows:
            return
        self._keep_refusals(conn, rows)
        head = self.tables.audit_chain
        if self._hint is not None:
            seq, last = self._hint
            new = chain_rows(self.key, rows, seq, last)
            moved = await conn.execute(_move_head(head), {"b_seq": seq, "b_hash": last, "seq": new[0], "hash": new[1]})
            if moved.rowcount == 1:
                await self._insert(conn, rows, new)
                return
        seq, last = await self._lock_head(conn)
        new = chain_rows(self.key, rows, seq, last)
        await conn.execute(head.update().where(head.c.id == 1).values(seq=new[0], hash=new[1]))
        await self._insert(conn, rows, new)

    def _keep_refusals(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        """A refusal ("not_found", "forbidden", …) is usually followed by raising the error, which rolls
        the transaction back: its records are written again in a transaction of their own then
        (Database.begin, KEEP_ON_ROLLBACK), so a refused access stays in the log."""
        refused = [{k: v for k, v in row.items() if k not in ("seq", "prev_hash", "hash")} for row in rows if row["outcome"] != "ok"]
        if refused:
            conn.info.setdefault(KEEP_ON_ROLLBACK, []).append(lambda again: self.append(again, refused))

    async def _insert(self, conn: AsyncConnection, rows: list[dict[str, Any]], new: tuple[int, str]) -> None:
        await conn.execute(self.tables.audit.insert(), rows)
        self._hint = new

    async def _lock_head(self, conn: AsyncConnection) -> tuple[int, str]:
        """The head, locked for this transaction (FOR UPDATE; SQLite: the writer lock); made if missing."""
        head = self.tables.audit_chain
        query = sa.select(head.c.seq, head.c.hash).where(head.c.id == 1).with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            from services.kit.on_conflict import insert_ignoring_conflicts

            await insert_ignoring_conflicts(conn, head, ["id"], [{"id": 1, "seq": 0, "hash": GENESIS, "legacy_until": 0}])
            row = (await conn.execute(query)).one()
        return int(row.seq), str(row.hash)


def _row(actor: str, role: str, action: str, record_type: str, record_id: object | None, outcome: str, at: datetime, trace_id: str | None) -> dict:
    return dict(at=at, actor=actor, role=role, action=action, record_type=record_type,
                record_id=str(record_id) if record_id is not None else None, outcome=outcome, trace_id=trace_id)


async def record(
    conn: AsyncConnection,
    chain: AuditChain,
    *,
    actor: str,
    role: str,
    action: str,
    record_type: str,
    record_id: object | None,
    outcome: str = "ok",
) -> None:
    await chain.append(conn, [_row(actor, role, action, record_type, record_id, outcome, utc_now(), telemetry.current_trace_id())])


async def record_many(conn: AsyncConnection, chain: AuditChain, *, actor: str, role: str, entries: list[tuple[str, str, object]], outcome: str = "ok") -> None:
    """Several audit records of one request in one statement: (action, record type, record id) each,
    e.g. a search and every person it showed."""
    if not entries:
        return
    at, trace_id = utc_now(), telemetry.current_trace_id()
    await chain.append(conn, [_row(actor, role, action, record_type, record_id, outcome, at, trace_id) for action, record_type, record_id in entries])


_PARAM = re.compile(r"\{[^}]*\}")


def route_record(path: str) -> str:
    """The record type of a route, from its path template: its literal segments, e.g.
    `/measures/{id}/receipts/{receipt_id}` -> `measures.receipts` (a refused request names what it was after)."""
    return ".".join(part for part in _PARAM.sub("", path).split("/") if part) or "root"


def route_record_id(path_params: dict[str, object]) -> str | None:
    """The record a refused request was after: its path parameters' values joined, e.g. `30:2024-Q3`."""
    return ":".join(str(v) for v in path_params.values())[:200] or None


@functools.cache
def _move_head(head: sa.Table) -> sa.Update:
    """Moves the chain's head from (b_seq, b_hash) to the new (seq, hash), built once per table
    (services/kit/db.py: why); no row changes if another transaction moved it first."""
    return head.update().where(head.c.id == 1, head.c.seq == sa.bindparam("b_seq"), head.c.hash == sa.bindparam("b_hash"))
