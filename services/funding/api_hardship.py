"""Funding's HTTP API for the hardship fund (DOMAIN.md flow 5): applications, the human steps of their
approval workflow, and what caseworkers and fund managers may see."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.contracts.funding_workflows import HardshipCommand, HardshipState, hardship_workflow_id
from services.contracts.refusals import BUDGET_EXHAUSTED
from services.funding import handlers_hardship, store
from services.funding.domain import BudgetExhausted, hardship_state, hardship_step_refusal, may_see_hardship, refusal_error
from services.funding.runtime import FundingRuntime, FundingRuntimeDep
from services.funding.schemas import HardshipApply, HardshipDecide, HardshipFull, HardshipList, HardshipSummary
from services.kit.auth import Principal, Role, require
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.workflows import REFUSAL_ERRORS, run_update
from workflows.hardship_approval import HardshipApproval

hardship_router = APIRouter(tags=["hardship fund"], prefix="/hardship")
MANAGER = Annotated[Principal, Depends(require(Role.FUND_MANAGER))]

#: A refused update's type → the error the API answers with (the kit's, and funding's BudgetExhausted).
ERRORS = {**REFUSAL_ERRORS, BUDGET_EXHAUSTED: BudgetExhausted}
NOT_RUNNING = Conflict("the workflow of this record is no longer open")
UPDATES = {"decide": HardshipApproval.decide, "order_payment": HardshipApproval.order_payment, "disburse": HardshipApproval.disburse,
           "cancel": HardshipApproval.cancel}


def _summary(row: Any) -> HardshipSummary:
    return HardshipSummary(
        application_id=row.id, case_id=row.case_id, amount_cents=row.amount_cents, purpose_category=row.purpose_category, criteria=row.criteria,
        period_start=row.period_start, period_end=row.period_end, fiscal_year=row.fiscal_year, deciders_required=row.deciders_required,
        deciders=row.deciders, status=row.status, reason=row.reason, responsible_office=row.responsible_office, escalated=row.escalated,
    )


def _full(row: Any) -> HardshipFull:
    return HardshipFull(
        **_summary(row).model_dump(), person_id=row.person_id, applicant=row.applicant, purpose=row.purpose, justification=row.justification,
        payment_ordered_by=row.payment_ordered_by, disbursed_by=row.disbursed_by,
    )


@hardship_router.post("/applications", status_code=201, response_model=HardshipFull, summary="Apply for a client of one's own case")
async def apply_hardship(body: HardshipApply, rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(Role.CASEWORKER))]) -> HardshipFull:
    application_id = await handlers_hardship.apply_hardship(rt, principal, body)
    return _full(await _load(rt, application_id))


@hardship_router.get("/applications", response_model=HardshipList,
                     summary="The applications of one's own cases (caseworkers) or all, pseudonymised (fund managers); optionally of one case")
async def list_hardship(
    rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(Role.CASEWORKER, Role.FUND_MANAGER))],
    status: Annotated[str | None, Query(max_length=30)] = None,
    case_id: Annotated[uuid.UUID | None, Query(description="Only the applications of this case.")] = None,
) -> HardshipList:
    visible_to = None if principal.has(Role.FUND_MANAGER.value) else principal.username
    async with rt.db.read() as conn:
        rows = await store.list_hardship(conn, visible_to=visible_to, status=status, case_id=case_id)
    return HardshipList(applications=[_summary(r) for r in rows])


async def _load(rt: FundingRuntime, application_id: uuid.UUID) -> Any:
    async with rt.db.read() as conn:
        row = await store.get_hardship(conn, application_id)
    if row is None:
        raise NotFound(f"hardship application {application_id} not found")
    return row


async def _load_visible(rt: FundingRuntime, principal: Principal, application_id: uuid.UUID) -> Any:
    row = await _load(rt, application_id)
    if not principal.has(Role.FUND_MANAGER.value):
        async with rt.db.read() as conn:
            case_caseworker = await store.case_caseworker(conn, row.case_id)
        if not may_see_hardship(principal.username, row.applicant, case_caseworker):
            raise Forbidden("caseworkers see the applications of their own cases")
    return row


@hardship_router.get("/applications/{id}", response_model=HardshipSummary,
                     summary="An application, pseudonymised (case id, amount, purpose category, criteria)")
async def get_hardship(id: uuid.UUID, rt: FundingRuntimeDep,
                       principal: Annotated[Principal, Depends(require(Role.CASEWORKER, Role.FUND_MANAGER))]) -> HardshipSummary:
    return _summary(await _load_visible(rt, principal, id))


@hardship_router.get("/applications/{id}/full", response_model=HardshipFull, summary="The full record with purpose and justification (audit-logged)")
async def get_hardship_full(id: uuid.UUID, rt: FundingRuntimeDep,
                            principal: Annotated[Principal, Depends(require(Role.CASEWORKER, Role.FUND_MANAGER))]) -> HardshipFull:
    row = await _load_visible(rt, principal, id)
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, (Role.FUND_MANAGER, Role.CASEWORKER), "read_full", "hardship_application", id)
    return _full(row)


async def _step(rt: FundingRuntime, principal: Principal, id: uuid.UUID, cmd: HardshipCommand, roles: tuple[Role, ...], row: Any = None) -> HardshipState:
    """Checks the step's rules against the stored record (contracts' hardship_step_refusal, the same the
    workflow's validator and the activity apply), sends it to the workflow and audit-logs it."""
    row = row if row is not None else await _load(rt, id)
    refusal = hardship_step_refusal(cmd, row.applicant, hardship_state(row))
    if refusal is not None:
        raise refusal_error(refusal)
    state: HardshipState = await run_update(rt.temporal_client, hardship_workflow_id(id), UPDATES[cmd.step], cmd, not_running=NOT_RUNNING,
                                            errors=ERRORS, fallback="the step was refused")
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, roles, cmd.step, "hardship_application", id)
    return state


