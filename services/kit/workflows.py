"""The kit's mechanisms around workflows: a human decision sent as an update (`run_update`), a domain
error raised in an activity (`activity_refusals`), and a record whose workflow starts after its
commit (`PendingStarts`).

Update refusals. A validator, an update handler or an activity refuses with an ApplicationError
whose `type` names a domain error (`services.contracts.refusals`); `run_update` renders it as the kit
DomainError of that name (409 Conflict when the name is unknown), never by its message text::

    state = await run_update(
        rt.temporal_client, review_cycle_workflow_id(case_id), ReviewCycle.record_review, review,
        start=lambda: case_starts(rt).start_pending(case_id),       # optional: NOT_FOUND starts it
        not_running=Conflict("the review cycle is not running"),  # NOT_FOUND (not started, or ended)
        field="cycle",                                             # optional: the refusal's field
    )

Activities. A DomainError raised inside an activity is a refusal of the same type name, not retried::

    @activity.defn(name=RECORD_REVIEW)
    @refuses_domain_errors
    async def record_review(self, inp: RecordReviewInput) -> StepResult: ...

or, around a part of an activity, `with activity_refusals(): ...`.

Typed references. Workflows are started and updated by their class and method
(`client.start_workflow(ReviewCycle.run, inp, id=..., task_queue=...)`, `run_update(..., ReviewCycle.record_review, ...)`);
an activity is declared once in contracts as a stub `@activity.defn(name=NAME)` whose body raises
NotImplementedError, the workflow calls `workflow.execute_activity(stub, inp, ...)`, and the service
implements it under the same name (a method of its activities class). See docs/architecture.md,
"Temporal: typed references and the kit mechanisms".

Record, then start: see `PendingStarts`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, Generic, ParamSpec, TypeVar

import sqlalchemy as sa
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.contracts.refusals import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND
from services.kit.db import Database
from services.kit.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
K = TypeVar("K")
T = TypeVar("T")

#: Refusal type name → the kit DomainError an API raises for it (unknown names: Conflict).
REFUSAL_ERRORS: Mapping[str, type[DomainError]] = {CONFLICT: Conflict, INVALID: Invalid, NOT_FOUND: NotFound, FORBIDDEN: Forbidden}

#: An update: the workflow's update method (`ReviewCycle.record_review`) or its name.
Update = Callable[..., Any] | str


# --- update refusals ---------------------------------------------------------------------------


async def execute_update_or_start(
    client: Client, workflow_id: str, update: Update, arg: Any, start: Callable[[], Awaitable[None]] | None, result_type: type | None = None,
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


def refusal_error(
    exc: WorkflowUpdateFailedError, *, field: str | None = None, errors: Mapping[str, type[DomainError]] = REFUSAL_ERRORS, fallback: str | None = None,
) -> DomainError:
    """The DomainError for a refused update: chosen by the cause ApplicationError's `type` (unknown
    types, e.g. a validator's ValueError, give Conflict), with the cause's message. A cause that is
    no ApplicationError (e.g. an ActivityError an update handler let through) gives Conflict with
    `fallback`, or the cause's own message without one."""
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return errors.get(cause.type or "", Conflict)(cause.message or str(cause), field=field)
    message = fallback or getattr(cause, "message", None) or str(cause or exc)
    return Conflict(message, field=field)


async def run_update(
    client: Client,
    workflow_id: str,
    update: Update,
    arg: Any,
    *,
    not_running: DomainError | Callable[[RPCError], DomainError],
    result_type: type | None = None,
    start: Callable[[], Awaitable[None]] | None = None,
    field: str | None = None,
    errors: Mapping[str, type[DomainError]] = REFUSAL_ERRORS,
    fallback: str | None = None,
) -> Any:
    """Sends a human decision to a workflow as an update and returns the update's result.

    - `update`: the update method (`ReviewCycle.record_review`; its return annotation gives the
      result type) or its name (then pass `result_type`).
    - `start`: on NOT_FOUND, starts the workflow if its record still needs it and sends once more
      (`execute_update_or_start`); e.g. `PendingStarts.start_pending`.
    - a refusal (WorkflowUpdateFailedError) raises `refusal_error(...)`: the DomainError named by the
      cause's type in `errors` (default REFUSAL_ERRORS; a service adds its own, e.g. funding's
      BudgetExhausted), Conflict otherwise; `field` is set on it; `fallback` is the message when the
      cause is no ApplicationError.
    - NOT_FOUND (never started, or ended) raises `not_running` (a DomainError, or a function of
      the RPCError that makes one). Other RPC errors propagate (the service is unavailable: 5xx).
    """
    try:
        return await execute_update_or_start(client, workflow_id, update, arg, start, result_type=result_type)
    except WorkflowUpdateFailedError as exc:
        raise refusal_error(exc, field=field, errors=errors, fallback=fallback) from exc
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise (not_running if isinstance(not_running, DomainError) else not_running(exc)) from exc


# --- activities -------------------------------------------------------------------------------


@contextmanager
def activity_refusals() -> Iterator[None]:
    """Inside an activity: a kit DomainError raised in the block leaves as a non-retryable
    ApplicationError with `type=type(exc).__name__` (NotFound, Conflict, Invalid, Forbidden, or the
    service's own subclass) and the same message, so the workflow and the API see the refusal by type."""
    try:
        yield
    except DomainError as exc:
        raise ApplicationError(exc.message, type=type(exc).__name__, non_retryable=True) from exc


