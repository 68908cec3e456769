"""Funding's HTTP API."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends

from services.funding import store
from services.funding.domain import BudgetOut, Fund, fiscal_year
from services.kit.auth import Principal, Role, require
from services.kit.errors import NotFound
from services.kit.service import RuntimeDep

router = APIRouter(tags=["budgets"])
READ = (Role.FUND_MANAGER, Role.STEERING_MEMBER, Role.REPORTING_OFFICER, Role.CASEWORKER)


@router.get("/budgets/{fund}", response_model=BudgetOut, summary="A fund's budget for the current fiscal year")
async def current_budget(fund: Fund, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*READ))]) -> BudgetOut:
    return await budget(fund, fiscal_year(date.today()), rt, principal)


@router.get("/budgets/{fund}/{year}", response_model=BudgetOut, summary="A fund's budget for a fiscal year")
async def budget(fund: Fund, year: int, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*READ))]) -> BudgetOut:
    b = store.budgets
    async with rt.db.read() as conn:
        row = (await conn.execute(sa.select(b).where(b.c.fund == fund.value, b.c.fiscal_year == year))).first()
    if row is None:
        raise NotFound(f"no budget for fund {fund.value} in {year}")
    return BudgetOut(fund=Fund(row.fund), fiscal_year=row.fiscal_year, amount_cents=row.amount_cents)
