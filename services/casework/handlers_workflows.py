"""Starting and telling casework's workflows (the case's review cycle with its first contact, referrals):
by business key, idempotent, after the record they belong to has committed. A case is recorded, then its workflows
start: the kit's PendingStarts with the case row's `workflows_pending` mark (`case_starts`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.casework import store, store_referrals
from services.casework.runtime import CaseworkRuntime
from services.contracts.activities import OnboardingState, ReviewCycleInput, TaskQueues, review_cycle_workflow_id
from services.contracts.casework_workflows import (
    ReferralInput,
    case_onboarding_workflow_id,
    referral_workflow_id,
)
from services.contracts.vocab import Partner
from services.kit.workflows import PendingStarts
from workflows.case_onboarding import CaseOnboarding
from workflows.referral import Referral
from workflows.review_cycle import ReviewCycle

log = logging.getLogger(__name__)


async def _start(rt: CaseworkRuntime, run: Callable[..., Any], arg: Any, workflow_id: str) -> None:
    """Starts the workflow (`run`: its class's run method) by business key; a running one is joined."""
    try:
        await rt.temporal_client.start_workflow(
            run, arg, id=workflow_id, task_queue=TaskQueues.CASEWORK,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            request_eager_start=True,  # this process's worker gets the first workflow task in the start's reply: no poll round trip
        )
    except WorkflowAlreadyStartedError:
        pass  # it ran and ended before: a redelivery must not start a second one


async def start_case_workflows(rt: CaseworkRuntime, case_id: uuid.UUID) -> None:
    """The workflow of a committed case (business-key id: a repeated start joins it): its review cycles
    and, since v3, its first contact (workflows/review_cycle.py). One workflow per case; cases opened
    before have a CaseOnboarding workflow beside it, which runs on (`first_contact_target`)."""
    s = rt.settings
    await _start(
        rt, ReviewCycle.run,
        ReviewCycleInput(
            case_id=case_id, tenant=rt.platform.tenant, interval_days=s.review_interval_days, escalate_after_days=s.review_escalation_days,
            onboarding=OnboardingState(first_contact_days=s.first_contact_days, reminder_days=s.first_contact_reminder_days),
        ),
        review_cycle_workflow_id(case_id),
    )


async def first_contact_target(rt: CaseworkRuntime, case_id: uuid.UUID) -> tuple[str, Callable[..., Any]]:
    """The workflow that takes a case's first contact, and its update: the case's own CaseOnboarding
    workflow if it has one (opened before v3), else its review-cycle workflow."""
    onboarding_id = case_onboarding_workflow_id(case_id)
    try:
        await rt.temporal_client.get_workflow_handle(onboarding_id).describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return review_cycle_workflow_id(case_id), ReviewCycle.record_first_contact
    return onboarding_id, CaseOnboarding.record_first_contact


def case_starts(rt: CaseworkRuntime) -> PendingStarts[uuid.UUID]:
    """A case is recorded with the pending mark (`**case_starts(rt).mark` in its INSERT), then its
    review cycle and onboarding start and the mark is cleared; `sweep()` at start heals a crash between."""
    return PendingStarts(rt.db, store.cases, lambda row: start_case_workflows(rt, row.id), flag="workflows_pending")


async def ensure_case_workflows(rt: CaseworkRuntime, case_id: uuid.UUID) -> None:
    """Starts the case's workflows if its commit marked them as still to start, then clears the mark."""
    await case_starts(rt).start_pending(case_id)


async def start_pending_workflows(rt: CaseworkRuntime) -> None:
    """At start: cases committed without their workflows (a crash in between) get them now."""
    await case_starts(rt).sweep()


async def start_referral_workflow(rt: CaseworkRuntime, row: sa.Row) -> None:
    s = rt.settings
    await _start(
        rt, Referral.run,
        ReferralInput(
            referral_id=row.id, case_id=row.case_id, tenant=rt.platform.tenant, partner=Partner(row.partner), made_on=row.made_on,
            acknowledgement_working_days=s.referral_acknowledgement_working_days,
            first_appointment_working_days=s.referral_first_appointment_working_days,
        ),
        referral_workflow_id(row.id),
    )


async def ensure_referral_workflow(rt: CaseworkRuntime, referral_id: uuid.UUID) -> None:
    """Starts an open referral's workflow if it is not running yet (idempotent)."""
    async with rt.db.read() as conn:
        row = await store_referrals.get_referral(conn, referral_id)
    if row is not None and row.status == "open":
        await start_referral_workflow(rt, row)


async def ensure_referral_workflows(rt: CaseworkRuntime) -> None:
    """At start: every open referral has its workflow (a crash between commit and start is healed)."""
    async with rt.db.read() as conn:
        rows = await store_referrals.open_referrals(conn)
    for row in rows:
        await start_referral_workflow(rt, row)


async def signal(rt: CaseworkRuntime, workflow_id: str, method: Callable[..., Any], *args: Any, strict: bool = False) -> None:
    """Tells a running workflow about a change (`method`: its signal, e.g. ReviewCycle.case_closed); a
    workflow that has ended (or never started) needs no telling. Other failures are logged, or raised
    when `strict` (a consumer then retries)."""
    name = getattr(method, "__name__", str(method))
    try:
        await rt.temporal_client.get_workflow_handle(workflow_id).signal(method, *args)
    except Exception as exc:
        if isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND:
            return
        if strict:
            raise
        reason = exc.status.name if isinstance(exc, RPCError) and exc.status else type(exc).__name__
        log.info("signal %s to %s not delivered: %s", name, workflow_id, reason)
