"""Funding's hardship fund commands (DOMAIN.md flow 5, seed 000 "Härtefallfond"): the application, the
human steps its approval workflow records (decide, order the payment, pay out, cancel) and the
escalation of an overdue decision. Each loads the record, asks the rules (domain / contracts), saves
and emits in one transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, time
from typing import Any

from temporalio.common import WorkflowIDConflictPolicy

from services.contracts.funding import (
    HardshipApplied,
    HardshipApproved,
    HardshipCancelled,
    HardshipDecisionRecorded,
    HardshipDisbursed,
    HardshipEscalated,
    HardshipPaymentOrdered,
    HardshipRedirected,
    HardshipRejected,
)
from services.contracts.funding_workflows import HardshipApprovalInput, HardshipEscalateInput, HardshipState, HardshipStepInput, hardship_workflow_id
from services.contracts.workdays import BERLIN, city_today
from services.funding import ledger, store
from services.funding.domain import (
    Fund,
    HardshipStatus,
    Refusal,
    Screening,
    deciders_required,
    fiscal_year,
    hardship_state,
    hardship_step_refusal,
    period_problem,
    refusal_error,
    screen,
)
from services.funding.runtime import FundingRuntime
from services.funding.schemas import HardshipApply
from services.kit import telemetry
from services.kit.alerts import raise_alert, resolve_alerts
from services.kit.auth import Principal, Role
from services.kit.db import utc_now
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.workflows import PendingStarts
from workflows.hardship_approval import HardshipApproval

log = logging.getLogger(__name__)

SCREENED = {"eligible": HardshipStatus.PENDING, "redirected": HardshipStatus.REDIRECTED, "rejected": HardshipStatus.REJECTED}


async def _check_case(rt: FundingRuntime, principal: Principal, cmd: HardshipApply) -> None:
    """A caseworker applies for a client (a member) of their own open case, as funding knows it from casework."""
    async with rt.db.read() as conn:
        case = await store.get_case(conn, cmd.case_id)
    if case is None:
        raise Invalid("unknown case (not yet known to funding)", field="case_id")
    if case.caseworker != principal.username:
        raise Forbidden("a caseworker applies only for clients of their own cases")
    if case.closed:
        raise Conflict("the case is closed")
    if str(cmd.person_id) not in case.member_ids:
        raise Invalid("the person is not a member of the case", field="person_id")


def _starts(rt: FundingRuntime) -> PendingStarts[uuid.UUID]:
    """Hardship applications start their approval workflow before the commit (the kit's start-first
    variant, no pending mark): no decider can find a committed application without its workflow."""

    async def no_pending_start(row: Any) -> None:  # flag=None: nothing is ever marked pending
        raise AssertionError("hardship applications start their workflow before the commit")

    return PendingStarts(rt.db, store.hardship, no_pending_start, flag=None)


async def apply_hardship(rt: FundingRuntime, principal: Principal, cmd: HardshipApply) -> uuid.UUID:
    """Flow 5: a caseworker applies for a client of their own case. The criteria of seed 000 are
    screened at once: a legal entitlement elsewhere redirects, a need caused by another authority's
    faulty action or help that undermines self-reliance is rejected; otherwise the approval workflow
    starts before the commit (idempotently), so that no decider can find a committed application
    without its workflow. If the commit fails, the workflow is terminated again; only a crash between
    the two leaves a workflow whose steps find no application and fail as NotFound)."""
    problem = period_problem(cmd.period_start, cmd.period_end, rt.settings.hardship_max_period_months)
    if problem:
        raise Invalid(problem, field="period_end")
    await _check_case(rt, principal, cmd)
    screening = screen(cmd.criteria)
    application_id = uuid.uuid4()
    year = fiscal_year(city_today())
    required = deciders_required(cmd.amount_cents, rt.settings.hardship_two_deciders_above_cents)
    telemetry.mark(case_id=cmd.case_id, application_id=application_id)
    inp = HardshipApprovalInput(application_id=application_id, tenant=rt.platform.tenant, applicant=principal.username,
                                deciders_required=required, decision_working_days=rt.settings.hardship_decision_working_days)

    async def start() -> None:
        await rt.temporal_client.start_workflow(HardshipApproval.run, inp, id=hardship_workflow_id(application_id), task_queue="funding",
                                                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)

    async def end() -> None:
        await rt.temporal_client.get_workflow_handle(hardship_workflow_id(application_id)).terminate("the application was not stored")

    eligible = screening.outcome == "eligible"
    async with _starts(rt).recording(rt.outbox.transaction, application_id, start_first=start if eligible else None, end=end) as tx:
        await _record_application(rt, tx, principal, cmd, application_id, year, required, screening, utc_now())
    return application_id


async def _record_application(rt: FundingRuntime, tx: Any, principal: Principal, cmd: HardshipApply, application_id: uuid.UUID, year: int,
                              required: int, screening: Screening, now: datetime) -> None:
    status = SCREENED[screening.outcome]
    await store.insert_hardship(tx.conn, application_id, cmd, principal.username, year, required, status.value, screening.reason,
                                screening.responsible_office, now)
    common = dict(tenant=rt.platform.tenant, correlation_id=application_id, application_id=application_id)
    await tx.emit(HardshipApplied(**common, case_id=cmd.case_id, person_id=cmd.person_id, applicant=principal.username,
                                  amount_cents=cmd.amount_cents, purpose_category=cmd.purpose_category, fiscal_year=year, deciders_required=required))
    if screening.outcome == "redirected":
        await tx.emit(HardshipRedirected(**common, case_id=cmd.case_id, responsible_office=screening.responsible_office or ""))
    elif screening.outcome == "rejected":
        await tx.emit(HardshipRejected(**common, case_id=cmd.case_id, reason=screening.reason or "other"))
    await rt.audit(tx.conn, principal, (Role.CASEWORKER,), "apply", "hardship_application", application_id)


# --- the human steps (activities of the approval workflow) ------------------------------------------------


def _refuse(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise refusal_error(refusal)


async def _already_applied(conn: Any, row: Any, inp: HardshipStepInput) -> bool:
    """A retried step that was recorded already (the activity is idempotent)."""
    cmd = inp.command
    if cmd.step == "decide":
        return await store.decision_of(conn, row.id, cmd.actor) is not None
    if cmd.step == "order_payment":
        return bool(row.payment_ordered_by == cmd.actor)
    if cmd.step == "disburse":
        return bool(row.status == HardshipStatus.DISBURSED and row.disbursed_by == cmd.actor)
    return bool(row.status == HardshipStatus.CANCELLED)


Changes = tuple[dict[str, Any], list[Any]]  # the row's new values, the events to emit


async def _decide(rt: FundingRuntime, tx: Any, row: Any, inp: HardshipStepInput, common: dict[str, Any]) -> Changes:
    """A rejection decides at once; approval needs `deciders_required` distinct approvals and then reserves
    the amount (BudgetExhausted otherwise: nothing is recorded, the application stays undecided)."""
    cmd, now = inp.command, utc_now()
    deciders = [*row.deciders, cmd.actor]
    values: dict[str, Any] = {"deciders": deciders}
    events: list[Any] = [HardshipDecisionRecorded(**common, decider=cmd.actor, decision=cmd.decision or "")]
    if cmd.decision == "reject":
        values.update(status=HardshipStatus.REJECTED.value, reason=cmd.reason or "other", decided_at=now)
        events.append(HardshipRejected(**common, case_id=row.case_id, reason=cmd.reason or "other"))
    elif 1 + await store.count_approvals(tx.conn, row.id) >= row.deciders_required:
        await ledger.reserve(tx.conn, Fund.HARDSHIP, row.fiscal_year, row.amount_cents, row.id, cmd.actor)  # BudgetExhausted: nothing recorded
        values.update(status=HardshipStatus.APPROVED.value, decided_at=now)
        events.append(HardshipApproved(**common, case_id=row.case_id, amount_cents=row.amount_cents, fiscal_year=row.fiscal_year,
                                       deciders=deciders, working_days_to_decision=inp.working_days_to_decision))
    await store.insert_decision(tx.conn, row.id, cmd.actor, cmd.decision or "", cmd.reason, now)
    if "status" in values:
        await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=cmd.actor)
    return values, events


async def _order_payment(rt: FundingRuntime, tx: Any, row: Any, inp: HardshipStepInput, common: dict[str, Any]) -> Changes:
    actor = inp.command.actor
    return {"status": HardshipStatus.PAYMENT_ORDERED.value, "payment_ordered_by": actor}, [HardshipPaymentOrdered(**common, ordered_by=actor)]


async def _disburse(rt: FundingRuntime, tx: Any, row: Any, inp: HardshipStepInput, common: dict[str, Any]) -> Changes:
    actor = inp.command.actor
    await ledger.disburse(tx.conn, Fund.HARDSHIP, row.fiscal_year, row.amount_cents, row.id, actor)
    event = HardshipDisbursed(**common, case_id=row.case_id, amount_cents=row.amount_cents, fiscal_year=row.fiscal_year, disbursed_by=actor)
    return {"status": HardshipStatus.DISBURSED.value, "disbursed_by": actor}, [event]


async def _cancel(rt: FundingRuntime, tx: Any, row: Any, inp: HardshipStepInput, common: dict[str, Any]) -> Changes:
    released = row.amount_cents if row.status != HardshipStatus.PENDING else 0
    await ledger.release(tx.conn, Fund.HARDSHIP, row.fiscal_year, released, row.id, inp.command.actor)
    await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=inp.command.actor)
    return {"status": HardshipStatus.CANCELLED.value}, [HardshipCancelled(**common, case_id=row.case_id, released_cents=released)]


STEPS = {"decide": _decide, "order_payment": _order_payment, "disburse": _disburse, "cancel": _cancel}


async def hardship_step(rt: FundingRuntime, inp: HardshipStepInput) -> HardshipState:
    """One human step on a hardship application, re-checked against the database in one transaction
    with its ledger entry and events, by the rules the API and the workflow's validator apply
    (contracts' hardship_step_refusal: four eyes, the payout by a third person; DOMAIN.md flow 5):

    - decide: never the applicant; each decider once; see `_decide`.
    - order_payment: by one of the deciders, after approval.
    - disburse: by a third person (neither applicant nor decider), after the payment order.
    - cancel: before payout; releases the reservation.

    Idempotent: a retried step that was already applied returns the current state."""
    telemetry.mark(application_id=inp.application_id)
    async with rt.outbox.transaction() as tx:
        row = await store.get_hardship(tx.conn, inp.application_id, lock=True)
        if row is None:
            raise NotFound(f"hardship application {inp.application_id} not found")
        if await _already_applied(tx.conn, row, inp):
            return hardship_state(row)
        _refuse(hardship_step_refusal(inp.command, row.applicant, hardship_state(row)))
        common = dict(tenant=inp.tenant, correlation_id=row.id, application_id=row.id)
        values, events = await STEPS[inp.command.step](rt, tx, row, inp, common)
        await store.update_hardship(tx.conn, row.id, **values)
        for event in events:
            await tx.emit(event)
        return hardship_state(await store.get_hardship(tx.conn, inp.application_id))


async def escalate_hardship(rt: FundingRuntime, inp: HardshipEscalateInput) -> None:
    """The decision was not taken within the working days set (default 5): the fund managers are alerted once."""
    telemetry.mark(application_id=inp.application_id)
    async with rt.outbox.transaction() as tx:
        row = await store.get_hardship(tx.conn, inp.application_id, lock=True)
        if row is None:
            raise NotFound(f"hardship application {inp.application_id} not found")
        if row.status != HardshipStatus.PENDING or row.escalated:
            return
        await store.update_hardship(tx.conn, row.id, escalated=True)
        await tx.emit(HardshipEscalated(tenant=inp.tenant, correlation_id=row.id, application_id=row.id, kind="decision_overdue"))
        await raise_alert(
            tx.conn, rt.tables, key=f"hardship-decision-overdue-{row.id}", kind="hardship_decision_overdue", role=Role.FUND_MANAGER.value,
            subject_type="hardship_application", subject_id=row.id,
            message=f"Härtefallantrag {row.id}: Entscheidung war bis {inp.due_on.isoformat()} fällig (eskaliert).",
            due_at=datetime.combine(inp.due_on, time(23, 59, 59), tzinfo=BERLIN),
        )
