"""The budget ledger: append-only entries in integer cents per (fund, fiscal year).

Invariant: available = budget - committed >= 0 under any concurrency, on SQLite and PostgreSQL.
Every entry that moves `committed` first does a conditional UPDATE of the (fund, year) running-balance
row (`budgets.committed_cents`) in the same transaction as the ledger insert: on PostgreSQL the UPDATE
takes the row lock and re-checks its WHERE clause against the committed row (a concurrent reservation
waits, then sees the new balance); on SQLite writers are serialised (kit: BEGIN IMMEDIATE + in-process
lock). A CHECK constraint (0 <= committed <= amount) backs it up. The reconciliation recomputes the
balance from the ledger and compares.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.funding.domain import BudgetExhausted, Fund, LedgerKind
from services.funding.schemas import Balance, Reconciliation
from services.funding.store import budgets, ledger
from services.kit.db import utc_now
from services.kit.errors import Conflict, NotFound


def _key(fund: Fund, year: int) -> sa.ColumnElement[bool]:
    return sa.and_(budgets.c.fund == fund.value, budgets.c.fiscal_year == year)


async def _append(conn: AsyncConnection, fund: Fund, year: int, kind: LedgerKind, cents: int, application_id: uuid.UUID, by: str) -> None:
    await conn.execute(
        ledger.insert().values(fund=fund.value, fiscal_year=year, kind=kind.value, amount_cents=cents, application_id=application_id, recorded_by=by,
                               at=utc_now())
    )


async def _budget_row(conn: AsyncConnection, fund: Fund, year: int) -> sa.Row:
    row = (await conn.execute(sa.select(budgets).where(_key(fund, year)))).first()
    if row is None:
        raise NotFound(f"no budget for fund {fund.value} in {year}")
    return row


async def reserve(conn: AsyncConnection, fund: Fund, year: int, cents: int, application_id: uuid.UUID, by: str) -> None:
    """Reserves `cents` or raises BudgetExhausted (409); nothing is written then."""
    result = await conn.execute(
        budgets.update()
        .where(_key(fund, year), budgets.c.closed_at.is_(None), budgets.c.amount_cents - budgets.c.committed_cents >= cents)
        .values(committed_cents=budgets.c.committed_cents + cents)
    )
    if result.rowcount != 1:
        row = await _budget_row(conn, fund, year)
        if row.closed_at is not None:
            raise Conflict(f"the {fund.value} fund's year {year} is closed")
        raise BudgetExhausted(
            f"budget_exhausted: {fund.value} {year} has {row.amount_cents - row.committed_cents} cents available, {cents} requested",
            available_cents=row.amount_cents - row.committed_cents,
        )
    await _append(conn, fund, year, LedgerKind.RESERVATION, cents, application_id, by)


async def _uncommit(conn: AsyncConnection, fund: Fund, year: int, kind: LedgerKind, cents: int, application_id: uuid.UUID, by: str) -> None:
    result = await conn.execute(
        budgets.update().where(_key(fund, year), budgets.c.committed_cents >= cents).values(committed_cents=budgets.c.committed_cents - cents)
    )
    if result.rowcount != 1:
        await _budget_row(conn, fund, year)
        raise Conflict(f"cannot {kind.value} {cents} cents: more than is committed")
    await _append(conn, fund, year, kind, cents, application_id, by)


async def release(conn: AsyncConnection, fund: Fund, year: int, cents: int, application_id: uuid.UUID, by: str) -> None:
    """A reservation that will not be paid (cancellation before payout) goes back to the budget."""
    if cents > 0:
        await _uncommit(conn, fund, year, LedgerKind.RELEASE, cents, application_id, by)


async def give_back(conn: AsyncConnection, fund: Fund, year: int, cents: int, application_id: uuid.UUID, by: str) -> None:
    """Unspent paid money returns to the budget (after the proof of use)."""
    if cents > 0:
        await _uncommit(conn, fund, year, LedgerKind.RETURN, cents, application_id, by)


async def disburse(conn: AsyncConnection, fund: Fund, year: int, cents: int, application_id: uuid.UUID, by: str) -> None:
    """Reserved money is paid out: committed stays, reserved becomes paid."""
    await _append(conn, fund, year, LedgerKind.DISBURSEMENT, cents, application_id, by)


async def set_budget(conn: AsyncConnection, fund: Fund, year: int, cents: int, by: str) -> None:
    """The fund manager sets a year's budget; never below what is already committed (409)."""
    result = await conn.execute(
        budgets.update().where(_key(fund, year), budgets.c.committed_cents <= cents).values(amount_cents=cents, set_by=by, set_at=utc_now())
    )
    if result.rowcount == 1:
        return
    row = (await conn.execute(sa.select(budgets).where(_key(fund, year)))).first()
    if row is not None:
        raise Conflict(f"budget cannot go below the committed {row.committed_cents} cents", field="amount_cents")
    await conn.execute(budgets.insert().values(fund=fund.value, fiscal_year=year, amount_cents=cents, committed_cents=0, set_by=by, set_at=utc_now()))


async def sums(conn: AsyncConnection, fund: Fund, year: int) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(ledger.c.kind, sa.func.coalesce(sa.func.sum(ledger.c.amount_cents), 0))
        .where(ledger.c.fund == fund.value, ledger.c.fiscal_year == year)
        .group_by(ledger.c.kind)
    )
    out = {k.value: 0 for k in LedgerKind}
    out.update({kind: int(total) for kind, total in rows})
    return out


async def balance(conn: AsyncConnection, fund: Fund, year: int) -> Balance:
    row = await _budget_row(conn, fund, year)
    s = await sums(conn, fund, year)
    committed = s["reservation"] - s["release"] - s["return"]
    return Balance(
        fund=fund, fiscal_year=year, budget_cents=row.amount_cents,
        approved_cents=s["reservation"] - s["release"], reserved_cents=s["reservation"] - s["release"] - s["disbursement"],
        paid_cents=s["disbursement"], returned_cents=s["return"], committed_cents=committed, available_cents=row.amount_cents - committed,
    )


async def reconcile(conn: AsyncConnection, fund: Fund, year: int) -> Reconciliation:
    row = await _budget_row(conn, fund, year)
    b = await balance(conn, fund, year)
    return Reconciliation(
        fund=fund, fiscal_year=year, ledger_committed_cents=b.committed_cents, running_committed_cents=row.committed_cents,
        available_cents=b.available_cents, matches=b.committed_cents == row.committed_cents and b.available_cents >= 0,
    )


async def application_sums(conn: AsyncConnection, application_id: uuid.UUID) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(ledger.c.kind, sa.func.sum(ledger.c.amount_cents)).where(ledger.c.application_id == application_id).group_by(ledger.c.kind)
    )
    out = {k.value: 0 for k in LedgerKind}
    out.update({kind: int(total) for kind, total in rows})
    return out


async def close_year(conn: AsyncConnection, fund: Fund, year: int) -> None:
    """Closes the fund's year: no reservation is accepted afterwards. NotFound without such a budget,
    Conflict if it is closed already."""
    result = await conn.execute(budgets.update().where(_key(fund, year), budgets.c.closed_at.is_(None)).values(closed_at=utc_now()))
    if result.rowcount != 1:
        await _budget_row(conn, fund, year)  # NotFound if there is no such budget
        raise Conflict(f"the {fund.value} fund's year {year} is already closed")
