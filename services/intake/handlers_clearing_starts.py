"""Starting the clearing workflows (DOMAIN.md flow 2): record, then start. Intake stores a clearing with
its start mark (`clearings.workflow_pending`) in the transaction of the intake or correction; after the
commit its starter, a background task of the service, starts one workflow per household
(`workflows/household_clearing.py`, `clearing-intake-<intake id>`) with the household's pending
clearings, and clears their marks. The clerk's POST never waits for Temporal; a start that fails keeps
its mark and is tried on the next round; a crash between commit and start is found by the first round
after the restart. A coach acting before the starter starts the workflow itself
(`ensure_clearing_workflow`); every start is by business key with USE_EXISTING, so a second one joins."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from temporalio.common import WorkflowIDConflictPolicy

from services.contracts.activities import TaskQueues
from services.contracts.intake_workflows import ClearingInput, ClearingMember, HouseholdClearingInput, clearing_workflow_id
from services.intake import store_clearing
from services.intake.domain import CLEARING_PENDING
from services.intake.runtime import IntakeRuntime
from workflows.clearing import PreRegistrationClearing
from workflows.household_clearing import HouseholdClearing

POLL_S = 5.0  # how often the starter looks for marks left by a failed start (Temporal was unavailable)
IN_FLIGHT = 16  # workflow starts at a time: the excess waits in the table, not in Temporal's queue (ARCHITECTURE.md)
PER_ROUND = 200
log = logging.getLogger(__name__)


def _durations(rt: IntakeRuntime) -> dict[str, int]:
    s = rt.settings
    return dict(
        booking_working_days=s.clearing_booking_working_days, reminder_days=s.clearing_reminder_days, deadline_days=s.registration_deadline_days,
        max_rebookings=s.clearing_max_rebookings, slot_retry_minutes=s.clearing_slot_retry_minutes,
    )


async def _start(rt: IntakeRuntime, run: Callable[..., Any], arg: BaseModel, workflow_id: str) -> None:
    await rt.temporal_client.start_workflow(
        run, arg, id=workflow_id, task_queue=TaskQueues.INTAKE, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        request_eager_start=True,  # this process's worker gets the first workflow task in the start's reply: no poll round trip
    )


async def start_workflow_of(rt: IntakeRuntime, rows: Sequence[sa.Row]) -> None:
    """Starts (or joins) the workflow of these clearings: rows of one household's workflow (v3), whose
    pending ones become its persons, or the one row of a clearing from before v3 (its own workflow)."""
    pending = [r for r in rows if r.status == CLEARING_PENDING]
    if not pending:
        return
    first = pending[0]
    if first.workflow_id is None:
        inp = ClearingInput(
            clearing_id=first.id, person_id=first.person_id, tenant=rt.platform.tenant, move_in_date=first.move_in_date,
            correction_no=first.dates_correction_no or 0, **_durations(rt),
        )
        await _start(rt, PreRegistrationClearing.run, inp, clearing_workflow_id(first.person_id))
        return
    members = [ClearingMember(clearing_id=r.id, person_id=r.person_id, move_in_date=r.move_in_date, correction_no=r.dates_correction_no or 0) for r in pending]
    await _start(rt, HouseholdClearing.run, HouseholdClearingInput(tenant=rt.platform.tenant, members=members, **_durations(rt)), first.workflow_id)


async def ensure_clearing_workflow(rt: IntakeRuntime, row: sa.Row) -> None:
    """Starts the pending clearing's workflow, or joins it if it runs, and clears the marks: its
    household's (v3) with every pending clearing of it; a clearing from before v3 its own."""
    if row.workflow_id is None:
        await start_workflow_of(rt, [row])
        ids = [row.id]
    else:
        async with rt.db.read() as conn:
            rows = await store_clearing.pending_clearings_of_workflow(conn, row.workflow_id)
        await start_workflow_of(rt, rows)
        ids = [r.id for r in rows] + [row.id]
    async with rt.db.begin() as conn:
        await store_clearing.clear_start_marks(conn, ids)


def by_workflow(rows: Sequence[sa.Row]) -> list[list[sa.Row]]:
    """Marked clearings grouped by the workflow they start: a household's together, in their order; a
    clearing from before v3 alone."""
    groups: dict[str | uuid.UUID, list[sa.Row]] = {}
    for r in rows:
        groups.setdefault(r.workflow_id or r.id, []).append(r)
    return list(groups.values())


async def start_marked_clearings(rt: IntakeRuntime, *, in_flight: int = IN_FLIGHT, limit: int = PER_ROUND) -> tuple[int, int]:
    """One round: the marked clearings in one read, one start per workflow with all its persons
    (`in_flight` at a time), the marks of the started ones cleared in one write. Returns (clearings read,
    workflows not started)."""
    async with rt.db.read() as conn:
        rows = await store_clearing.marked_clearings(conn, limit)
    if not rows:
        return 0, 0
    gate = asyncio.Semaphore(in_flight)

    async def start(group: list[sa.Row]) -> list[uuid.UUID]:
        async with gate:
            await start_workflow_of(rt, group)
        return [r.id for r in group]

    groups = by_workflow(rows)
    if len(rows) == limit and len(groups) > 1:
        groups.pop()  # the last household may go on past the limit: it is read whole in the next round
    results = await asyncio.gather(*(start(g) for g in groups), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    started = [cid for r in results if not isinstance(r, BaseException) for cid in r]
    if started:
        async with rt.db.begin() as conn:
            await store_clearing.clear_start_marks(conn, started)
    if failed:
        log.warning("%d of %d clearing workflows not started yet (tried again): %s", len(failed), len(results), type(failed[0]).__name__)
    return len(rows), len(failed)


async def start_clearings_forever(rt: IntakeRuntime, *, poll_s: float = POLL_S) -> None:
    """Intake's starter (ServiceSpec.background): a round whenever an intake or correction that started
    clearings commits (`rt.clearings_committed`), at once again while a full round found more, and every
    `poll_s` seconds for marks a failed start left."""
    while True:
        rt.clearings_committed.clear()
        try:
            read, failed = await start_marked_clearings(rt)
            if read == PER_ROUND and not failed:
                continue
        except Exception as exc:  # the database is unavailable: the next round tries again
            log.warning("clearing starter: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rt.clearings_committed.wait(), timeout=poll_s)
