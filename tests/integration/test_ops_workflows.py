"""What the operator console shows for a running workflow (kit ops `describe_workflow`), on a real
Temporal dev server: open timers with their fire time, pending activities with their attempt, and
"stuck" once a timer or a workflow task is overdue or an activity is being retried."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from services.kit.ops import STUCK_AFTER, describe_workflow
from tests.support.eventually import eventually


@workflow.defn(name="OpsTestWaiting")
class Waiting:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(days=3))


@activity.defn(name="ops_test_failing")
async def failing() -> None:
    raise RuntimeError("downstream unavailable")


@workflow.defn(name="OpsTestRetrying")
class Retrying:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            "ops_test_failing", start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_interval=timedelta(hours=1), backoff_coefficient=100,
                                     maximum_attempts=3),
        )


class TestDescribeWorkflow:
    async def test_a_waiting_workflow_shows_its_timer_and_is_not_stuck(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        client = temporal_env.client
        queue = f"ops-{uuid.uuid4().hex[:8]}"
        async with Worker(client, task_queue=queue, workflows=[Waiting], workflow_runner=UnsandboxedWorkflowRunner()):
            handle = await client.start_workflow(Waiting.run, id=f"ops-wait-{uuid.uuid4()}", task_queue=queue)

            async def timer_open():  # type: ignore[no-untyped-def]
                w = await describe_workflow(client, handle.id, handle.result_run_id, datetime.now(UTC))
                assert len(w.timers) == 1
                return w

            w = await eventually(timer_open, timeout=10)
            assert w.stuck is False
            assert w.timers[0].fires_at is not None
            assert timedelta(days=3) - timedelta(minutes=1) < w.timers[0].fires_at - datetime.now(UTC) <= timedelta(days=3)
            assert w.waits_for[0].startswith("timer ")

            later = await describe_workflow(client, handle.id, handle.result_run_id, datetime.now(UTC) + timedelta(days=3) + STUCK_AFTER * 2)
            assert later.stuck is True
            assert "overdue" in later.reasons[0]
            await handle.terminate("test done")

    async def test_an_activity_in_retry_makes_the_workflow_stuck(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        client = temporal_env.client
        queue = f"ops-{uuid.uuid4().hex[:8]}"
        async with Worker(client, task_queue=queue, workflows=[Retrying], activities=[failing], workflow_runner=UnsandboxedWorkflowRunner()):
            handle = await client.start_workflow(Retrying.run, id=f"ops-retry-{uuid.uuid4()}", task_queue=queue)

            async def retrying():  # type: ignore[no-untyped-def]
                w = await describe_workflow(client, handle.id, handle.result_run_id, datetime.now(UTC))
                assert w.activities and w.activities[0].attempt >= 2
                return w

            w = await eventually(retrying, timeout=15, interval=0.2)
            assert w.stuck is True
            assert w.activities[0].activity_type == "ops_test_failing"
            assert "downstream unavailable" in (w.activities[0].last_failure or "")
            await handle.terminate("test done")

    async def test_a_workflow_nobody_works_on_is_stuck_after_a_while(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        client = temporal_env.client
        handle = await client.start_workflow("OpsTestNoWorker", id=f"ops-orphan-{uuid.uuid4()}", task_queue=f"ops-none-{uuid.uuid4().hex[:8]}")
        now = await describe_workflow(client, handle.id, handle.result_run_id, datetime.now(UTC))
        later = await describe_workflow(client, handle.id, handle.result_run_id, datetime.now(UTC) + STUCK_AFTER * 2)
        assert now.stuck is False
        assert later.stuck is True and "workflow task not picked up" in later.reasons[0]
        assert later.waits_for == ["a signal or update (a decision or an event from another service)"]
        await handle.terminate("test done")

    async def test_a_workflow_the_worker_cannot_run_is_stuck(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        client = temporal_env.client
        queue = f"ops-{uuid.uuid4().hex[:8]}"
        async with Worker(client, task_queue=queue, workflows=[Waiting], workflow_runner=UnsandboxedWorkflowRunner()):
            handle = await client.start_workflow("OpsTestNotRegistered", id=f"ops-unknown-{uuid.uuid4()}", task_queue=queue)

            async def failing():  # type: ignore[no-untyped-def]
                w = await describe_workflow(client, handle.id, handle.result_run_id, datetime.now(UTC))
                assert w.stuck
                return w

            w = await eventually(failing, timeout=20, interval=0.2)
            assert w.reasons[0].startswith("workflow task failing (attempt ")
            await handle.terminate("test done")
