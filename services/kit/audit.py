"""Audit trail: every read or write of personal data records who (user and role), what record,
when and with what outcome (DOMAIN.md "Data protection"; SGB X §67 ff.)."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit import telemetry
from services.kit.db import KitTables, utc_now


async def record(
    conn: AsyncConnection,
    tables: KitTables,
    *,
    actor: str,
    role: str,
    action: str,
    record_type: str,
    record_id: object | None,
    outcome: str = "ok",
) -> None:
    await conn.execute(
        tables.audit.insert().values(
            at=utc_now(),
            actor=actor,
            role=role,
            action=action,
            record_type=record_type,
            record_id=str(record_id) if record_id is not None else None,
            outcome=outcome,
            trace_id=telemetry.current_trace_id(),
        )
    )


async def record_many(conn: AsyncConnection, tables: KitTables, *, actor: str, role: str, entries: list[tuple[str, str, object]], outcome: str = "ok") -> None:
    """Several audit records of one request in one statement: (action, record type, record id) each,
    e.g. a search and every person it showed."""
    if not entries:
        return
    at, trace_id = utc_now(), telemetry.current_trace_id()
    rows = [dict(at=at, actor=actor, role=role, action=action, record_type=record_type, record_id=str(record_id), outcome=outcome, trace_id=trace_id)
            for action, record_type, record_id in entries]
    await conn.execute(tables.audit.insert(), rows)


_PARAM = re.compile(r"\{[^}]*\}")


def route_record(path: str) -> str:
    """The record type of a route, from its path template: its literal segments, e.g.
    `/measures/{id}/receipts/{receipt_id}` -> `measures.receipts` (a refused request names what it was after)."""
    return ".".join(part for part in _PARAM.sub("", path).split("/") if part) or "root"


def route_record_id(path_params: dict[str, object]) -> str | None:
    """The record a refused request was after: its path parameters' values joined, e.g. `30:2024-Q3`."""
    return ":".join(str(v) for v in path_params.values())[:200] or None
