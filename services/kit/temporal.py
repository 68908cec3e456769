"""One way to reach Temporal: pydantic payloads, tracing, explicit retry policies.

Workflow code lives in `workflows/` and imports only temporalio and services.contracts; the sandbox
passes contracts and pydantic through instead of re-importing them per workflow run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from types import CodeType
from typing import Any

from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker, WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance

from services.contracts.refusals import NON_RETRYABLE
from services.kit.settings import PlatformSettings
from services.kit.workflows import execute_update_or_start

__all__ = ["ACTIVITY_RETRY", "connect", "execute_update_or_start", "make_worker", "sandbox_runner"]  # execute_update_or_start moved to kit.workflows

#: Activities that touch a database or publish: a handful of attempts with backoff, then the workflow
#: sees the failure (never the SDK default of retrying forever). Domain errors are not retried.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE,
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


@lru_cache(maxsize=64)
def _compiled(code: str) -> CodeType:
    return compile(code, "workflow_sandbox.py", "exec")


class _CompiledOnceInstance(_Instance):
    """The sandbox's workflow instance, which enters the sandbox by `exec` of a few fixed snippets (to
    activate, and to get a serialization context for every payload it converts). The SDK hands `exec` the
    source, so Python compiled the same snippet again every time, about 16 µs each, dozens of times per
    workflow task: 2–3 % of intake's CPU on the clearing path. Here each snippet is compiled once; what
    runs, and in which sandbox, is unchanged (`exec` takes the code object as it takes the source)."""

    def _run_code(self, code: str, **extra_globals: Any) -> None:
        super()._run_code(_compiled(code), **extra_globals)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CompiledOnceSandboxRunner(SandboxedWorkflowRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledOnceInstance(det, self.runner_class, self.restrictions)


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The sandbox with our own workflow modules passed through: they import only temporalio and
    services.contracts (an import-linter contract) and hold nothing but constants at module level, so
    re-importing them for every workflow run (the default) buys no safety and cost most of a workflow
    task's CPU. The sandbox's checks of non-deterministic calls (time, random, I/O) still apply. Its
    entry snippets are compiled once (`CompiledOnceSandboxRunner`)."""
    return CompiledOnceSandboxRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("pydantic", "services.contracts", "workflows")
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