def refuses_domain_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Decorator for an async activity (function or method; put it under `@activity.defn`): the whole
    body runs in `activity_refusals()`."""

    @functools.wraps(fn)
    async def refusing(*args: P.args, **kwargs: P.kwargs) -> R:
        with activity_refusals():
            return await fn(*args, **kwargs)

    return refusing


# --- record, then start its workflow -----------------------------------------------------------


@functools.cache
def _by_key(table: sa.Table, key: str) -> tuple[sa.Select, sa.Update]:
    """PendingStarts' select of a row and update of its flag (the flag's value a parameter), built once
    per table (services/kit/db.py: why): a service makes its PendingStarts per call."""
    return sa.select(table).where(table.c[key] == sa.bindparam("b_key")), table.update().where(table.c[key] == sa.bindparam("b_key"))


class PendingStarts(Generic[K]):
    """Record, then start its workflow: the one way a service starts a workflow for a record it stores.

    The record's row carries a pending mark (a boolean column, `flag`) set in the same transaction
    that stores it; after the commit, `start_pending(key)` starts its workflow(s) (`start(row)`, which
    must start with a business-key id and `id_conflict_policy=USE_EXISTING`, so a second start joins
    the first) and clears the mark. A crash between commit and start leaves the mark: `sweep()` at
    the service's start (ServiceSpec.on_start) starts every marked record's workflow. A record is
    thus never without its workflow for longer than a restart, and no workflow runs ahead of its
    record. A human update that arrives in the window passes `start=lambda: starts.start_pending(key)`
    to `run_update`.

    How a service uses it::

        def case_starts(rt: CaseworkRuntime) -> PendingStarts[uuid.UUID]:
            return PendingStarts(rt.db, store.cases, lambda row: start_case_workflows(rt, row.id), flag="workflows_pending")

        async with case_starts(rt).recording(delivery.transaction, case_id) as tx:
            await store.insert_case(tx.conn, ..., **case_starts(rt).mark)  # the row, marked, in the same transaction
        # here: committed, workflows started, mark cleared

        async def on_start(rt): await case_starts(rt).sweep()

    `recording` is `async with transaction() as tx: ...` followed by `start_pending(key)`; the two
    steps may also be called separately (e.g. the commit in one function, the start in its caller).

    Start before the commit: with `start_first` (and `end`), `recording` starts the workflow before
    the transaction and, if the transaction fails, ends it again (`end`, shielded from cancellation)
    before re-raising: a decider never finds a committed record without its workflow, and a record
    that was not stored leaves no running workflow (funding's hardship application does this). Only
    a crash between the start and the commit leaves a workflow without its record (its activities
    then refuse NotFound). With `flag=None` there is no mark (and `start_pending`/`sweep` do nothing):
    use it only with `start_first`.
    """

    def __init__(
        self, db: Database, table: sa.Table, start: Callable[[sa.Row[Any]], Awaitable[None]], *, flag: str | None = "workflows_pending", key: str = "id",
    ) -> None:
        self.db = db
        self.table = table
        self.flag = flag
        self.key = key
        self._start = start
        self._row, self._set_flag = _by_key(table, key)

    @property
    def mark(self) -> dict[str, bool]:
        """The pending mark as column values for the record's INSERT (`insert().values(..., **starts.mark)`)."""
        return {self.flag: True} if self.flag else {}

    async def mark_pending(self, conn: Any, key: K) -> None:
        """Sets the pending mark on an existing row, in the caller's transaction (`conn`)."""
        if self.flag:
            await conn.execute(self._set_flag, {"b_key": key, self.flag: True})

    async def start_pending(self, key: K) -> bool:
        """After the commit: starts the record's workflow if its row is marked, then clears the mark.
        Returns whether it started (False: no such row, or not marked). Idempotent."""
        if not self.flag:
            return False
        async with self.db.read() as conn:
            row = (await conn.execute(self._row, {"b_key": key})).first()
        if row is None or not getattr(row, self.flag):
            return False
        await self._start(row)
        async with self.db.begin() as conn:
            await conn.execute(self._set_flag, {"b_key": key, self.flag: False})
        return True

    async def sweep(self) -> int:
        """At the service's start: starts the workflow of every record still marked (a crash between
        its commit and its start). Returns how many were started."""
        if not self.flag:
            return 0
        async with self.db.read() as conn:
            keys = list((await conn.execute(sa.select(self.table.c[self.key]).where(self.table.c[self.flag].is_(True)))).scalars())
        started = 0
        for key in keys:
            started += await self.start_pending(key)
        if started:
            log.info("started the workflows of %d %s records committed before a restart", started, self.table.name)
        return started

    @asynccontextmanager
    async def recording(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[T]],
        key: K,
        *,
        start_first: Callable[[], Awaitable[None]] | None = None,
        end: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[T]:
        """`async with starts.recording(rt.outbox.transaction, key) as tx:` store the marked row (and
        emit its events) in `tx`; after the block the transaction is committed and `start_pending(key)`
        has run. With `start_first`, the workflow is started before the transaction and `end` ends it
        if the transaction fails (see the class docstring)."""
        if start_first is not None:
            await start_first()
        try:
            async with transaction() as tx:
                yield tx
        except BaseException:
            if start_first is not None and end is not None:
                await asyncio.shield(_ending(end))
            raise
        await self.start_pending(key)


async def _ending(end: Callable[[], Awaitable[None]]) -> None:
    try:
        await end()
    except Exception:
        log.warning("could not end the workflow of a record that was not stored", exc_info=True)
