"""The referral workflow with its real activities and database, on a Temporal server with time
skipping: the partner's acknowledgement within 5 NRW working days and the first appointment within 20
are enforced, each breach escalates once; partner steps are validated updates; a placement closes the
referral and achieves the work goal (DOMAIN.md flow 4)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowUpdateFailedError

from services.casework import activities, store, store_referrals
from services.contracts.casework_workflows import REFERRAL_WORKFLOW, ReferralInput, ReferralStepUpdate, referral_workflow_id
from services.contracts.vocab import Partner
from services.kit.db import Database, utc_now
from services.kit.temporal import make_worker
from tests.integration.casework_support import alerts, events, open_case, runtime
from tests.support.eventually import eventually
from workflows.referral import Referral


async def referral(db: Database, partner: str = "integration_point") -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    case_id = await open_case(db)
    person_id, referral_id, goal_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(store.referrals.insert().values(
            id=referral_id, case_id=case_id, person_id=person_id, partner=partner, purpose="referral", status="open",
            made_on=date.today(), made_at=utc_now(),
        ))
        await conn.execute(store.goals.insert().values(
            id=goal_id, case_id=case_id, person_id=None, field_of_action=3, title="Arbeit", target_date=date(2027, 12, 31),
            responsible="partner", status="open", revision=1,
        ))
    return case_id, referral_id, goal_id


def step(name: str, **kw) -> ReferralStepUpdate:  # type: ignore[no-untyped-def]
    return ReferralStepUpdate(step=name, recorded_by="ipadvisor", **kw)


async def breaches(db: Database) -> list[str]:
    return [e["breach"] for e in await events(db, "ReferralEscalated")]


class TestReferralWorkflow:
    async def test_both_deadlines_escalate_once_and_a_placement_achieves_the_work_goal(self, time_skipping_env,
                                                                                       casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id, referral_id, goal_id = await referral(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[Referral], activities=activities.activities(runtime(casework_db))):
            handle = await env.client.start_workflow(
                REFERRAL_WORKFLOW,
                ReferralInput(referral_id=referral_id, case_id=case_id, tenant="hamm", partner=Partner.INTEGRATION_POINT, made_on=date.today()),
                id=referral_workflow_id(referral_id), task_queue=queue,
            )
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(Referral.record_step, step("profiled"))  # not acknowledged yet
            await env.fast_forward(handle, timedelta(days=2))  # fewer than 5 working days
            assert await breaches(casework_db) == []
            await env.fast_forward(handle, timedelta(days=12))  # at least 5 working days after the referral
            await eventually(lambda: _eq(breaches(casework_db), ["acknowledgement"]), timeout=20)
            assert [a.role for a in await alerts(casework_db, "referral_acknowledgement_overdue")] == ["team_lead"]

            await handle.execute_update(Referral.record_step, step("acknowledged"))
            assert all(a.resolved_at is not None for a in await alerts(casework_db, "referral_acknowledgement_overdue"))
            await env.fast_forward(handle, timedelta(days=25))  # beyond 20 working days, no appointment
            await eventually(lambda: _eq(breaches(casework_db), ["acknowledgement", "first_appointment"]), timeout=20)

            await handle.execute_update(Referral.record_step, step("appointment_booked", on=date.today()))
            await handle.execute_update(Referral.record_step, step("profiled"))
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(Referral.record_step, step("measure_offered", measure="yoga"))
            await handle.execute_update(Referral.record_step, step("measure_offered", measure="qualification"))
            await handle.execute_update(Referral.record_step, step("placed_training"))
            assert await handle.result() == "closed"
        steps = [e["step"] for e in await events(casework_db, "ReferralStepRecorded")]
        assert steps == ["acknowledged", "appointment_booked", "profiled", "measure_offered", "placed_training"]
        assert [e["outcome"] for e in await events(casework_db, "ReferralClosed")] == ["placed_training"]
        async with casework_db.read() as conn:
            goal = (await conn.execute(sa.select(store.goals).where(store.goals.c.id == goal_id))).one()
            row = await store_referrals.get_referral(conn, referral_id)
        assert (goal.status, goal.revision) == ("achieved", 2)
        assert (row.status, row.outcome, row.measure) == ("closed", "placed_training", "qualification")
        assert await breaches(casework_db) == ["acknowledgement", "first_appointment"]


class TestPartnerAnswers:
    async def test_a_kita_waiting_list_answer_meets_both_deadlines_and_the_place_closes(self, time_skipping_env,
                                                                                        casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id, referral_id, _ = await referral(casework_db, "daycare")
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[Referral], activities=activities.activities(runtime(casework_db))):
            handle = await env.client.start_workflow(
                REFERRAL_WORKFLOW, ReferralInput(referral_id=referral_id, case_id=case_id, tenant="hamm", partner=Partner.DAYCARE, made_on=date.today()),
                id=referral_workflow_id(referral_id), task_queue=queue,
            )
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(Referral.record_step, step("profiled"))  # an Integration Point step, not a Kita's
            await handle.execute_update(Referral.record_step, step("waiting_list"))
            await env.fast_forward(handle, timedelta(days=40))  # beyond 5 and 20 working days
            await handle.execute_update(Referral.record_step, step("place_offered", on=date.today() + timedelta(days=50)))
            assert await handle.result() == "closed"
        assert await breaches(casework_db) == []
        async with casework_db.read() as conn:
            row = await store_referrals.get_referral(conn, referral_id)
        assert (row.status, row.outcome, row.outcome_on) == ("closed", "place_offered", date.today() + timedelta(days=50))
        assert row.acknowledged_on is not None  # the answer was the acknowledgement


async def _eq(coro, expected) -> None:  # type: ignore[no-untyped-def]
    assert await coro == expected
