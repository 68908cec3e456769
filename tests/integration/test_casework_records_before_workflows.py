"""A case or referral is visible as soon as its transaction commits; its workflows start just after.
A caseworker's or advisor's record made in that window (or after a crash in it) starts the workflows
itself and is recorded, instead of failing with 409 "nothing is open". Real database, real casework
handlers and workflows on a Temporal dev server."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError

from services.casework import activities, handlers, handlers_workflows, store, store_referrals
from services.contracts.activities import TaskQueues, review_cycle_workflow_id
from services.contracts.casework_workflows import FirstContactUpdate, ReferralStepUpdate, case_onboarding_workflow_id, referral_workflow_id
from services.contracts.workdays import city_today
from services.kit.broker import Delivery
from services.kit.db import Database, utc_now
from services.kit.temporal import execute_update_or_start, make_worker
from tests.integration.casework_support import intake, runtime
from workflows.case_onboarding import CaseOnboarding
from workflows.referral import Referral
from workflows.review_cycle import ReviewCycle


async def committed_case_without_workflows(rt) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """What the consumer has done when it is interrupted between its commit and the workflow starts."""
    event = intake()
    await handlers.commit_intake_case(rt, event, Delivery(event=event, deliveries=1, consumer="casework:open_case", outbox=rt.outbox))
    return handlers.case_id_for_intake(event.intake_id)


class TestRecordsBeforeTheWorkflowsStarted:
    async def test_a_first_contact_starts_the_case_workflows_and_is_recorded(self, time_skipping_env,
                                                                             casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        client = time_skipping_env.client
        rt = runtime(casework_db, temporal=client)
        case_id = await committed_case_without_workflows(rt)
        case_workflow = client.get_workflow_handle(review_cycle_workflow_id(case_id))
        with pytest.raises(RPCError):
            await case_workflow.describe()  # the window: the case is committed, no workflow yet
        update = FirstContactUpdate(contact_on=city_today(), starter_pack=True, recorded_by="caseworker")
        async with make_worker(client, TaskQueues.CASEWORK, workflows=[CaseOnboarding, ReviewCycle, Referral], activities=activities.activities(rt)):
            await execute_update_or_start(client, review_cycle_workflow_id(case_id), "record_first_contact", update,
                                          lambda: handlers.ensure_case_workflows(rt, case_id))
            assert (await case_workflow.describe()).status == WorkflowExecutionStatus.RUNNING  # the case's one workflow runs on (reviews)
            with pytest.raises(RPCError):
                await client.get_workflow_handle(case_onboarding_workflow_id(case_id)).describe()  # none beside it
            async with casework_db.read() as conn:
                case = await store.get_case(conn, case_id)
            assert case.first_contact_on == city_today()
            assert case.workflows_pending is False
            # a second record is refused by the workflow, not started anew
            with pytest.raises(WorkflowUpdateFailedError) as again:
                await execute_update_or_start(client, review_cycle_workflow_id(case_id), "record_first_contact", update,
                                              lambda: handlers.ensure_case_workflows(rt, case_id))
            assert again.value.cause.message == "the first contact has already been recorded"
            await case_workflow.terminate("test over")

    async def test_an_advisor_step_starts_the_referral_workflow_and_is_recorded(self, time_skipping_env,
                                                                                casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        client = time_skipping_env.client
        rt = runtime(casework_db, temporal=client)
        case_id = await committed_case_without_workflows(rt)
        referral_id = uuid.uuid4()
        async with casework_db.begin() as conn:
            person_id = (await store.member_ids(conn, case_id))[0]
            await conn.execute(store.referrals.insert().values(
                id=referral_id, case_id=case_id, person_id=person_id, partner="job_centre", purpose="referral", status="open",
                made_on=date.today(), made_at=utc_now(),
            ))
        step = ReferralStepUpdate(step="acknowledged", recorded_by="ip_advisor")
        async with make_worker(client, TaskQueues.CASEWORK, workflows=[CaseOnboarding, ReviewCycle, Referral], activities=activities.activities(rt)):
            await execute_update_or_start(client, referral_workflow_id(referral_id), "record_step", step,
                                          lambda: handlers_workflows.ensure_referral_workflow(rt, referral_id))
            async with casework_db.read() as conn:
                referral = await store_referrals.get_referral(conn, referral_id)
            assert referral.acknowledged_on is not None  # (the server's clock is virtual here: no date asserted)
            await client.get_workflow_handle(referral_workflow_id(referral_id)).terminate("test over")
