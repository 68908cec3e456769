"""Casework's reactions to events and its workflow activities."""

from __future__ import annotations

from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.casework import store
from services.casework.domain import PROGRAMME_SOCIAL_CASEWORK, Phase, case_id_for_intake
from services.contracts.activities import (
    RECORD_REVIEW_DUE,
    REVIEW_CYCLE_WORKFLOW,
    RecordReviewDueInput,
    RecordReviewDueResult,
    ReviewCycleInput,
    TaskQueues,
    review_cycle_workflow_id,
)
from services.contracts.events import CaseOpened, IntakeCompleted, ReviewDue
from services.kit import telemetry
from services.kit.broker import Delivery
from services.kit.db import utc_now
from services.kit.service import Runtime


async def open_case_for_intake(rt: Runtime, event: IntakeCompleted, delivery: Delivery) -> None:
    """Every completed intake opens a case in Soziales Fallmanagement with its review cycle
    (walking skeleton; routing by residence status follows in the intake issue).

    Crash safety: the review cycle is started first, idempotently (business-key workflow id), then the
    case, the inbox record and CaseOpened are committed together. A crash in between redelivers the
    event, which finds the running workflow and commits the case once."""
    case_id = case_id_for_intake(event.intake_id)
    telemetry.mark(intake_id=event.intake_id, case_id=case_id)
    if await delivery.already_handled():
        return
    await start_review_cycle(rt, case_id)
    async with delivery.transaction() as tx:
        now = utc_now()
        await tx.conn.execute(
            store.cases.insert().values(
                id=case_id, household_id=event.household_id, intake_id=event.intake_id,
                programme=PROGRAMME_SOCIAL_CASEWORK, district=event.district, phase=Phase.ENTRY, opened_at=now,
            )
        )
        await tx.emit(
            CaseOpened(
                tenant=event.tenant, correlation_id=event.correlation_id, causation_id=event.event_id, occurred_at=now,
                case_id=case_id, household_id=event.household_id, intake_id=event.intake_id,
                programme=PROGRAMME_SOCIAL_CASEWORK, district=event.district,
            )
        )


async def start_review_cycle(rt: Runtime, case_id) -> None:  # type: ignore[no-untyped-def]
    assert rt.temporal is not None
    try:
        await rt.temporal.start_workflow(
            REVIEW_CYCLE_WORKFLOW,
            ReviewCycleInput(case_id=case_id, tenant=rt.platform.tenant, interval_days=rt.settings.review_interval_days),
            id=review_cycle_workflow_id(case_id),
            task_queue=TaskQueues.CASEWORK,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass  # the case's cycle ran and ended before: a redelivery must not start a second one


def activities(rt: Runtime) -> list:
    @activity.defn(name=RECORD_REVIEW_DUE)
    async def record_review_due(inp: RecordReviewDueInput) -> RecordReviewDueResult:
        """Records that a review came due and announces it (ReviewDue), once per case and cycle."""
        telemetry.mark(case_id=inp.case_id)
        async with rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None or case.closed_at is not None:
                return RecordReviewDueResult(case_open=False)
            exists = (
                await tx.conn.execute(
                    store.reviews_due.select().where(store.reviews_due.c.case_id == inp.case_id, store.reviews_due.c.cycle == inp.cycle)
                )
            ).first()
            if exists is None:
                await tx.conn.execute(store.reviews_due.insert().values(case_id=inp.case_id, cycle=inp.cycle, due_on=inp.due_on, recorded_at=utc_now()))
                await tx.emit(ReviewDue(tenant=inp.tenant, correlation_id=inp.case_id, case_id=inp.case_id, cycle=inp.cycle, due_on=inp.due_on))
        return RecordReviewDueResult(case_open=True)

    return [record_review_due]
