"""The first contact of a case with its real activities and database, on a Temporal server with time
skipping: reminder before the first-contact deadline, escalation at it, the first contact recorded
through a validated update (DOMAIN.md flow 3, default 14 days). Cases opened since v3 run it in their
review-cycle workflow (one workflow per case); cases opened before in a CaseOnboarding workflow."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.casework import activities, api, consumers, handlers
from services.casework.schemas import FirstContactIn
from services.contracts.activities import REVIEW_CYCLE_WORKFLOW, OnboardingState, ReviewCycleInput, review_cycle_workflow_id
from services.contracts.casework_workflows import (
    CASE_ONBOARDING_WORKFLOW,
    CaseOnboardingInput,
    FirstContactUpdate,
    RecordFirstContactInput,
    ReviewUpdate,
    case_onboarding_workflow_id,
    first_contact_error,
)
from services.contracts.events import CaseClosed
from services.contracts.workdays import city_today
from services.kit.auth import Principal
from services.kit.db import Database
from services.kit.errors import Invalid
from services.kit.temporal import make_worker
from tests.integration.casework_support import alerts, events, open_case, runtime
from tests.support.eventually import eventually
from workflows.case_onboarding import CaseOnboarding
from workflows.review_cycle import ReviewCycle

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def count(coro, n: int) -> None:  # type: ignore[no-untyped-def]
    assert len(await coro) == n


async def reminded_on_day_10_escalated_on_day_14(env, handle, db: Database) -> None:  # type: ignore[no-untyped-def]
    """Day 11: the caseworker's reminder, no escalation yet; day 15: the team lead's escalation."""
    await env.fast_forward(handle, timedelta(days=11))
    await eventually(lambda: count(alerts(db, "first_contact_reminder"), 1), timeout=20)
    assert await alerts(db, "first_contact_overdue") == []
    await env.fast_forward(handle, timedelta(days=4))
    await eventually(lambda: count(alerts(db, "first_contact_overdue"), 1), timeout=20)
    assert [e["kind"] for e in await events(db, "CaseEscalated")] == ["first_contact_overdue"]


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
            await reminded_on_day_10_escalated_on_day_14(env, handle, casework_db)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(CaseOnboarding.record_first_contact,
                                            FirstContactUpdate(contact_on=date(2000, 1, 1), starter_pack=True, recorded_by="caseworker"))
            await handle.execute_update(CaseOnboarding.record_first_contact,
                                        FirstContactUpdate(contact_on=city_today(), starter_pack=True, recorded_by="caseworker"))
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
                                        FirstContactUpdate(contact_on=city_today(), starter_pack=False, recorded_by="caseworker"))
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


class TestOneFirstContactRule:
    """The first-contact date rule (contracts' first_contact_error) gives the same answer in casework's
    API (422), the onboarding workflow's update validator and the record_first_contact activity. On the
    dev server with the real clock: the workflow's today is the API's today."""

    CASEWORKER = Principal(username="caseworker", roles=frozenset({"caseworker"}))

    async def _onboarding(self, env, db: Database, queue: str):  # type: ignore[no-untyped-def]
        case_id = await open_case(db)
        handle = await env.client.start_workflow(
            CaseOnboarding.run, CaseOnboardingInput(case_id=case_id, tenant="hamm"), id=case_onboarding_workflow_id(case_id), task_queue=queue,
        )
        return case_id, handle

    @pytest.mark.parametrize("days", [1, 30, -1])  # tomorrow and later: in the future; yesterday: before the case was opened
    async def test_a_refused_date_is_refused_by_all_three_with_the_same_reason(self, days: int, temporal_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = temporal_env
        today = city_today()
        contact_on = today + timedelta(days=days)
        rule = first_contact_error(contact_on, today, today)
        assert rule is not None
        rt = runtime(casework_db, temporal=env.client)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[CaseOnboarding], activities=activities.activities(rt)):
            case_id, handle = await self._onboarding(env, casework_db, queue)
            with pytest.raises(Invalid) as by_api:
                await api.first_contact(case_id, FirstContactIn(contact_on=contact_on, starter_pack=True), rt, self.CASEWORKER)
            with pytest.raises(WorkflowUpdateFailedError) as by_validator:
                await handle.execute_update(
                    CaseOnboarding.record_first_contact, FirstContactUpdate(contact_on=contact_on, starter_pack=True, recorded_by="caseworker"),
                )
            record = activities.CaseworkActivities(rt).record_first_contact
            with pytest.raises(ApplicationError) as by_activity:
                await ActivityEnvironment().run(record, RecordFirstContactInput(
                    case_id=case_id, tenant="hamm", contact_on=contact_on, starter_pack=True, recorded_by="caseworker", recorded_on=today,
                ))
            await handle.signal(CaseOnboarding.case_closed)
            assert await handle.result() == "closed"
        assert (by_api.value.message, by_api.value.field) == (rule, "contact_on")
        assert by_validator.value.cause.message == rule
        assert (by_activity.value.message, by_activity.value.type, by_activity.value.non_retryable) == (rule, "Invalid", True)
        assert await events(casework_db, "FirstContactRecorded") == []

    async def test_an_accepted_date_passes_the_api_the_validator_and_the_activity(self, temporal_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = temporal_env
        today = city_today()
        assert first_contact_error(today, today, today) is None
        rt = runtime(casework_db, temporal=env.client)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[CaseOnboarding], activities=activities.activities(rt)):
            case_id, handle = await self._onboarding(env, casework_db, queue)
            out = await api.first_contact(case_id, FirstContactIn(contact_on=today, starter_pack=True), rt, self.CASEWORKER)  # API -> validator -> activity
            assert await handle.result() == "contacted"
        assert out.first_contact_on == today
        assert [e["case_id"] for e in await events(casework_db, "FirstContactRecorded")] == [str(case_id)]


class TestFirstContactInTheCaseWorkflow:
    """v3: a case opened now has one workflow, its review cycle, which also runs the first contact (the
    CaseOnboarding tests above keep guarding the workflows of cases opened before)."""

    @staticmethod
    async def _start(env, case_id: uuid.UUID, queue: str, interval_days: int = 90):  # type: ignore[no-untyped-def]
        return await env.client.start_workflow(
            REVIEW_CYCLE_WORKFLOW,
            ReviewCycleInput(case_id=case_id, tenant="hamm", interval_days=interval_days, escalate_after_days=30, onboarding=OnboardingState()),
            id=review_cycle_workflow_id(case_id), task_queue=queue,
        )

    async def test_reminder_on_day_10_escalation_on_day_14_then_first_contact_and_the_cycle_runs_on(
        self, time_skipping_env, casework_db: Database,  # type: ignore[no-untyped-def]
    ) -> None:
        env = time_skipping_env
        case_id = await open_case(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[ReviewCycle], activities=activities.activities(runtime(casework_db))):
            handle = await self._start(env, case_id, queue)
            await reminded_on_day_10_escalated_on_day_14(env, handle, casework_db)
            contact = FirstContactUpdate(contact_on=city_today(), starter_pack=True, recorded_by="caseworker")
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(ReviewCycle.record_first_contact, contact.model_copy(update={"contact_on": date(2000, 1, 1)}))
            assert await handle.execute_update(ReviewCycle.record_first_contact, contact) == "recorded"
            with pytest.raises(WorkflowUpdateFailedError) as twice:
                await handle.execute_update(ReviewCycle.record_first_contact, contact)
            assert twice.value.cause.message == "the first contact has already been recorded"
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING  # the review cycle goes on
            await handle.signal(ReviewCycle.case_closed)
            assert await handle.result() == "closed"
            if os.environ.get("ANKOMMEN_RECORD_HISTORIES"):
                history = await env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id).fetch_history()
                (HISTORIES / "review_cycle_v3.json").write_text(json.dumps(history.to_json_dict(), indent=1))
        assert [e["starter_pack"] for e in await events(casework_db, "FirstContactRecorded")] == [True]
        assert [e["to_phase"] for e in await events(casework_db, "CasePhaseChanged")] == ["planning"]
        assert all(a.resolved_at is not None for a in await alerts(casework_db, "first_contact_overdue"))

    async def test_a_first_contact_in_time_raises_nothing(self, time_skipping_env, casework_db: Database) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        case_id = await open_case(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[ReviewCycle], activities=activities.activities(runtime(casework_db))):
            handle = await self._start(env, case_id, queue)
            await handle.execute_update(ReviewCycle.record_first_contact,
                                        FirstContactUpdate(contact_on=city_today(), starter_pack=False, recorded_by="caseworker"))
            await env.fast_forward(handle, timedelta(days=15))
            await handle.signal(ReviewCycle.case_closed)
            assert await handle.result() == "closed"
        assert await alerts(casework_db, "first_contact_reminder") == []
        assert await events(casework_db, "CaseEscalated") == []

    async def test_an_open_first_contact_is_carried_into_the_next_cycle_and_no_step_repeats(
        self, time_skipping_env, casework_db: Database,  # type: ignore[no-untyped-def]
    ) -> None:
        """A review period shorter than the first-contact deadline (settings allow it): the review of cycle
        1 is recorded on day 7, the run continues as new, and the reminder (day 10) and the escalation
        (day 14) still come, once each."""
        env = time_skipping_env
        case_id = await open_case(casework_db)
        queue = f"casework-{uuid.uuid4().hex[:6]}"
        async with make_worker(env.client, queue, workflows=[ReviewCycle], activities=activities.activities(runtime(casework_db))):
            handle = await self._start(env, case_id, queue, interval_days=7)
            await env.fast_forward(handle, timedelta(days=8))
            await eventually(lambda: count(alerts(casework_db, "review_due"), 1), timeout=20)
            assert await handle.execute_update(ReviewCycle.record_review, ReviewUpdate(cycle=1, goals=[], measures=[], recorded_by="caseworker")) == "recorded"

            async def next_run() -> None:
                assert (await env.client.get_workflow_handle(handle.id).describe()).run_id != handle.first_execution_run_id

            await eventually(next_run, timeout=20)
            current = env.client.get_workflow_handle(handle.id)
            await env.fast_forward(current, timedelta(days=3))
            await eventually(lambda: count(alerts(casework_db, "first_contact_reminder"), 1), timeout=20)
            await env.fast_forward(current, timedelta(days=4))
            await eventually(lambda: count(alerts(casework_db, "first_contact_overdue"), 1), timeout=20)
            assert await current.execute_update(ReviewCycle.record_first_contact,
                                                FirstContactUpdate(contact_on=city_today(), starter_pack=True, recorded_by="caseworker")) == "recorded"
            await current.signal(ReviewCycle.case_closed)
            assert await current.result() == "closed"
        assert len(await alerts(casework_db, "first_contact_reminder")) == 1
        assert [e["kind"] for e in await events(casework_db, "CaseEscalated")] == ["first_contact_overdue"]
