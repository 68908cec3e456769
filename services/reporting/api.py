"""Reporting's HTTP API."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends

from services.kit.auth import Principal, Role, require
from services.kit.service import RuntimeDep
from services.reporting import store
from services.reporting.domain import KpiReport, MonthKpis

router = APIRouter(tags=["kpis"])


@router.get("/kpis", response_model=KpiReport, summary="Counts per month (aggregates only)")
async def kpis(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.REPORTING_OFFICER, Role.OPERATOR, Role.TEAM_LEAD))]
) -> KpiReport:
    t = store.monthly_counts
    async with rt.db.read() as conn:
        rows = (await conn.execute(sa.select(t).order_by(t.c.month))).all()
    months: dict[str, dict[str, int]] = {}
    for r in rows:
        months.setdefault(r.month, {})[r.kpi] = r.count
    return KpiReport(months=[MonthKpis(month=m, **v) for m, v in months.items()])
