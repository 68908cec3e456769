"""The hardship approval's rules exist once (contracts' `hardship_step_refusal`: four eyes, the payout by
a third person): funding's API, the workflow's update validator and the activity give the same answer for
the same step on the same application, accepted or refused. Three identical applications on a real
Temporal dev server: A through the API (which checks the record, then sends the update), B by updates
sent straight to its workflow (validator, then activity), C through the activity alone."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from services.contracts.funding_workflows import (
    HardshipApprovalInput,
    HardshipCommand,
    HardshipState,
    HardshipStepInput,
    hardship_step_refusal,
    hardship_workflow_id,
)
from services.funding import api_hardship as api
from services.funding import handlers_hardship, store
from services.funding.activities import FundingActivities
from services.funding.domain import Fund, hardship_state
from services.funding.schemas import HardshipDecide
from services.kit.auth import Principal
from services.kit.errors import DomainError
from services.kit.temporal import make_worker
from tests.support.funding import funding_runtime, given_budget, given_hardship
from workflows.hardship_approval import HardshipApproval

YEAR = 2994
APPLICANT = "cw"
Answer = tuple[str, object]  # ("ok", state) or (refusal type, message)


@pytest.fixture
async def rt(tmp_path, temporal_env):  # type: ignore[no-untyped-def]
    runtime = await funding_runtime(f"sqlite+aiosqlite:///{tmp_path / 'funding.db'}")
    runtime.temporal = temporal_env.client
    await given_budget(runtime, Fund.HARDSHIP, YEAR, 1_500_000)
    yield runtime
    await runtime.db.dispose()


async def via_api(rt, app: uuid.UUID, cmd: HardshipCommand) -> Answer:  # type: ignore[no-untyped-def]
    principal = Principal(cmd.actor, frozenset({"fund_manager", "payment_officer"}))
    try:
        if cmd.step == "decide":
            assert cmd.decision is not None
            return "ok", await api.decide(app, HardshipDecide(decision=cmd.decision), rt, principal)
        if cmd.step == "order_payment":
            return "ok", await api.order_payment(app, rt, principal)
        return "ok", await api.payout(app, rt, principal)
    except DomainError as err:
        return type(err).__name__, err.message


async def via_workflow(client: Client, app: uuid.UUID, cmd: HardshipCommand) -> Answer:
    try:
        return "ok", await client.get_workflow_handle(hardship_workflow_id(app)).execute_update(cmd.step, cmd, result_type=HardshipState)
    except WorkflowUpdateFailedError as err:
        assert isinstance(err.cause, ApplicationError)
        return err.cause.type or "", err.cause.message


async def via_activity(rt, app: uuid.UUID, cmd: HardshipCommand) -> Answer:  # type: ignore[no-untyped-def]
    try:
        return "ok", await handlers_hardship.hardship_step(rt, HardshipStepInput(application_id=app, tenant="hamm", command=cmd))
    except DomainError as err:
        return type(err).__name__, err.message


async def rule(rt, app: uuid.UUID, cmd: HardshipCommand) -> Answer | None:  # type: ignore[no-untyped-def]
    async with rt.db.read() as conn:
        row = await store.get_hardship(conn, app)
    refusal = hardship_step_refusal(cmd, row.applicant, hardship_state(row))
    return None if refusal is None else (refusal.type, refusal.message)


class TestTheApiTheValidatorAndTheActivityAgree:
    async def test_accepted_and_refused_decisions_and_payouts(self, rt) -> None:  # type: ignore[no-untyped-def]
        client: Client = rt.temporal
        queue = f"funding-rules-{uuid.uuid4().hex[:6]}"
        a, b, c = [await given_hardship(rt, 150_000, YEAR, applicant=APPLICANT, required=2) for _ in range(3)]
        async with make_worker(client, queue, workflows=[HardshipApproval], activities=FundingActivities(rt).all()):
            for app in (a, b):
                await client.start_workflow(
                    HardshipApproval.run,
                    HardshipApprovalInput(application_id=app, tenant="hamm", applicant=APPLICANT, deciders_required=2, decision_working_days=5),
                    id=hardship_workflow_id(app), task_queue=queue,
                )

            async def same(cmd: HardshipCommand, *, activity_too: bool = True) -> Answer:
                expected = await rule(rt, a, cmd)
                answers = [await via_api(rt, a, cmd), await via_workflow(client, b, cmd)]
                if activity_too:
                    answers.append(await via_activity(rt, c, cmd))
                assert all(x == answers[0] for x in answers), answers
                assert answers[0][0] == "ok" if expected is None else answers[0] == expected, (expected, answers)
                return answers[0]

            def step(actor: str, name: str) -> HardshipCommand:
                return HardshipCommand(actor=actor, step=name, decision="approve" if name == "decide" else None)  # type: ignore[arg-type]

            assert await same(step(APPLICANT, "decide")) == ("Forbidden", "the applicant cannot decide their own application (four eyes)")
            ok, first = await same(step("fm1", "decide"))
            assert ok == "ok" and first == HardshipState(status="pending", deciders=["fm1"])
            # the same person as the second decider: refused by the API and the validator; the activity alone
            # treats the repeated step as a retry of the one it recorded (idempotent) and changes nothing
            assert await same(step("fm1", "decide"), activity_too=False) == (
                "Conflict", "this decider has already decided; a second, different decider is needed")
            assert await via_activity(rt, c, step("fm1", "decide")) == ("ok", first)
            ok, approved = await same(step("fm2", "decide"))
            assert ok == "ok" and approved == HardshipState(status="approved", deciders=["fm1", "fm2"])
            assert await same(step("po", "disburse")) == ("Conflict", "the application is approved; the payment must be ordered first")
            assert (await same(step("fm1", "order_payment")))[0] == "ok"
            third_person = ("Forbidden", "the payout is recorded by a third person, neither applicant nor decider")
            assert await same(step("fm2", "disburse")) == third_person
            assert await same(step(APPLICANT, "disburse")) == third_person
            ok, paid = await same(step("po", "disburse"))
            assert ok == "ok" and paid.status == "disbursed"  # type: ignore[attr-defined]

        async with rt.db.read() as conn:
            rows = [await store.get_hardship(conn, app) for app in (a, b, c)]
        assert {(r.status, tuple(r.deciders), r.payment_ordered_by, r.disbursed_by) for r in rows} == {("disbursed", ("fm1", "fm2"), "fm1", "po")}
