"""One way to reach Temporal: pydantic payloads, tracing, explicit retry policies.

Workflow code lives in `workflows/` and imports only temporalio and services.contracts; the sandbox
passes contracts and pydantic through instead of re-importing them per workflow run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from services.kit.settings import PlatformSettings

#: Activities that touch a database or publish: a handful of attempts with backoff, then the workflow
#: sees the failure (never the SDK default of retrying forever). Domain errors are not retried.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
    non_retryable_error_types=["DomainError", "NotFound", "Conflict", "Invalid", "Forbidden"],
)


async def connect(settings: PlatformSettings, *, lazy: bool = False) -> Client:
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor()],
        lazy=lazy,
    )
    if settings.temporal_time_skipping:
        # Tests only: workflows this service starts carry a time-skipping config, so a scenario test
        # can fast-forward their deadlines on the test stack's server.
        from temporalio.testing import TimeSkipper, TimeSkippingConfig

        # stamped disabled: a workflow's clock runs in real time until a test fast-forwards it (the
        # default config would skip unbounded, firing every idle workflow's timers at once)
        client = TimeSkipper(client, config=TimeSkippingConfig(enabled=False)).client
    return client


def sandbox_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("pydantic", "services.contracts")
    )


def make_worker(
    client: Client,
    task_queue: str,
    *,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
    max_concurrent_activities: int = 20,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        workflow_runner=sandbox_runner(),
        max_concurrent_activities=max_concurrent_activities,
    )


async def execute_update_or_start(
    client: Client, workflow_id: str, update: str, arg: Any, start: Callable[[], Awaitable[None]] | None, result_type: type | None = None,
) -> Any:
    """Sends a human record to a workflow as an update. A record is visible as soon as its service
    commits it, and its workflow is started just after (or after a crash, at the next start): a
    record made in that window finds no workflow. On NOT_FOUND, `start` starts the workflow if its
    record still needs one (business-key id with USE_EXISTING: a start that races another joins it)
    and the update is sent once more; a workflow that has ended stays ended and NOT_FOUND is raised.
    Without `start`, NOT_FOUND is raised at once."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await handle.execute_update(update, arg, result_type=result_type)
    except RPCError as exc:
        if start is None or exc.status != RPCStatusCode.NOT_FOUND:
            raise
    await start()
    return await handle.execute_update(update, arg, result_type=result_type)
