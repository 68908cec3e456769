"""Property-based tests (issue 5 acceptance): for every sequence of apply / approve / reject / order /
disburse / cancel / return on a real SQLite database, the ledger invariant (available >= 0, the running
balance equals the ledger) and the four-eyes rules hold, and refusals are domain errors only."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from services.contracts.funding_workflows import HardshipCommand, HardshipStepInput
from services.funding import handlers_hardship, ledger, store
from services.funding.domain import Fund
from services.kit.errors import DomainError
from tests.support.funding import funding_runtime, given_budget, given_hardship

YEAR = 2998
BUDGET = 100_000
PEOPLE = ("cw1", "fm1", "fm2", "po1")


class LedgerAndFourEyes(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = tempfile.TemporaryDirectory()
        self.rt = self.run(funding_runtime(f"sqlite+aiosqlite:///{Path(self.dir.name) / 'f.db'}"))
        self.run(given_budget(self.rt, Fund.HARDSHIP, YEAR, BUDGET))
        self.apps: list[uuid.UUID] = []
        self.returned: dict[uuid.UUID, int] = {}

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.rt.db.dispose())
        self.loop.close()
        self.dir.cleanup()

    def step(self, app: uuid.UUID, actor: str, step: str, decision: str | None = None) -> None:
        cmd = HardshipCommand(actor=actor, step=step, decision=decision, reason="other" if decision == "reject" else None)  # type: ignore[arg-type]
        try:
            self.run(handlers_hardship.hardship_step(self.rt, HardshipStepInput(application_id=app, tenant="t", command=cmd)))
        except DomainError:
            pass  # refusals are domain errors (403/409); anything else fails the test

    @precondition(lambda self: len(self.apps) < 5)  # few applications, long histories each
    @rule(amount=st.integers(1, 60_000), applicant=st.sampled_from(("cw1", "fm1")), required=st.integers(1, 2))
    def apply(self, amount: int, applicant: str, required: int) -> None:
        self.apps.append(self.run(given_hardship(self.rt, amount, YEAR, applicant=applicant, required=required)))

    @precondition(lambda self: self.apps)
    @rule(data=st.data(), actor=st.sampled_from(PEOPLE), decision=st.sampled_from(("approve", "approve", "approve", "reject")))
    def decide(self, data: st.DataObject, actor: str, decision: str) -> None:
        self.step(data.draw(st.sampled_from(self.apps)), actor, "decide", decision)

    @precondition(lambda self: self.apps)
    @rule(data=st.data(), actor=st.sampled_from(PEOPLE))
    def order_payment(self, data: st.DataObject, actor: str) -> None:
        self.step(data.draw(st.sampled_from(self.apps)), actor, "order_payment")

    @precondition(lambda self: self.apps)
    @rule(data=st.data(), actor=st.sampled_from(PEOPLE))
    def disburse(self, data: st.DataObject, actor: str) -> None:
        self.step(data.draw(st.sampled_from(self.apps)), actor, "disburse")

    @precondition(lambda self: self.apps)
    @rule(data=st.data(), actor=st.sampled_from(PEOPLE), rarely=st.integers(0, 5))
    def cancel(self, data: st.DataObject, actor: str, rarely: int) -> None:
        if rarely == 0:  # cancellations are rare, so that histories reach payout
            self.step(data.draw(st.sampled_from(self.apps)), actor, "cancel")

    @precondition(lambda self: self.apps)
    @rule(data=st.data(), share=st.floats(0, 1))
    def give_back(self, data: st.DataObject, share: float) -> None:
        """Unspent paid money returns to the budget (at most what was paid and not yet returned)."""
        app = data.draw(st.sampled_from(self.apps))

        async def go() -> None:
            async with self.rt.db.begin() as conn:
                row = await store.get_hardship(conn, app)
                if row.status != "disbursed":
                    return
                cents = int((row.amount_cents - self.returned.get(app, 0)) * share)
                await ledger.give_back(conn, Fund.HARDSHIP, YEAR, cents, app, "po1")
                self.returned[app] = self.returned.get(app, 0) + cents

        self.run(go())

    @invariant()
    def ledger_reconciles_and_never_overspends(self) -> None:
        async def check() -> None:
            async with self.rt.db.read() as conn:
                rec = await ledger.reconcile(conn, Fund.HARDSHIP, YEAR)
                bal = await ledger.balance(conn, Fund.HARDSHIP, YEAR)
            assert rec.matches and rec.available_cents >= 0
            assert bal.reserved_cents >= 0 and bal.paid_cents >= bal.returned_cents

        self.run(check())

    @invariant()
    def four_eyes_and_reservations_per_application(self) -> None:
        async def check() -> None:
            async with self.rt.db.read() as conn:
                rows = (await conn.execute(sa.select(store.hardship).where(store.hardship.c.fiscal_year == YEAR))).all()
                decisions = (await conn.execute(sa.select(store.hardship_decisions))).all()
                for row in rows:
                    mine = [d for d in decisions if d.application_id == row.id]
                    approvals = {d.decider for d in mine if d.decision == "approve"}
                    s = await ledger.application_sums(conn, row.id)
                    assert row.applicant not in {d.decider for d in mine}
                    if row.status in ("approved", "payment_ordered", "disbursed"):
                        assert len(approvals) >= row.deciders_required
                        assert s["reservation"] == row.amount_cents and s["release"] == 0
                    if row.status in ("payment_ordered", "disbursed"):
                        assert row.payment_ordered_by in approvals
                    if row.status == "disbursed":
                        assert row.disbursed_by not in {row.applicant, *row.deciders}
                        assert s["disbursement"] == row.amount_cents
                    else:
                        assert s["disbursement"] == 0
                    if row.status == "cancelled":
                        assert s["reservation"] == s["release"]
                    if row.status in ("pending", "rejected"):
                        assert s["reservation"] == 0

        self.run(check())


TestLedgerAndFourEyes = LedgerAndFourEyes.TestCase
TestLedgerAndFourEyes.settings = settings(max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
