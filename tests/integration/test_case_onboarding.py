"""The case onboarding workflow with its real activities and database, on a Temporal server with time
skipping: reminder before the first-contact deadline, escalation at it, the first contact recorded
through a validated update (DOMAIN.md flow 3, default 14 days)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from services.casework import activities, consumers, handlers
from services.contracts.casework_workflows import CASE_ONBOARDING_WORKFLOW, CaseOnboardingInput, FirstContactUpdate, case_onboarding_workflow_id
from services.contracts.events import CaseClosed
from services.kit.db import Database
from services.kit.temporal import make_worker
from tests.integration.casework_support import alerts, events, open_case, runtime
from tests.support.eventually import eventually
from workflows.case_onboarding import CaseOnboarding


async def count(coro, n: int) -> None:  # type: ignore[no-untyped-def]
    assert len(await coro) == n


class TestCaseOnboarding:
    async def test_reminder_on_day_10_escalation_on_day_14_then_first_contact(self, time_skipping_env,
                                                                              casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[CaseOnboarding], activities=activities.activities(runtime(casework_db))):
            handle = await env.client.start_workflow(
                CASE_ONBOARDING_WORKFLOW, CaseOnboardingInput(case_id=case_id, tenant="hamm"), id=case_onboarding_workflow_id(case_id), task_queue=queue,
            )
            await env.fast_forward(handle, timedelta(days=11))
            await eventually(lambda: count(alerts(casework_db, "first_contact_reminder"), 1), timeout=20)
            assert await alerts(casework_db, "first_contact_overdue") == []
            await env.fast_forward(handle, timedelta(days=4))
            await eventually(lambda: count(alerts(casework_db, "first_contact_overdue"), 1), timeout=20)
            assert [e["kind"] for e in await events(casework_db, "CaseEscalated")] == ["first_contact_overdue"]
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(CaseOnboarding.record_first_contact,
                                            FirstContactUpdate(contact_on=date(2000, 1, 1), starter_pack=True, recorded_by="caseworker"))
            await handle.execute_update(CaseOnboarding.record_first_contact,
                                        FirstContactUpdate(contact_on=date.today(), starter_pack=True, recorded_by="caseworker"))
            assert await handle.result() == "contacted"
        recorded = await events(casework_db, "FirstContactRecorded")
        assert [(e["starter_pack"]) for e in recorded] == [True]
        assert [e["to_phase"] for e in await events(casework_db, "CasePhaseChanged")] == ["planning"]
        assert all(a.resolved_at is not None for a in await alerts(casework_db, "first_contact_overdue"))

    async def test_a_first_contact_in_time_raises_nothing(self, time_skipping_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[CaseOnboarding], activities=activities.activities(runtime(casework_db))):
            handle = await env.client.start_workflow(
                CASE_ONBOARDING_WORKFLOW, CaseOnboardingInput(case_id=case_id, tenant="hamm"), id=case_onboarding_workflow_id(case_id), task_queue=queue,
            )
            await handle.execute_update(CaseOnboarding.record_first_contact,
                                        FirstContactUpdate(contact_on=date.today(), starter_pack=False, recorded_by="caseworker"))
            assert await handle.result() == "contacted"
        assert await alerts(casework_db, "first_contact_reminder") == []
        assert await events(casework_db, "CaseEscalated") == []


class TestClosureAfterACrash:
    """close_case signals the workflows right after its commit; if the process dies in between, the
    committed CaseClosed event (consumed by casework itself) still ends them."""

    async def test_the_case_closed_event_ends_an_escalated_onboarding(self, time_skipping_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        rt = runtime(casework_db, temporal=env.client)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[CaseOnboarding], activities=activities.activities(rt)):
            handle = await env.client.start_workflow(
                CASE_ONBOARDING_WORKFLOW, CaseOnboardingInput(case_id=case_id, tenant="hamm"), id=case_onboarding_workflow_id(case_id), task_queue=queue,
            )
            await env.fast_forward(handle, timedelta(days=15))
            await eventually(lambda: count(alerts(casework_db, "first_contact_overdue"), 1), timeout=20)
            # the closure committed, its signals were lost with the process; the event remains
            closed = CaseClosed(tenant="hamm", correlation_id=case_id, case_id=case_id, programme="Soziales Fallmanagement", district="Westen",
                                reason="moved_away")
            await handlers.end_case_workflows(rt, closed, None)  # type: ignore[arg-type]
            assert await asyncio.wait_for(handle.result(), 30) == "closed"
            await handlers.end_case_workflows(rt, closed, None)  # type: ignore[arg-type]  # a redelivery: the workflow has ended, nothing to do

    def test_casework_consumes_its_own_case_closed(self) -> None:
        subs = consumers.subscriptions(runtime(None))  # type: ignore[arg-type]
        assert [s.name for s in subs if s.event is CaseClosed] == ["end_case_workflows"]
