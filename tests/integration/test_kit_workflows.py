"""The kit's workflow mechanisms on a real Temporal dev server and a real SQLite database: record then
start (`PendingStarts`: pending mark, start after commit, sweep after a crash, start before commit
ended again when the commit fails), update refusals rendered by type (`run_update`), and a domain
error raised inside an activity arriving as a non-retryable refusal of the same type."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from temporalio import activity, workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from services.contracts.intake_reminders import SEND_DUE_CLEARING_REMINDERS, RemindersInput, RemindersResult
from services.contracts.refusals import NON_RETRYABLE, refusal
from services.kit.db import Database, Uuid
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.temporal import _compiled, make_worker, sandbox_runner
from services.kit.workflows import PendingStarts, refuses_domain_errors, run_update
from workflows.clearing_reminders import ClearingReminders

metadata = sa.MetaData()
records = sa.Table(
    "records", metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("workflows_pending", sa.Boolean, nullable=False, server_default=sa.false()),
)
WORKFLOW = "KitTestRecord"


@pytest.fixture
async def db(tmp_path):  # type: ignore[no-untyped-def]
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


def starts_for(db: Database, client, queue: str, calls: list[uuid.UUID]) -> PendingStarts[uuid.UUID]:  # type: ignore[no-untyped-def]
    async def start(row: sa.Row) -> None:
        calls.append(row.id)
        await client.start_workflow(WORKFLOW, str(row.id), id=f"kit-{row.id}", task_queue=queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)

    return PendingStarts(db, records, start)


async def status(client, workflow_id: str) -> WorkflowExecutionStatus | None:  # type: ignore[no-untyped-def]
    return (await client.get_workflow_handle(workflow_id).describe()).status


async def pending(db: Database, key: uuid.UUID) -> bool | None:
    async with db.read() as conn:
        return (await conn.execute(sa.select(records.c.workflows_pending).where(records.c.id == key))).scalar_one_or_none()


class TestPendingStarts:
    async def test_recording_commits_the_marked_row_then_starts_and_clears_the_mark(self, temporal_env, db) -> None:  # type: ignore[no-untyped-def]
        client, calls, key = temporal_env.client, [], uuid.uuid4()
        starts = starts_for(db, client, f"kit-{uuid.uuid4().hex[:6]}", calls)
        async with starts.recording(db.begin, key) as conn:
            await conn.execute(records.insert().values(id=key, **starts.mark))
        assert calls == [key] and await pending(db, key) is False
        assert await status(client, f"kit-{key}") == WorkflowExecutionStatus.RUNNING
        assert await starts.start_pending(key) is False  # cleared: nothing started twice
        await client.get_workflow_handle(f"kit-{key}").terminate("test over")

    async def test_a_crash_after_the_commit_is_healed_by_the_sweep(self, temporal_env, db) -> None:  # type: ignore[no-untyped-def]
        client, calls = temporal_env.client, []
        starts = starts_for(db, client, f"kit-{uuid.uuid4().hex[:6]}", calls)
        marked, done = uuid.uuid4(), uuid.uuid4()
        async with db.begin() as conn:  # committed, then the process died before starting
            await conn.execute(records.insert().values(id=marked, **starts.mark))
            await conn.execute(records.insert().values(id=done, workflows_pending=False))
        assert await starts.sweep() == 1
        assert calls == [marked] and await pending(db, marked) is False
        assert await status(client, f"kit-{marked}") == WorkflowExecutionStatus.RUNNING
        with pytest.raises(RPCError):
            await status(client, f"kit-{done}")
        assert await starts.sweep() == 0
        await client.get_workflow_handle(f"kit-{marked}").terminate("test over")

    async def test_start_first_ends_the_workflow_when_the_commit_fails_and_stores_nothing(self, temporal_env, db) -> None:  # type: ignore[no-untyped-def]
        client, key, queue = temporal_env.client, uuid.uuid4(), f"kit-{uuid.uuid4().hex[:6]}"
        starts = PendingStarts(db, records, start=lambda row: None, flag=None)  # type: ignore[arg-type, return-value]
        handle = client.get_workflow_handle(f"kit-{key}")

        async def start_first() -> None:
            await client.start_workflow(WORKFLOW, str(key), id=f"kit-{key}", task_queue=queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)

        async def end() -> None:
            await handle.terminate("the record was not stored")

        with pytest.raises(OSError):
            async with starts.recording(db.begin, key, start_first=start_first, end=end) as conn:
                await conn.execute(records.insert().values(id=key))
                raise OSError("database connection lost")
        assert await status(client, f"kit-{key}") == WorkflowExecutionStatus.TERMINATED
        assert await pending(db, key) is None


# --- run_update and activity refusals ------------------------------------------------------------


@activity.defn(name="kit_test.check")
@refuses_domain_errors
async def check(kind: str) -> str:
    errors = {"NotFound": NotFound, "Invalid": Invalid, "Forbidden": Forbidden}
    if kind in errors:
        raise errors[kind](f"refused as {kind}")
    return "ok"


@workflow.defn(name="KitTestDecisions")
class Decisions:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._done)

    @workflow.update
    async def decide(self, kind: str) -> str:
        try:
            return await workflow.execute_activity(
                check, kind, start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10), maximum_attempts=5, non_retryable_error_types=NON_RETRYABLE),
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type in NON_RETRYABLE:
                raise refusal(cause.type, f"{cause.message} (attempt {err.retry_state})") from None
            raise

    @decide.validator
    def _validate(self, kind: str) -> None:
        if kind == "ValueError":
            raise ValueError("not now")
        if kind == "Conflict":
            raise refusal("Conflict", "already decided")

    @workflow.signal
    def finish(self) -> None:
        self._done = True


class TestRunUpdate:
    async def test_refusals_become_the_domain_error_their_type_names(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        client, queue = temporal_env.client, f"kit-{uuid.uuid4().hex[:6]}"
        workflow_id = f"kit-decisions-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[Decisions], activities=[check], workflow_runner=UnsandboxedWorkflowRunner()):
            handle = await client.start_workflow(Decisions.run, id=workflow_id, task_queue=queue)
            gone = NotFound("not running")
            assert await run_update(client, workflow_id, Decisions.decide, "fine", not_running=gone) == "ok"
            assert await run_update(client, workflow_id, "decide", "fine", result_type=str, not_running=gone) == "ok"
            for kind, error, status in (("NotFound", NotFound, 404), ("Invalid", Invalid, 422), ("Forbidden", Forbidden, 403), ("Conflict", Conflict, 409)):
                with pytest.raises(error) as refused:
                    await run_update(client, workflow_id, Decisions.decide, kind, not_running=gone, field="step")
                assert refused.value.status_code == status and refused.value.field == "step"
            with pytest.raises(NotFound) as refused:
                await run_update(client, workflow_id, Decisions.decide, "NotFound", not_running=gone)
            assert "refused as NotFound" in refused.value.message  # the activity's DomainError, not retried
            with pytest.raises(Conflict) as refused:
                await run_update(client, workflow_id, Decisions.decide, "ValueError", not_running=gone)
            assert refused.value.message == "not now"
            with pytest.raises(Conflict) as refused:
                await run_update(client, workflow_id, Decisions.decide, "NotFound", not_running=gone, errors={})
            await handle.signal(Decisions.finish)
            await handle.result()

            with pytest.raises(NotFound) as refused:
                await run_update(client, workflow_id, Decisions.decide, "fine", not_running=gone)
            assert refused.value is gone
            with pytest.raises(Conflict) as refused:
                await run_update(client, f"kit-never-{uuid.uuid4()}", Decisions.decide, "fine", not_running=lambda exc: Conflict(f"closed ({exc.status.name})"))
            assert refused.value.message == "closed (NOT_FOUND)"

    async def test_start_on_not_found_starts_the_workflow_and_sends_again(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        client, queue = temporal_env.client, f"kit-{uuid.uuid4().hex[:6]}"
        workflow_id = f"kit-decisions-{uuid.uuid4()}"

        async def start() -> None:
            await client.start_workflow(Decisions.run, id=workflow_id, task_queue=queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)

        async with Worker(client, task_queue=queue, workflows=[Decisions], activities=[check], workflow_runner=UnsandboxedWorkflowRunner()):
            assert await run_update(client, workflow_id, Decisions.decide, "fine", start=start, not_running=NotFound("gone")) == "ok"
            await client.get_workflow_handle(workflow_id).signal(Decisions.finish)


# --- typed references: an activity declared once (stub), implemented as a method under its name ------
# In the code base the stub and its models live in services/contracts (see docs/architecture.md,
# "Temporal: typed references and the kit mechanisms"); here they sit in the test to stay self-contained.


@activity.defn(name="kit_test.greet")
async def greet_stub(name: str) -> str:
    """The contract: name, input and result type, declared once. Workflows call it; nobody runs it."""
    raise NotImplementedError("implemented by the service's activities class")


class GreetingActivities:
    """The service's implementation: a method of one class, registered under the contract's name."""

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    @activity.defn(name="kit_test.greet")
    async def greet(self, name: str) -> str:
        return f"{self.greeting}, {name}"


@workflow.defn(name="KitTestGreeting")
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(greet_stub, name, start_to_close_timeout=timedelta(seconds=10))


class TestTypedReferences:
    async def test_a_workflow_calls_the_contract_stub_and_the_method_under_its_name_runs(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        client, queue = temporal_env.client, f"kit-{uuid.uuid4().hex[:6]}"
        impl = GreetingActivities("Hallo")
        async with Worker(client, task_queue=queue, workflows=[Greeting], activities=[impl.greet], workflow_runner=UnsandboxedWorkflowRunner()):
            result = await client.execute_workflow(Greeting.run, "Amina", id=f"kit-greet-{uuid.uuid4()}", task_queue=queue)
        assert result == "Hallo, Amina"

    def test_the_stub_and_the_method_share_the_name_and_registering_both_is_refused(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        impl = GreetingActivities("Hallo")
        with pytest.raises(ValueError, match="More than one activity named kit_test.greet"):
            Worker(temporal_env.client, task_queue="kit-unused", activities=[greet_stub, impl.greet])


@activity.defn(name=SEND_DUE_CLEARING_REMINDERS)
async def reminders_sent(inp: RemindersInput) -> RemindersResult:
    return RemindersResult(sent=2)


class TestSandboxRunner:
    async def test_the_services_workers_run_workflows_in_the_sandbox_entering_it_by_snippets_compiled_once(self, temporal_env) -> None:  # type: ignore[no-untyped-def]
        """make_worker's runner: our workflow modules passed through, and the sandbox's entry snippets
        (activate, serialization context) compiled once and then taken from the cache."""
        client, queue = temporal_env.client, f"kit-{uuid.uuid4().hex[:6]}"
        assert isinstance(sandbox_runner(), SandboxedWorkflowRunner)
        before = _compiled.cache_info()
        async with make_worker(client, queue, workflows=[ClearingReminders], activities=[reminders_sent]):
            for _ in range(3):
                result = await client.execute_workflow(ClearingReminders.run, RemindersInput(tenant="hamm"), id=f"kit-sandbox-{uuid.uuid4()}", task_queue=queue)
                assert result.sent == 2
        after = _compiled.cache_info()
        assert after.currsize - before.currsize <= 5  # a handful of snippets (two name the workflow class), whatever the number of runs
        assert after.hits - before.hits >= 3 * 3  # every run enters the sandbox several times, compiled once
