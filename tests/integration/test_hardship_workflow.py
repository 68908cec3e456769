"""The hardship approval workflow with its real activities and database on a Temporal server with time
skipping: two distinct deciders above 1,000 EUR (updates with validators), the escalation after 5
working days, payment order and payout by a third person; and a committed history that must replay."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer

from services.contracts.funding_workflows import (
    HARDSHIP_APPROVAL_WORKFLOW,
    HardshipApprovalInput,
    HardshipCommand,
    HardshipState,
    hardship_workflow_id,
)
from services.funding import handlers_hardship, ledger, store
from services.funding.activities import activities
from services.funding.domain import Fund
from services.kit.alerts import list_alerts
from services.kit.auth import Principal
from services.kit.temporal import make_worker
from tests.support.eventually import eventually
from tests.support.funding import funding_runtime, given_budget, given_hardship, hardship_request
from workflows.hardship_approval import HardshipApproval

HISTORY = Path(__file__).resolve().parent.parent / "histories" / "hardship_approval_v1.json"
YEAR = 2995


@pytest.fixture
async def rt(tmp_path):  # type: ignore[no-untyped-def]
    runtime = await funding_runtime(f"sqlite+aiosqlite:///{tmp_path / 'funding.db'}")
    await given_budget(runtime, Fund.HARDSHIP, YEAR, 1_500_000)
    yield runtime
    await runtime.db.dispose()


def cmd(actor: str, step: str, decision: str | None = None) -> HardshipCommand:
    return HardshipCommand(actor=actor, step=step, decision=decision)  # type: ignore[arg-type]


class TestHardshipApprovalWorkflow:
    async def test_two_deciders_escalation_and_payout_by_a_third_person(self, time_skipping_env, rt) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        app = await given_hardship(rt, 150_000, YEAR, applicant="cw", required=2)
        queue = f"funding-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[HardshipApproval], activities=activities(rt)):
            handle = await env.client.start_workflow(
                HARDSHIP_APPROVAL_WORKFLOW,
                HardshipApprovalInput(application_id=app, tenant="hamm", applicant="cw", deciders_required=2, decision_working_days=5),
                id=hardship_workflow_id(app), task_queue=queue, result_type=HardshipState,
            )
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update("decide", cmd("cw", "decide", "approve"), result_type=HardshipState)
            assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "Forbidden"
            state = await handle.execute_update("decide", cmd("fm1", "decide", "approve"), result_type=HardshipState)
            assert state.status == "pending" and state.deciders == ["fm1"]

            await env.fast_forward(handle, timedelta(days=8))

            async def escalated() -> None:
                async with rt.db.read() as conn:
                    assert [a.kind for a in await list_alerts(conn, rt.tables, roles=None)] == ["hardship_decision_overdue"]
                    assert (await store.get_hardship(conn, app)).escalated

            await eventually(escalated, timeout=20)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update("decide", cmd("fm1", "decide", "approve"), result_type=HardshipState)
            state = await handle.execute_update("decide", cmd("fm2", "decide", "approve"), result_type=HardshipState)
            assert state.status == "approved" and state.escalated
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update("order_payment", cmd("po", "order_payment"), result_type=HardshipState)
            await handle.execute_update("order_payment", cmd("fm2", "order_payment"), result_type=HardshipState)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update("disburse", cmd("fm1", "disburse"), result_type=HardshipState)
            await handle.execute_update("disburse", cmd("po", "disburse"), result_type=HardshipState)
            result = await handle.result()
            assert result.status == "disbursed"
            async with rt.db.read() as conn:
                bal = await ledger.balance(conn, Fund.HARDSHIP, YEAR)
                assert await list_alerts(conn, rt.tables, roles=None) == []
            assert (bal.paid_cents, bal.available_cents) == (150_000, 1_350_000)

            if os.environ.get("ANKOMMEN_RECORD_HISTORIES"):
                HISTORY.write_text(json.dumps((await handle.fetch_history()).to_json_dict(), indent=1))


class TestHardshipApprovalReplay:
    async def test_committed_history_replays_with_the_current_code(self) -> None:
        """A change to the workflow that breaks determinism fails here; such changes need workflow.patched."""
        history = WorkflowHistory.from_json("hardship-recorded", json.loads(HISTORY.read_text()))
        await Replayer(workflows=[HardshipApproval], data_converter=pydantic_data_converter).replay_workflow(history)


class TestApplicationNotStored:
    async def test_a_failed_commit_ends_the_workflow_it_started_and_stores_nothing(self, temporal_env, rt, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        """The workflow starts before the commit (no decider finds an application without it); when the
        commit fails, the workflow is ended again instead of failing days later at its escalation."""
        rt.temporal = temporal_env.client
        request = hardship_request(40_000)
        async with rt.db.begin() as conn:
            await conn.execute(store.case_members.insert().values(case_id=request.case_id, caseworker="cw", member_ids=[str(request.person_id)], closed=False))

        started: list[uuid.UUID] = []
        real_start = rt.temporal.start_workflow

        async def recording_start(*args, **kwargs):  # type: ignore[no-untyped-def]
            started.append(args[1].application_id)
            return await real_start(*args, **kwargs)

        async def database_gone(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise OSError("database connection lost")

        monkeypatch.setattr(rt.temporal, "start_workflow", recording_start)
        monkeypatch.setattr(store, "insert_hardship", database_gone)
        with pytest.raises(OSError):
            await handlers_hardship.apply_hardship(rt, Principal("cw", frozenset({"caseworker"})), request)
        [application_id] = started
        description = await temporal_env.client.get_workflow_handle(hardship_workflow_id(application_id)).describe()
        assert description.status == WorkflowExecutionStatus.TERMINATED
        async with rt.db.read() as conn:
            assert await store.get_hardship(conn, application_id) is None
            assert (await conn.execute(sa.select(sa.func.count()).select_from(store.kit.outbox))).scalar_one() == 0
