"""The steering-group round and the proof-of-use workflows with their real activities and database on a
Temporal server with time skipping; committed histories that must replay with the current code."""

from __future__ import annotations

import json
import os
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from services.contracts.funding_workflows import (
    FUND_ROUND_WORKFLOW,
    PROOF_OF_USE_WORKFLOW,
    CloseMeetingCommand,
    FundRoundInput,
    MeetingOutcome,
    PresenceCommand,
    ProofOfUseInput,
    ProofRecorded,
    ProofReviewCommand,
    ProofState,
    ProofSubmission,
    ReclaimCommand,
    RoundState,
    VoteCommand,
)
from services.funding import handlers_measures, handlers_proof, ledger, store
from services.funding.activities import activities
from services.funding.domain import Fund, fiscal_year
from services.funding.schemas import MeasureApply, ProofReview, ProofSubmit
from services.kit.alerts import list_alerts
from services.kit.auth import Principal
from services.kit.db import utc_now
from services.kit.temporal import make_worker
from tests.support.eventually import eventually
from tests.support.funding import funding_runtime, given_budget
from workflows.fund_round import FundRound
from workflows.proof_of_use import ProofOfUse

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
MEMBERS = [f"m{i}" for i in range(1, 6)]
ORG = Principal("org", frozenset({"fund_applicant"}))


@pytest.fixture
async def rt(tmp_path):  # type: ignore[no-untyped-def]
    runtime = await funding_runtime(f"sqlite+aiosqlite:///{tmp_path / 'funding.db'}")
    await given_budget(runtime, Fund.DISCRETIONARY, fiscal_year(date.today()), 1_000_000)
    yield runtime
    await runtime.db.dispose()


async def measure(rt, cents: int, ends_in_days: int = 30) -> uuid.UUID:  # type: ignore[no-untyped-def]
    today = date.today()
    return await handlers_measures.apply_measure(rt, ORG, MeasureApply.model_validate({
        "title": "Kurs", "provider": "Träger", "organisation_kind": "provider", "fields_of_action": [1], "target_group": "Geflüchtete",
        "period_start": today.isoformat(), "period_end": (today + timedelta(days=ends_in_days)).isoformat(),
        "budget_lines": [{"item": "Honorar", "amount_cents": cents}], "amount_cents": cents,
        "guidelines": {"refugees_target_group": True, "new_approach": "neu", "lasting_integration": "nachhaltig"},
    }))


