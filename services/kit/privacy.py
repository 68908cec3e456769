"""The data protection officer's routes of every service (DSGVO Art. 15, SGB X §83; role
`data_protection_officer`), both audit-logged themselves:

- `GET /audit`: this service's audit log searched by person, staff member (actor) and period, paged.
  "By person" means the records that belong to that person in this service (intake: the person, the
  household and its intakes, the clearings; casework: the cases the person is a member of and their
  goals and referrals; funding: the person's hardship applications), resolved by the service
  (`ServiceSpec.person_records`), plus records about the person id itself.
- `GET /data-subjects/{person_id}`: everything this service holds on the person
  (`ServiceSpec.data_subject`), for the access request the web app assembles from all services.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.auth import Principal, Role, require
from services.kit.errors import Invalid
from services.kit.runtime import Runtime
from services.kit.runtime_dep import KitRuntimeDep

DPO = (Role.DATA_PROTECTION_OFFICER.value,)
#: the caller, who must be the data protection officer (module level: the annotation must resolve here)
Officer = Annotated[Principal, Depends(require(Role.DATA_PROTECTION_OFFICER))]
#: (runtime, read connection, person id) -> the ids of this service's records that belong to the person
PersonRecords = Callable[[Any, AsyncConnection, uuid.UUID], Awaitable[list[str]]]
#: (runtime, person id) -> everything the service holds on the person, JSON-able
DataSubject = Callable[[Any, uuid.UUID], Awaitable[dict[str, Any]]]


class AuditEntry(BaseModel):
    seq: int | None
    at: datetime
    actor: str
    role: str
    action: str
    record_type: str
    record_id: str | None
    outcome: str
    trace_id: str | None


class AuditPage(BaseModel):
    service: str
    entries: list[AuditEntry]
    total: int
    limit: int
    offset: int


def jsonable(row: Any) -> dict[str, Any]:
    """A database row as JSON-able values (ids and dates as text, bytes left out: sealed data is
    listed by the service decrypted, or not at all)."""
    out: dict[str, Any] = {}
    for key, value in (row._asdict() if hasattr(row, "_asdict") else dict(row)).items():
        if isinstance(value, bytes | bytearray | memoryview):
            continue
        out[key] = str(value) if isinstance(value, uuid.UUID | Decimal) else value.isoformat() if isinstance(value, date | datetime) else value
    return out


async def search_audit(
    conn: AsyncConnection, rt: Runtime, *, record_ids: list[str] | None, actor: str | None, since: datetime | None, until: datetime | None,
    limit: int, offset: int,
) -> tuple[list[AuditEntry], int]:
    log = rt.tables.audit
    where = []
    if record_ids is not None:
        where.append(log.c.record_id.in_(record_ids))
    if actor:
        where.append(log.c.actor == actor)
    if since:
        where.append(log.c.at >= since)
    if until:
        where.append(log.c.at < until)
    total = (await conn.execute(sa.select(sa.func.count()).select_from(log).where(*where))).scalar_one()
    rows = (await conn.execute(sa.select(log).where(*where).order_by(log.c.at.desc(), log.c.id.desc()).limit(limit).offset(offset))).all()
    return [AuditEntry.model_validate(r, from_attributes=True) for r in rows], int(total)


def _aware(**values: datetime | None) -> None:
    for name, value in values.items():
        if value is not None and value.tzinfo is None:
            raise Invalid(f"{name}: give a time zone (e.g. 2026-12-01T00:00:00+01:00)", field=name)


def privacy_router(service: str, person_records: PersonRecords, data_subject: DataSubject) -> APIRouter:
    router = APIRouter(tags=["data protection"])

    @router.get("/audit", response_model=AuditPage, summary="Data protection officer: search this service's audit log (audit-logged)")
    async def get_audit(
        rt: KitRuntimeDep, principal: Officer,
        person_id: Annotated[uuid.UUID | None, Query(description="Records that belong to this person in this service")] = None,
        actor: Annotated[str | None, Query(max_length=200, description="Staff member (user name)")] = None,
        since: Annotated[datetime | None, Query(description="From (with time zone)")] = None,
        until: Annotated[datetime | None, Query(description="Before (with time zone)")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> AuditPage:
        _aware(since=since, until=until)
        async with rt.db.read() as conn:
            ids = [str(person_id), *await person_records(rt, conn, person_id)] if person_id else None
            entries, total = await search_audit(conn, rt, record_ids=ids, actor=actor, since=since, until=until, limit=limit, offset=offset)
        async with rt.db.begin() as conn:
            await rt.audit(conn, principal, DPO, "search", "audit_log", person_id or (f"actor:{actor}" if actor else None))
        return AuditPage(service=service, entries=entries, total=total, limit=limit, offset=offset)

    @router.get("/data-subjects/{person_id}", summary="Data protection officer: everything this service holds on a person (Art. 15 DSGVO; audit-logged)")
    async def get_data_subject(person_id: uuid.UUID, rt: KitRuntimeDep, principal: Officer) -> dict[str, Any]:
        async with rt.db.begin() as conn:
            await rt.audit(conn, principal, DPO, "access_request", "person", person_id)
        return {"service": service, "person_id": str(person_id), **await data_subject(rt, person_id)}

    return router


async def nothing(rt: Any, conn: AsyncConnection, person_id: uuid.UUID) -> list[str]:
    return []


async def aggregates_only(rt: Any, person_id: uuid.UUID) -> dict[str, Any]:
    return {"holds": "aggregates only", "note": "This service keeps counts per period and group, no record of any single person."}
