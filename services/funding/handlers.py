"""Funding's commands outside the two funds' flows: start-up (budgets, the steering group's register),
the case projection from casework's events, and the year close. The hardship fund's commands are in
`handlers_hardship.py`, the discretionary fund's in `handlers_measures.py` and `handlers_proof.py`."""

from __future__ import annotations

import uuid

from services.contracts.casework import CaseAssigned, CaseClosed, CaseOpened
from services.contracts.funding import FundYearClosed
from services.contracts.workdays import city_today
from services.funding import ledger, store
from services.funding.domain import Fund, fiscal_year
from services.funding.runtime import FundingRuntime
from services.funding.schemas import YearStatement
from services.kit import telemetry
from services.kit.auth import Principal
from services.kit.broker import Delivery
from services.kit.db import utc_now

# --- start-up ------------------------------------------------------------------------------------


async def ensure_current_budgets(rt: FundingRuntime) -> None:
    """Each fund has a budget for the current fiscal year from the settings' default, unless the fund
    manager set one already (an existing budget is never overwritten). The steering group's member
    register is seeded once from the settings."""
    year = fiscal_year(city_today())
    defaults = {Fund.HARDSHIP: rt.settings.hardship_fund_cents, Fund.DISCRETIONARY: rt.settings.discretionary_fund_cents}
    async with rt.db.begin() as conn:
        for fund, cents in defaults.items():
            await store.ensure_budget(conn, fund.value, year, cents, utc_now())
        await store.seed_members(conn, rt.settings.steering_members, utc_now())


# --- case projection (casework's events in) ---------------------------------------------------------


async def project_case_opened(rt: FundingRuntime, event: CaseOpened, delivery: Delivery) -> None:
    """Funding knows a case's members to check that a hardship applicant is a client of the case."""
    telemetry.mark(case_id=event.case_id)
    async with delivery.transaction() as tx:
        await store.case_opened(tx.conn, event.case_id, [str(m) for m in event.member_ids])


async def project_case_assigned(rt: FundingRuntime, event: CaseAssigned, delivery: Delivery) -> None:
    """The responsible caseworker of a case is the one who may apply for its clients."""
    telemetry.mark(case_id=event.case_id)
    async with delivery.transaction() as tx:
        await store.update_case(tx.conn, event.case_id, caseworker=event.caseworker)


async def project_case_closed(rt: FundingRuntime, event: CaseClosed, delivery: Delivery) -> None:
    telemetry.mark(case_id=event.case_id)
    async with delivery.transaction() as tx:
        await store.update_case(tx.conn, event.case_id, closed=True)


# --- the year close ------------------------------------------------------------------------------


async def close_year(rt: FundingRuntime, principal: Principal, fund: Fund, year: int) -> YearStatement:
    """The fund's year closes with a statement of approved, paid, returned and remaining money; no
    reservation is accepted afterwards."""
    async with rt.outbox.transaction() as tx:
        await ledger.close_year(tx.conn, fund, year)
        bal = await ledger.balance(tx.conn, fund, year)
        statement = YearStatement(fund=fund, fiscal_year=year, budget_cents=bal.budget_cents, approved_cents=bal.approved_cents,
                                  paid_cents=bal.paid_cents, returned_cents=bal.returned_cents, remaining_cents=bal.available_cents)
        await tx.emit(FundYearClosed(tenant=rt.platform.tenant, correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{fund.value}/{year}"),
                                     **statement.model_dump(mode="json")))
        return statement
