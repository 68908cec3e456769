"""Casework's HTTP API."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.casework import store
from services.casework.domain import CaseList, CaseOut
from services.kit import telemetry
from services.kit.auth import Principal, Role, require
from services.kit.errors import NotFound
from services.kit.service import RuntimeDep

router = APIRouter(tags=["cases"])
READ = (Role.CASEWORKER, Role.TEAM_LEAD, Role.OPERATOR)


def _out(row) -> CaseOut:  # type: ignore[no-untyped-def]
    return CaseOut(
        case_id=row.id, household_id=row.household_id, intake_id=row.intake_id, programme=row.programme,
        district=row.district, phase=row.phase, opened_at=row.opened_at,
    )


@router.get("/cases", response_model=CaseList, summary="List cases (pseudonymous ids only)")
async def list_cases(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(require(*READ))],
    intake_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CaseList:
    async with rt.db.read() as conn:
        rows, total = await store.list_cases(conn, intake_id=intake_id, limit=limit, offset=offset)
    return CaseList(cases=[_out(r) for r in rows], total=total)


@router.get("/cases/{id}", response_model=CaseOut, summary="Read a case")
async def get_case(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*READ))]) -> CaseOut:
    telemetry.mark(case_id=id)
    async with rt.db.begin() as conn:
        row = await store.get_case(conn, id)
        await rt.audit(conn, principal, [r.value for r in READ], "read", "case", id, "ok" if row else "not_found")
    if row is None:
        raise NotFound("no such case")
    return _out(row)
