"""Operator API served by every service (role operator only): the service's own running workflows and
what they wait for, its consumer group's dead letters with replay, and the span tree of any id.

The web application's operator console reads these; `ankommen dlq` and `ankommen trace` do the same
from a shell. Responses carry ids, names of workflow steps and timestamps, never personal data
(ARCHITECTURE.md "Observability for operators")."""

from __future__ import annotations

import asyncio
import pathlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from services.kit import deadletters
from services.kit.auth import Principal, Role, require
from services.kit.errors import NotFound
from services.kit.runtime_dep import KitRuntimeDep

#: A timer whose fire time lies this far in the past, or a workflow task scheduled this long ago and
#: not picked up, means no worker makes progress on the workflow.
STUCK_AFTER = timedelta(minutes=1)
OperatorDep = Annotated[Principal, Depends(require(Role.OPERATOR))]



class PendingTimer(BaseModel):
    timer_id: str
    fires_at: datetime | None


class PendingActivity(BaseModel):
    activity_type: str
    state: str
    attempt: int
    maximum_attempts: int
    last_failure: str | None
    next_attempt_at: datetime | None


class RunningWorkflow(BaseModel):
    workflow_id: str
    run_id: str
    workflow_type: str
    started_at: datetime | None
    timers: list[PendingTimer]
    activities: list[PendingActivity]
    waits_for: list[str]
    stuck: bool
    reasons: list[str]


class WorkflowList(BaseModel):
    service: str
    task_queue: str
    workflows: list[RunningWorkflow]
    truncated: bool


class DeadLetterOut(BaseModel):
    dlq_stream: str
    entry_id: str
    original_stream: str
    group: str
    event_id: str
    event_type: str
    deliveries: int
    error: str
    dead_at: str


class Replayed(BaseModel):
    entry_id: str
    original_stream: str
    new_entry_id: str


class TraceNode(BaseModel):
    span_id: str
    name: str
    service: str
    offset_ms: float
    duration_ms: float
    status: str
    children: list[TraceNode]


class TraceOut(BaseModel):
    trace_id: str
    spans: int
    services: list[str]
    roots: list[TraceNode]


class TracesOut(BaseModel):
    id: str
    traces: list[TraceOut]


def _ts(value: Any) -> datetime | None:
    """A protobuf Timestamp (unset = None) as an aware datetime."""
    if value is None or (value.seconds == 0 and value.nanos == 0):
        return None
    return value.ToDatetime(tzinfo=UTC)


async def _open_timers(handle: Any) -> list[PendingTimer]:
    from temporalio.api.enums.v1 import EventType

    started: dict[str, datetime | None] = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            attrs = event.timer_started_event_attributes
            at = _ts(event.event_time)
            started[attrs.timer_id] = at + attrs.start_to_fire_timeout.ToTimedelta() if at else None
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            started.pop(event.timer_fired_event_attributes.timer_id, None)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            started.pop(event.timer_canceled_event_attributes.timer_id, None)
    return [PendingTimer(timer_id=k, fires_at=v) for k, v in started.items()]


async def describe_workflow(client: Any, workflow_id: str, run_id: str, now: datetime) -> RunningWorkflow:
    """What a running workflow waits for: open timers (from its history), pending activities and a
    pending workflow task (from describe); stuck when a timer or task is overdue by STUCK_AFTER, the
    worker keeps failing the workflow task, or an activity is being retried."""
    from temporalio.api.enums.v1 import PendingActivityState

    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    desc = await handle.describe()
    raw = desc.raw_description
    timers = await _open_timers(handle)
    activities = [
        PendingActivity(
            activity_type=a.activity_type.name,
            state=PendingActivityState.Name(a.state).removeprefix("PENDING_ACTIVITY_STATE_").lower(),
            attempt=a.attempt,
            maximum_attempts=a.maximum_attempts,
            last_failure=(a.last_failure.message[:300] or None) if a.HasField("last_failure") else None,
            next_attempt_at=_ts(a.next_attempt_schedule_time) if a.HasField("next_attempt_schedule_time") else None,
        )
        for a in raw.pending_activities
    ]
    reasons: list[str] = []
    for t in timers:
        if t.fires_at is not None and t.fires_at < now - STUCK_AFTER:
            reasons.append(f"timer {t.timer_id} overdue since {t.fires_at.isoformat()}")
    for a in activities:
        if a.attempt > 1:
            reasons.append(f"activity {a.activity_type} in attempt {a.attempt}")
    if raw.HasField("pending_workflow_task"):
        task = raw.pending_workflow_task
        scheduled = _ts(task.scheduled_time)
        if task.attempt > 1:  # the worker fails the task: unknown workflow type, non-determinism, a bug
            reasons.append(f"workflow task failing (attempt {task.attempt})")
        elif scheduled is not None and scheduled < now - STUCK_AFTER:
            reasons.append(f"workflow task not picked up since {scheduled.isoformat()}")
    waits_for = [f"timer {t.timer_id} until {t.fires_at.isoformat() if t.fires_at else '?'}" for t in timers]
    waits_for += [f"activity {a.activity_type} ({a.state}, attempt {a.attempt})" for a in activities]
    if not waits_for:
        waits_for.append("a signal or update (a decision or an event from another service)")
    return RunningWorkflow(
        workflow_id=workflow_id, run_id=run_id, workflow_type=desc.workflow_type, started_at=desc.start_time,
        timers=timers, activities=activities, waits_for=waits_for, stuck=bool(reasons), reasons=reasons,
    )


