"""Funding's HTTP API: budgets and the ledger, the payment officer's work list; it assembles the hardship
fund's routes (`api_hardship.py`) and the discretionary fund's (`api_measures.py`). HTTP only: routes
parse, call a handler or a store read, render."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from services.contracts.funding import BudgetSet
from services.contracts.workdays import city_today
from services.funding import handlers, ledger, store, store_measures
from services.funding.api_hardship import hardship_router
from services.funding.api_measures import measures_router
from services.funding.domain import Fund, fiscal_year
from services.funding.runtime import FundingRuntimeDep
from services.funding.schemas import Balance, BudgetOut, PaymentItem, PaymentList, Reconciliation, SetBudget, YearStatement
from services.kit.auth import Principal, Role, require
from services.kit.errors import NotFound
from services.kit.params import Year

__all__ = ["hardship_router", "measures_router", "router"]

router = APIRouter(tags=["budgets"])
READ = (Role.FUND_MANAGER, Role.STEERING_MEMBER, Role.REPORTING_OFFICER, Role.CASEWORKER)
MANAGER = Annotated[Principal, Depends(require(Role.FUND_MANAGER))]


# --- budgets and ledger -------------------------------------------------------------------------


@router.get("/budgets/{fund}", response_model=BudgetOut, summary="A fund's budget for the current fiscal year")
async def current_budget(fund: Fund, rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(*READ))]) -> BudgetOut:
    return await budget(fund, fiscal_year(city_today()), rt, principal)


@router.get("/budgets/{fund}/{year}", response_model=BudgetOut, summary="A fund's budget for a fiscal year")
async def budget(fund: Fund, year: Year, rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(*READ))]) -> BudgetOut:
    async with rt.db.read() as conn:
        row = await store.get_budget(conn, fund.value, year)
    if row is None:
        raise NotFound(f"no budget for fund {fund.value} in {year}")
    return BudgetOut(fund=Fund(row.fund), fiscal_year=row.fiscal_year, amount_cents=row.amount_cents)


@router.put("/budgets/{fund}/{year}", response_model=Balance, summary="Set a fiscal year's budget (never below what is committed)")
async def set_budget(fund: Fund, year: Year, body: SetBudget, rt: FundingRuntimeDep, principal: MANAGER) -> Balance:
    async with rt.outbox.transaction() as tx:
        await ledger.set_budget(tx.conn, fund, year, body.amount_cents, principal.username)
        await tx.emit(BudgetSet(tenant=rt.platform.tenant, correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{fund.value}/{year}"),
                                fund=fund.value, fiscal_year=year, amount_cents=body.amount_cents, set_by=principal.username))
        return await ledger.balance(tx.conn, fund, year)


@router.get("/budgets/{fund}/{year}/balance", response_model=Balance, summary="Approved, reserved, paid, returned and available money, from the ledger")
async def balance(fund: Fund, year: Year, rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(*READ))]) -> Balance:
    async with rt.db.read() as conn:
        return await ledger.balance(conn, fund, year)


@router.get("/budgets/{fund}/{year}/reconciliation", response_model=Reconciliation, summary="Recompute the balance from the ledger and compare")
async def reconciliation(fund: Fund, year: Year, rt: FundingRuntimeDep,
                         principal: Annotated[Principal, Depends(require(Role.FUND_MANAGER, Role.OPERATOR))]) -> Reconciliation:
    async with rt.db.read() as conn:
        return await ledger.reconcile(conn, fund, year)


@router.post("/budgets/{fund}/{year}/close", response_model=YearStatement, summary="Close the fund's year with a statement")
async def close_year(fund: Fund, year: Year, rt: FundingRuntimeDep, principal: MANAGER) -> YearStatement:
    return await handlers.close_year(rt, principal, fund, year)


# --- payments (the payment officer's work list) ------------------------------------------------


@router.get("/payments", response_model=PaymentList, summary="Payouts to record (open) or recorded (done), both funds")
async def payments(
    rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(Role.PAYMENT_OFFICER, Role.FUND_MANAGER))],
    state: Annotated[Literal["open", "done"], Query(description="open: ordered, not yet paid out; done: paid out (newest first)")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> PaymentList:
    async with rt.db.read() as conn:
        hardship = await store_measures.hardship_payments(conn, state, limit)
        measures = await store_measures.measure_payments(conn, state, limit)
        drawdowns = await store_measures.open_drawdowns(conn) if state == "open" else await store_measures.paid_drawdowns(conn, limit)
    items = [
        PaymentItem(kind="hardship", application_id=r.id, fund=Fund.HARDSHIP, fiscal_year=r.fiscal_year, amount_cents=r.amount_cents,
                    case_id=r.case_id, ordered_by=r.payment_ordered_by, paid_by=r.disbursed_by or r.paid_by, paid_at=r.paid_at)
        for r in hardship
    ] + [
        PaymentItem(kind="measure", application_id=r.id, fund=Fund.DISCRETIONARY, fiscal_year=r.fiscal_year, amount_cents=r.amount_cents,
                    title=r.title, provider=r.provider, paid_by=r.paid_by, paid_at=r.paid_at)
        for r in measures
    ] + [
        PaymentItem(kind="drawdown", application_id=r.application_id, drawdown_id=r.id, fund=Fund.DISCRETIONARY, fiscal_year=r.fiscal_year,
                    amount_cents=r.amount_cents, title=r.title, provider=r.provider, paid_by=r.paid_by, paid_at=r.paid_at)
        for r in drawdowns
    ]
    if state == "done":
        items = sorted(items, key=lambda i: i.paid_at or datetime.min.replace(tzinfo=UTC), reverse=True)[:limit]
    return PaymentList(state=state, payments=items)
