"""Starting and telling casework's workflows (review cycle, onboarding, referral): by business key,
idempotent, after the record they belong to has committed."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.casework import store, store_referrals
from services.contracts.activities import REVIEW_CYCLE_WORKFLOW, ReviewCycleInput, TaskQueues, review_cycle_workflow_id
from services.contracts.casework_workflows import (
    CASE_ONBOARDING_WORKFLOW,
    REFERRAL_WORKFLOW,
    CaseOnboardingInput,
    ReferralInput,
    case_onboarding_workflow_id,
    referral_workflow_id,
)
from services.contracts.vocab import Partner
from services.kit.service import Runtime

log = logging.getLogger(__name__)


async def _start(rt: Runtime, workflow: str, arg: Any, workflow_id: str) -> None:
    assert rt.temporal is not None
    try:
        await rt.temporal.start_workflow(
            workflow, arg, id=workflow_id, task_queue=TaskQueues.CASEWORK,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass  # it ran and ended before: a redelivery must not start a second one


async def start_review_cycle(rt: Runtime, case_id: uuid.UUID) -> None:
    s = rt.settings
    await _start(
        rt, REVIEW_CYCLE_WORKFLOW,
        ReviewCycleInput(
            case_id=case_id, tenant=rt.platform.tenant, interval_days=s.review_interval_days,
            escalate_after_days=getattr(s, "review_escalation_days", 14),
        ),
        review_cycle_workflow_id(case_id),
    )


async def start_case_workflows(rt: Runtime, case_id: uuid.UUID) -> None:
    """Review cycle and onboarding of a committed case (business-key ids: a repeated start joins them)."""
    await start_review_cycle(rt, case_id)
    s = rt.settings
    await _start(
        rt, CASE_ONBOARDING_WORKFLOW,
        CaseOnboardingInput(case_id=case_id, tenant=rt.platform.tenant, first_contact_days=s.first_contact_days, reminder_days=s.first_contact_reminder_days),
        case_onboarding_workflow_id(case_id),
    )


async def ensure_case_workflows(rt: Runtime, case_id: uuid.UUID) -> None:
    """Starts the case's workflows if its commit marked them as still to start, then clears the mark."""
    async with rt.db.read() as conn:
        case = await store.get_case(conn, case_id)
    if case is None or not case.workflows_pending:
        return
    await start_case_workflows(rt, case_id)
    async with rt.db.begin() as conn:
        await store.update_case(conn, case_id, workflows_pending=False)


async def start_pending_workflows(rt: Runtime) -> None:
    """At start: cases committed without their workflows (a crash in between) get them now."""
    async with rt.db.read() as conn:
        pending = await store.pending_case_ids(conn)
    for case_id in pending:
        await ensure_case_workflows(rt, case_id)


async def start_referral_workflow(rt: Runtime, row: sa.Row) -> None:
    s = rt.settings
    await _start(
        rt, REFERRAL_WORKFLOW,
        ReferralInput(
            referral_id=row.id, case_id=row.case_id, tenant=rt.platform.tenant, partner=Partner(row.partner), made_on=row.made_on,
            acknowledgement_working_days=s.referral_acknowledgement_working_days,
            first_appointment_working_days=s.referral_first_appointment_working_days,
        ),
        referral_workflow_id(row.id),
    )


async def ensure_referral_workflow(rt: Runtime, referral_id: uuid.UUID) -> None:
    """Starts an open referral's workflow if it is not running yet (idempotent)."""
    async with rt.db.read() as conn:
        row = await store_referrals.get_referral(conn, referral_id)
    if row is not None and row.status == "open":
        await start_referral_workflow(rt, row)


async def ensure_referral_workflows(rt: Runtime) -> None:
    """At start: every open referral has its workflow (a crash between commit and start is healed)."""
    async with rt.db.read() as conn:
        rows = await store_referrals.open_referrals(conn)
    for row in rows:
        await start_referral_workflow(rt, row)


async def signal(rt: Runtime, workflow_id: str, name: str, *args: Any, strict: bool = False) -> None:
    """Tells a running workflow about a change; a workflow that has ended (or never started) needs no
    telling. Other failures are logged, or raised when `strict` (a consumer then retries)."""
    assert rt.temporal is not None
    try:
        await rt.temporal.get_workflow_handle(workflow_id).signal(name, *args)
    except Exception as exc:
        if isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND:
            return
        if strict:
            raise
        reason = exc.status.name if isinstance(exc, RPCError) and exc.status else type(exc).__name__
        log.info("signal %s to %s not delivered: %s", name, workflow_id, reason)