async def workflows(
    rt: KitRuntimeDep, principal: OperatorDep, limit: Annotated[int, Query(ge=1, le=500)] = 100, stuck_only: bool = False
) -> WorkflowList:
    client = rt.temporal_client
    query = f'TaskQueue = "{rt.name}" AND ExecutionStatus = "Running"'
    executions = [e async for e in client.list_workflows(query, limit=limit + 1)]
    truncated = len(executions) > limit
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(8)

    async def one(e: Any) -> RunningWorkflow:
        async with gate:
            return await describe_workflow(client, e.id, e.run_id, now)

    found = await asyncio.gather(*(one(e) for e in executions[:limit]))
    listed = [w for w in found if w.stuck or not stuck_only]
    listed.sort(key=lambda w: (not w.stuck, w.started_at or now))
    return WorkflowList(service=rt.name, task_queue=rt.name, workflows=listed, truncated=truncated)


async def dead_letters(rt: KitRuntimeDep, principal: OperatorDep) -> list[DeadLetterOut]:
    dead = await deadletters.list_dead(rt.redis)
    return [DeadLetterOut(**{k: getattr(d, k) for k in DeadLetterOut.model_fields}) for d in dead if d.group == rt.name]


async def replay(
    rt: KitRuntimeDep, principal: OperatorDep,
    entry: Annotated[str, Path(pattern=r"^\d+-\d+$", max_length=40)],
    stream: Annotated[str | None, Query(max_length=200, description="the dead-letter stream, when the entry id is ambiguous")] = None,
) -> Replayed:
    dead = [d for d in await deadletters.list_dead(rt.redis) if d.group == rt.name and d.entry_id == entry]
    if stream is not None:
        dead = [d for d in dead if d.dlq_stream == stream]
    if not dead:
        raise NotFound(f"no dead letter {entry} of consumer group {rt.name}")
    d = dead[0]
    new_id = await deadletters.replay(rt.redis, d.dlq_stream, d.entry_id)
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, (Role.OPERATOR.value,), "replay dead letter", "event", d.event_id)
    return Replayed(entry_id=d.entry_id, original_stream=d.original_stream, new_entry_id=new_id)


def _load_traces(directory: pathlib.Path, id: str) -> TracesOut:
    from services.kit import tracing

    spans = list(tracing.load_spans(directory))
    out = []
    for trace_id in tracing.find_trace_ids(spans, id):
        mine = [s for s in spans if s["trace_id"] == trace_id]
        out.append(
            TraceOut(
                trace_id=trace_id, spans=len(mine),
                services=sorted({(s.get("service") or "?").removeprefix("ankommen-") for s in mine}),
                roots=[TraceNode.model_validate(n) for n in tracing.nested_tree(mine, trace_id)],
            )
        )
    return TracesOut(id=id, traces=out)


async def traces(rt: KitRuntimeDep, principal: OperatorDep, id: Annotated[str, Path(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]) -> TracesOut:
    directory = rt.platform.traces_dir
    if not directory.exists():
        raise NotFound("no local span files; with OTLP export on, look the id up in the tracing backend")
    return await asyncio.to_thread(_load_traces, directory, id)


def ops_router() -> APIRouter:
    router = APIRouter(prefix="/ops", tags=["operations"])
    router.get("/workflows", response_model=WorkflowList, summary="Running workflows of this service and what they wait for")(workflows)
    router.get("/dead-letters", response_model=list[DeadLetterOut], summary="Dead letters of this service's consumer group")(dead_letters)
    router.post("/dead-letters/{entry}/replay", response_model=Replayed, summary="Put a dead letter back on its stream")(replay)
    router.get("/traces/{id}", response_model=TracesOut, summary="Span tree of an intake, case, referral, application or trace id")(traces)
    return router