class TestFundRoundWorkflow:
    async def test_quorum_failure_then_majority_with_a_recused_member(self, time_skipping_env, rt) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        a, b = await measure(rt, 300_000), await measure(rt, 200_000)
        round_id = uuid.uuid4()
        async with rt.db.begin() as conn:  # as create_round records it
            await conn.execute(store.rounds.insert().values(id=round_id, fiscal_year=fiscal_year(date.today()), created_by="fm", status="open", meeting_no=1, created_at=utc_now()))
            await conn.execute(store.measures.update().where(store.measures.c.id.in_([a, b])).values(status="in_round", round_id=round_id, meeting_no=1))
        queue = f"funding-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[FundRound], activities=activities(rt)):
            handle = await env.client.start_workflow(
                FUND_ROUND_WORKFLOW, FundRoundInput(round_id=round_id, tenant="hamm", application_ids=[a, b], members=MEMBERS, quorum=3),
                id=f"fund-round-{round_id}", task_queue=queue, result_type=RoundState,
            )
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update("register_presence", PresenceCommand(member="outsider"), result_type=RoundState)
            await handle.execute_update("register_presence", PresenceCommand(member="m1"), result_type=RoundState)
            outcome = await handle.execute_update("close_meeting", CloseMeetingCommand(by="fm"), result_type=MeetingOutcome)
            assert outcome == MeetingOutcome(meeting_no=1, quorate=False)

            await handle.execute_update("register_presence", PresenceCommand(member="m1", conflicts=[a]), result_type=RoundState)
            for m in ("m2", "m3"):
                await handle.execute_update("register_presence", PresenceCommand(member=m), result_type=RoundState)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update("vote", VoteCommand(member="m1", application_id=a, vote="yes"), result_type=RoundState)
            for m, v in (("m2", "yes"), ("m3", "no")):  # a: 1 of 2 eligible -> rejected
                await handle.execute_update("vote", VoteCommand(member=m, application_id=a, vote=v), result_type=RoundState)
            for m in ("m1", "m2"):  # b: 2 of 3 -> approved
                await handle.execute_update("vote", VoteCommand(member=m, application_id=b, vote="yes"), result_type=RoundState)
            outcome = await handle.execute_update("close_meeting", CloseMeetingCommand(by="fm"), result_type=MeetingOutcome)
            assert outcome.decided == {str(a): "rejected", str(b): "approved"}
            assert (await handle.result()).pending == []
        async with rt.db.read() as conn:
            assert (await ledger.balance(conn, Fund.DISCRETIONARY, fiscal_year(date.today()))).approved_cents == 200_000
            assert {r.status for r in (await conn.execute(store.measures.select())).all()} == {"approved", "rejected"}
        if os.environ.get("ANKOMMEN_RECORD_HISTORIES"):
            (HISTORIES / "fund_round_v1.json").write_text(json.dumps((await handle.fetch_history()).to_json_dict(), indent=1))


    async def test_a_round_whose_creation_never_committed_decides_nothing(self, time_skipping_env, rt) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        a = await measure(rt, 300_000)
        round_id = uuid.uuid4()
        queue = f"funding-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[FundRound], activities=activities(rt)):
            handle = await env.client.start_workflow(
                FUND_ROUND_WORKFLOW, FundRoundInput(round_id=round_id, tenant="hamm", application_ids=[a], members=MEMBERS, quorum=1),
                id=f"fund-round-{round_id}", task_queue=queue, result_type=RoundState,
            )
            await handle.execute_update("register_presence", PresenceCommand(member="m1"), result_type=RoundState)
            await handle.execute_update("vote", VoteCommand(member="m1", application_id=a, vote="yes"), result_type=RoundState)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update("close_meeting", CloseMeetingCommand(by="fm"), result_type=MeetingOutcome)
            await handle.terminate()
        async with rt.db.read() as conn:
            assert (await ledger.balance(conn, Fund.DISCRETIONARY, fiscal_year(date.today()))).approved_cents == 0


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class TestProofOfUseWorkflow:
    async def test_reminders_escalation_then_rework_acceptance_and_one_reclaim(self, time_skipping_env, rt) -> None:  # type: ignore[no-untyped-def]
        """Since PROOF_REVIEW_PATCH: a late proof waits for review; rework sends it back; the accepted proof
        returns the unspent 300 EUR to the budget once (a second reclaim is refused)."""
        env = time_skipping_env
        app = await measure(rt, 100_000)
        year = fiscal_year(date.today())
        async with rt.db.begin() as conn:
            await ledger.reserve(conn, Fund.DISCRETIONARY, year, 100_000, app, "fm")
            await ledger.disburse(conn, Fund.DISCRETIONARY, year, 100_000, app, "fm")
            await conn.execute(store.measures.update().where(store.measures.c.id == app).values(status="paid", paid_cents=100_000))
        due = date.today() + timedelta(days=60)
        queue = f"funding-{uuid.uuid4().hex[:6]}"
        manager = Principal("fm", frozenset({"fund_manager"}))
        async with make_worker(env.client, queue, workflows=[ProofOfUse], activities=activities(rt)):
            handle = await env.client.start_workflow(
                PROOF_OF_USE_WORKFLOW, ProofOfUseInput(application_id=app, tenant="hamm", due_on=due),
                id=f"proof-of-use-{app}", task_queue=queue, result_type=ProofRecorded,
            )
            await env.fast_forward(handle, timedelta(days=64))

            async def alerted() -> None:
                async with rt.db.read() as conn:
                    kinds = sorted(a.kind for a in await list_alerts(conn, rt.tables, roles=None))
                assert kinds == ["proof_of_use_overdue", "proof_of_use_reminder_1w", "proof_of_use_reminder_4w"]

            await eventually(alerted, timeout=20)
            receipt = await handlers_proof.upload_receipt(rt, ORG, app, "rechnung.pdf", PDF)

            async def submit(spent: int) -> ProofRecorded:
                proof = ProofSubmit.model_validate({"items": [{"purpose": "Honorar", "amount_cents": spent, "spent_on": date.today().isoformat()}],
                                                    "report": "Kurs durchgeführt", "receipt_ids": [str(receipt.id)]})
                version, cents, n = await handlers_proof.prepare_proof(rt, ORG, app, proof)
                return await handle.execute_update("submit", ProofSubmission(submitted_by="org", spent_cents=cents, receipts=n, version=version),
                                                   result_type=ProofRecorded)

            first = await submit(60_000)
            assert first.returned_cents == 0 and first.days_late > 0  # nothing goes back before the review
            with pytest.raises(WorkflowUpdateFailedError):  # one proof under review at a time
                await handle.execute_update("submit", ProofSubmission(submitted_by="org", spent_cents=1, receipts=1, version=2), result_type=ProofRecorded)
            await handlers_proof.prepare_review(rt, manager, app, ProofReview(decision="rework", reason="Beleg fehlt"))
            state = await handle.execute_update("review", ProofReviewCommand(actor="fm", decision="rework", version=1), result_type=ProofState)
            assert state.status == "rework_requested"
            await submit(70_000)
            with pytest.raises(WorkflowUpdateFailedError):  # reclaim only after acceptance
                await handle.execute_update("reclaim", ReclaimCommand(actor="fm"), result_type=ProofState)
            await handlers_proof.prepare_review(rt, manager, app, ProofReview(decision="accept"))
            state = await handle.execute_update("review", ProofReviewCommand(actor="fm", decision="accept", version=2), result_type=ProofState)
            assert (state.status, state.version, state.spent_cents) == ("proof_accepted", 2, 70_000)
            state = await handle.execute_update("reclaim", ReclaimCommand(actor="fm"), result_type=ProofState)
            assert (state.status, state.returned_cents, state.released_cents) == ("settled", 30_000, 0)
            assert (await handle.result()).returned_cents == 30_000  # the workflow ends settled
        async with rt.db.read() as conn:
            assert (await ledger.reconcile(conn, Fund.DISCRETIONARY, year)).matches
            assert (await ledger.balance(conn, Fund.DISCRETIONARY, year)).returned_cents == 30_000
            assert (await ledger.application_sums(conn, app))["return"] == 30_000  # once
        if os.environ.get("ANKOMMEN_RECORD_HISTORIES"):
            (HISTORIES / "proof_of_use_v2.json").write_text(json.dumps((await handle.fetch_history()).to_json_dict(), indent=1))


class TestReplay:
    @pytest.mark.parametrize(("name", "workflow"), [("fund_round_v1.json", FundRound), ("proof_of_use_v1.json", ProofOfUse), ("proof_of_use_v2.json", ProofOfUse)])
    async def test_committed_history_replays_with_the_current_code(self, name: str, workflow: type) -> None:
        history = WorkflowHistory.from_json(name, json.loads((HISTORIES / name).read_text()))
        await Replayer(workflows=[workflow], data_converter=pydantic_data_converter).replay_workflow(history)