@hardship_router.post("/applications/{id}/decisions", response_model=HardshipState, summary="Approve or reject (fund managers; never one's own application)")
async def decide(id: uuid.UUID, body: HardshipDecide, rt: FundingRuntimeDep, principal: MANAGER) -> HardshipState:
    if body.decision == "reject" and body.reason is None:
        raise Invalid("a rejection needs a reason", field="reason")
    cmd = HardshipCommand(actor=principal.username, step="decide", decision=body.decision, reason=body.reason)
    return await _step(rt, principal, id, cmd, (Role.FUND_MANAGER,))


@hardship_router.post("/applications/{id}/payment-order", response_model=HardshipState, summary="Order the payment (one of the deciders)")
async def order_payment(id: uuid.UUID, rt: FundingRuntimeDep, principal: MANAGER) -> HardshipState:
    return await _step(rt, principal, id, HardshipCommand(actor=principal.username, step="order_payment"), (Role.FUND_MANAGER,))


@hardship_router.post("/applications/{id}/payout", response_model=HardshipState, summary="Record the payout (a third person: neither applicant nor decider)")
async def payout(id: uuid.UUID, rt: FundingRuntimeDep,
                 principal: Annotated[Principal, Depends(require(Role.PAYMENT_OFFICER, Role.FUND_MANAGER))]) -> HardshipState:
    cmd = HardshipCommand(actor=principal.username, step="disburse")
    return await _step(rt, principal, id, cmd, (Role.PAYMENT_OFFICER, Role.FUND_MANAGER))


@hardship_router.post("/applications/{id}/cancel", response_model=HardshipState, summary="Cancel before payout (releases the reservation)")
async def cancel(id: uuid.UUID, rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(Role.CASEWORKER, Role.FUND_MANAGER))]) -> HardshipState:
    row = await _load(rt, id)
    if not principal.has(Role.FUND_MANAGER.value) and row.applicant != principal.username:
        raise Forbidden("only the applicant or a fund manager cancels an application")
    return await _step(rt, principal, id, HardshipCommand(actor=principal.username, step="cancel"), (Role.FUND_MANAGER, Role.CASEWORKER), row)
