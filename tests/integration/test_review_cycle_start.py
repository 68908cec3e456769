"""Starting a case's workflow (its review cycle with its first contact) is idempotent on a real Temporal
dev server: the casework consumer relies on it when an event is redelivered after a crash. One workflow
per case: no CaseOnboarding workflow beside it any more."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from services.casework.handlers_workflows import start_case_workflows
from services.contracts.activities import review_cycle_workflow_id
from services.contracts.casework_workflows import case_onboarding_workflow_id
from services.kit.settings import PlatformSettings
from tests.support.eventually import eventually


def runtime(client) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    settings = SimpleNamespace(review_interval_days=90, review_escalation_days=14,  # the settings' defaults the start reads
                               first_contact_days=14, first_contact_reminder_days=10)
    return SimpleNamespace(temporal=client, temporal_client=client, platform=PlatformSettings(), settings=settings)


class TestReviewCycleStart:
    async def test_a_repeated_start_joins_the_running_cycle(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        client = temporal_env.client
        case_id = uuid.uuid4()
        await start_case_workflows(runtime(client), case_id)
        first = await client.get_workflow_handle(review_cycle_workflow_id(case_id)).describe()
        await start_case_workflows(runtime(client), case_id)
        second = await client.get_workflow_handle(review_cycle_workflow_id(case_id)).describe()
        assert second.run_id == first.run_id
        with pytest.raises(RPCError) as no_onboarding:
            await client.get_workflow_handle(case_onboarding_workflow_id(case_id)).describe()
        assert no_onboarding.value.status == RPCStatusCode.NOT_FOUND

    async def test_a_redelivery_after_the_cycle_ended_starts_no_second_cycle(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        client = temporal_env.client
        case_id = uuid.uuid4()
        await start_case_workflows(runtime(client), case_id)
        handle = client.get_workflow_handle(review_cycle_workflow_id(case_id))
        await handle.terminate("case closed")  # no worker in this test: end it from outside
        first = await handle.describe()

        async def ended() -> None:
            assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED

        await eventually(ended)
        await start_case_workflows(runtime(client), case_id)
        after = await client.get_workflow_handle(review_cycle_workflow_id(case_id)).describe()
        assert after.run_id == first.run_id
        assert after.status == WorkflowExecutionStatus.TERMINATED
