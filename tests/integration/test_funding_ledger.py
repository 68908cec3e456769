"""The budget ledger under concurrency (issue 5 acceptance): 200 concurrent hardship approvals of
50-500 EUR against 15,000 EUR, 20 runs, on SQLite and PostgreSQL, through the approval step handler on
a real database. The approved sum never exceeds the budget, every refusal is a 409 with its reason,
and the ledger reconciles with the running balance."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
import sqlalchemy as sa

from services.contracts.funding_workflows import HardshipCommand, HardshipStepInput
from services.funding import handlers, handlers_hardship, ledger, store
from services.funding.domain import BudgetExhausted, Fund, LedgerKind
from services.kit.errors import Conflict
from tests.support.funding import funding_runtime, given_budget, given_hardship

BUDGET = 1_500_000
RUNS = 20
APPROVALS = 200


def approve(application_id: uuid.UUID, decider: str = "fundmanager") -> HardshipStepInput:
    return HardshipStepInput(application_id=application_id, tenant="test", command=HardshipCommand(actor=decider, step="decide", decision="approve"))


class TestConcurrentApprovalsNeverOverspend:
    async def test_200_concurrent_approvals_20_runs(self, database_url: str) -> None:
        rt = await funding_runtime(database_url)
        rng = random.Random(5)
        try:
            for run in range(RUNS):
                year = 3000 + run
                await given_budget(rt, Fund.HARDSHIP, year, BUDGET)
                amounts = [rng.randint(5_000, 50_000) for _ in range(APPROVALS)]
                ids = [await given_hardship(rt, cents, year) for cents in amounts]
                results = await asyncio.gather(*(handlers_hardship.hardship_step(rt, approve(i)) for i in ids), return_exceptions=True)

                approved = [a for a, r in zip(amounts, results, strict=True) if not isinstance(r, BaseException)]
                refused = [(a, r) for a, r in zip(amounts, results, strict=True) if isinstance(r, BaseException)]
                assert all(isinstance(r, BudgetExhausted) and r.status_code == 409 and r.message.startswith("budget_exhausted") for _, r in refused), refused[:3]
                assert refused, "the run must exhaust the budget"
                assert sum(approved) <= BUDGET
                async with rt.db.read() as conn:
                    rec = await ledger.reconcile(conn, Fund.HARDSHIP, year)
                    sums = await ledger.sums(conn, Fund.HARDSHIP, year)
                    statuses = dict((await conn.execute(
                        sa.select(store.hardship.c.status, sa.func.count()).where(store.hardship.c.fiscal_year == year).group_by(store.hardship.c.status)
                    )).all())
                assert rec.matches and rec.available_cents >= 0
                assert sums[LedgerKind.RESERVATION] == sum(approved) == rec.ledger_committed_cents
                assert rec.available_cents < min(a for a, _ in refused)  # refused only when it truly did not fit
                assert statuses == {"approved": len(approved), "pending": len(refused)}  # refused ones stay undecided
        finally:
            await rt.db.dispose()


class TestBudgetSetting:
    async def test_the_budget_cannot_be_set_below_what_is_committed(self, database_url: str) -> None:
        rt = await funding_runtime(database_url)
        try:
            await given_budget(rt, Fund.HARDSHIP, 2999, 100_000)
            app = await given_hardship(rt, 60_000, 2999)
            await handlers_hardship.hardship_step(rt, approve(app))
            async with rt.db.begin() as conn:
                with pytest.raises(Conflict):
                    await ledger.set_budget(conn, Fund.HARDSHIP, 2999, 59_999, "fundmanager")
            async with rt.db.begin() as conn:
                await ledger.set_budget(conn, Fund.HARDSHIP, 2999, 60_000, "fundmanager")
                assert (await ledger.balance(conn, Fund.HARDSHIP, 2999)).available_cents == 0
        finally:
            await rt.db.dispose()


class TestStepsAreIdempotent:
    async def test_a_retried_approval_reserves_once(self, database_url: str) -> None:
        rt = await funding_runtime(database_url)
        try:
            await given_budget(rt, Fund.HARDSHIP, 2997, 100_000)
            app = await given_hardship(rt, 40_000, 2997)
            first = await handlers_hardship.hardship_step(rt, approve(app))
            again = await handlers_hardship.hardship_step(rt, approve(app))  # an activity retry after the commit
            assert first == again and first.status == "approved"
            async with rt.db.read() as conn:
                assert (await ledger.sums(conn, Fund.HARDSHIP, 2997))[LedgerKind.RESERVATION] == 40_000
                outbox = (await conn.execute(sa.select(store.kit.outbox.c.event_type).order_by(store.kit.outbox.c.seq))).scalars().all()
            assert outbox == ["HardshipDecisionRecorded", "HardshipApproved"]
        finally:
            await rt.db.dispose()


class TestYearClose:
    async def test_the_statement_shows_approved_paid_returned_and_remaining_and_the_year_takes_no_more_reservations(self, database_url: str) -> None:
        from services.funding.domain import Fund as F
        from services.kit.auth import Principal

        rt = await funding_runtime(database_url)
        manager = Principal("fundmanager", frozenset({"fund_manager"}))
        try:
            await given_budget(rt, F.DISCRETIONARY, 2996, 1_000_000)
            paid, unpaid = uuid.uuid4(), uuid.uuid4()
            async with rt.db.begin() as conn:
                await ledger.reserve(conn, F.DISCRETIONARY, 2996, 300_000, paid, "fm")
                await ledger.disburse(conn, F.DISCRETIONARY, 2996, 300_000, paid, "fm")
                await ledger.give_back(conn, F.DISCRETIONARY, 2996, 30_000, paid, "org")
                await ledger.reserve(conn, F.DISCRETIONARY, 2996, 100_000, unpaid, "fm")
            statement = await handlers.close_year(rt, manager, F.DISCRETIONARY, 2996)
            assert (statement.approved_cents, statement.paid_cents, statement.returned_cents, statement.remaining_cents) == (400_000, 300_000, 30_000, 630_000)
            with pytest.raises(Conflict):
                await handlers.close_year(rt, manager, F.DISCRETIONARY, 2996)
            async with rt.db.begin() as conn:
                with pytest.raises(Conflict, match="closed"):
                    await ledger.reserve(conn, F.DISCRETIONARY, 2996, 1, uuid.uuid4(), "fm")
            async with rt.db.read() as conn:
                events = (await conn.execute(sa.select(store.kit.outbox.c.event_type))).scalars().all()
            assert events == ["FundYearClosed"]
        finally:
            await rt.db.dispose()
