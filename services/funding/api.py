"""Funding's HTTP API: budgets and the ledger, the hardship fund, the discretionary fund."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Path, Query, UploadFile
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.contracts.funding_workflows import (
    CloseMeetingCommand,
    HardshipCommand,
    HardshipState,
    MeetingOutcome,
    PresenceCommand,
    ProofRecorded,
    ProofReviewCommand,
    ProofState,
    ProofSubmission,
    ReclaimCommand,
    RoundState,
    VoteCommand,
    fund_round_workflow_id,
    hardship_workflow_id,
    proof_of_use_workflow_id,
)
from services.funding import handlers, ledger, store
from services.funding.domain import (
    Balance,
    BudgetExhausted,
    BudgetOut,
    CreateRound,
    DrawdownOut,
    DrawdownRequest,
    Fund,
    HardshipApply,
    HardshipDecide,
    HardshipFull,
    HardshipSummary,
    MeasureApply,
    MeasureOut,
    MeasureStatus,
    Presence,
    ProofReview,
    ProofSubmit,
    ReceiptOut,
    Reconciliation,
    SetBudget,
    Vote,
    YearStatement,
    drawdowns_allowed,
    fiscal_year,
    hardship_state,
    hardship_step_refusal,
    may_see_hardship,
    refusal_error,
)
from services.kit.auth import Principal, Role, require
from services.kit.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from services.kit.service import Runtime, RuntimeDep

router = APIRouter(tags=["budgets"])
hardship_router = APIRouter(tags=["hardship fund"], prefix="/hardship")
measures_router = APIRouter(tags=["discretionary fund"])
READ = (Role.FUND_MANAGER, Role.STEERING_MEMBER, Role.REPORTING_OFFICER, Role.CASEWORKER)
MANAGER = Annotated[Principal, Depends(require(Role.FUND_MANAGER))]

_ERRORS: dict[str, type[DomainError]] = {
    "Conflict": Conflict, "BudgetExhausted": BudgetExhausted, "Forbidden": Forbidden, "Invalid": Invalid, "NotFound": NotFound,
}


async def run_update(rt: Runtime, workflow_id: str, update: str, arg: Any, result_type: type) -> Any:
    """Runs a workflow update and renders a refusal (validator or activity) as the domain error it names."""
    assert rt.temporal is not None
    try:
        return await rt.temporal.get_workflow_handle(workflow_id).execute_update(update, arg, result_type=result_type)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise _ERRORS.get(cause.type or "", Conflict)(cause.message) from None
        raise Conflict("the step was refused") from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise Conflict("the workflow of this record is no longer open") from None
        raise


# --- budgets and ledger -------------------------------------------------------------------------


@router.get("/budgets/{fund}", response_model=BudgetOut, summary="A fund's budget for the current fiscal year")
async def current_budget(fund: Fund, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*READ))]) -> BudgetOut:
    return await budget(fund, fiscal_year(date.today()), rt, principal)


@router.get("/budgets/{fund}/{year}", response_model=BudgetOut, summary="A fund's budget for a fiscal year")
async def budget(fund: Fund, year: int, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*READ))]) -> BudgetOut:
    b = store.budgets
    async with rt.db.read() as conn:
        row = (await conn.execute(sa.select(b).where(b.c.fund == fund.value, b.c.fiscal_year == year))).first()
    if row is None:
        raise NotFound(f"no budget for fund {fund.value} in {year}")
    return BudgetOut(fund=Fund(row.fund), fiscal_year=row.fiscal_year, amount_cents=row.amount_cents)


@router.put("/budgets/{fund}/{year}", response_model=Balance, summary="Set a fiscal year's budget (never below what is committed)")
async def set_budget(fund: Fund, year: int, body: SetBudget, rt: RuntimeDep, principal: MANAGER) -> Balance:
    from services.contracts.funding import BudgetSet

    async with rt.outbox.transaction() as tx:
        await ledger.set_budget(tx.conn, fund, year, body.amount_cents, principal.username)
        await tx.emit(BudgetSet(tenant=rt.platform.tenant, correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{fund.value}/{year}"),
                                fund=fund.value, fiscal_year=year, amount_cents=body.amount_cents, set_by=principal.username))
        return await ledger.balance(tx.conn, fund, year)


@router.get("/budgets/{fund}/{year}/balance", response_model=Balance, summary="Approved, reserved, paid, returned and available money, from the ledger")
async def balance(fund: Fund, year: int, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*READ))]) -> Balance:
    async with rt.db.read() as conn:
        return await ledger.balance(conn, fund, year)


@router.get("/budgets/{fund}/{year}/reconciliation", response_model=Reconciliation, summary="Recompute the balance from the ledger and compare")
async def reconciliation(fund: Fund, year: int, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FUND_MANAGER, Role.OPERATOR))]) -> Reconciliation:
    async with rt.db.read() as conn:
        return await ledger.reconcile(conn, fund, year)


@router.post("/budgets/{fund}/{year}/close", response_model=YearStatement, summary="Close the fund's year with a statement")
async def close_year(fund: Fund, year: int, rt: RuntimeDep, principal: MANAGER) -> YearStatement:
    return await handlers.close_year(rt, principal, fund, year)


# --- hardship fund ------------------------------------------------------------------------------


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


class HardshipList(BaseModel):
    applications: list[HardshipSummary]


@hardship_router.post("/applications", status_code=201, response_model=HardshipFull, summary="Apply for a client of one's own case")
async def apply_hardship(body: HardshipApply, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.CASEWORKER))]) -> HardshipFull:
    application_id = await handlers.apply_hardship(rt, principal, body)
    async with rt.db.read() as conn:
        return _full(await store.get_hardship(conn, application_id))


@hardship_router.get("/applications", response_model=HardshipList,
                     summary="The applications of one's own cases (caseworkers) or all, pseudonymised (fund managers); optionally of one case")
async def list_hardship(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.CASEWORKER, Role.FUND_MANAGER))],
    status: Annotated[str | None, Query(max_length=30)] = None,
    case_id: Annotated[uuid.UUID | None, Query(description="Only the applications of this case.")] = None,
) -> HardshipList:
    visible_to = None if principal.has(Role.FUND_MANAGER.value) else principal.username
    async with rt.db.read() as conn:
        rows = await store.list_hardship(conn, visible_to=visible_to, status=status, case_id=case_id)
    return HardshipList(applications=[_summary(r) for r in rows])


async def _load(rt: Runtime, application_id: uuid.UUID) -> Any:
    async with rt.db.read() as conn:
        row = await store.get_hardship(conn, application_id)
    if row is None:
        raise NotFound(f"hardship application {application_id} not found")
    return row


async def _load_visible(rt: Runtime, principal: Principal, application_id: uuid.UUID) -> Any:
    row = await _load(rt, application_id)
    if not principal.has(Role.FUND_MANAGER.value):
        async with rt.db.read() as conn:
            case_caseworker = await store.case_caseworker(conn, row.case_id)
        if not may_see_hardship(principal.username, row.applicant, case_caseworker):
            raise Forbidden("caseworkers see the applications of their own cases")
    return row


@hardship_router.get("/applications/{id}", response_model=HardshipSummary, summary="An application, pseudonymised (case id, amount, purpose category, criteria)")
async def get_hardship(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.CASEWORKER, Role.FUND_MANAGER))]) -> HardshipSummary:
    return _summary(await _load_visible(rt, principal, id))


@hardship_router.get("/applications/{id}/full", response_model=HardshipFull, summary="The full record with purpose and justification (audit-logged)")
async def get_hardship_full(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.CASEWORKER, Role.FUND_MANAGER))]) -> HardshipFull:
    row = await _load_visible(rt, principal, id)
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, (Role.FUND_MANAGER, Role.CASEWORKER), "read_full", "hardship_application", id)
    return _full(row)


async def _step(rt: Runtime, principal: Principal, id: uuid.UUID, cmd: HardshipCommand, roles: tuple[Role, ...], row: Any = None) -> HardshipState:
    """Checks the step's rules against the stored record (contracts' hardship_step_refusal, the same the
    workflow's validator and the activity apply), sends it to the workflow and audit-logs it."""
    row = row if row is not None else await _load(rt, id)
    refusal = hardship_step_refusal(cmd, row.applicant, hardship_state(row))
    if refusal is not None:
        raise refusal_error(refusal)
    state = await run_update(rt, hardship_workflow_id(id), cmd.step, cmd, HardshipState)
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, roles, cmd.step, "hardship_application", id)
    return state


@hardship_router.post("/applications/{id}/decisions", response_model=HardshipState, summary="Approve or reject (fund managers; never one's own application)")
async def decide(id: uuid.UUID, body: HardshipDecide, rt: RuntimeDep, principal: MANAGER) -> HardshipState:
    if body.decision == "reject" and body.reason is None:
        raise Invalid("a rejection needs a reason", field="reason")
    cmd = HardshipCommand(actor=principal.username, step="decide", decision=body.decision, reason=body.reason)
    return await _step(rt, principal, id, cmd, (Role.FUND_MANAGER,))


@hardship_router.post("/applications/{id}/payment-order", response_model=HardshipState, summary="Order the payment (one of the deciders)")
async def order_payment(id: uuid.UUID, rt: RuntimeDep, principal: MANAGER) -> HardshipState:
    return await _step(rt, principal, id, HardshipCommand(actor=principal.username, step="order_payment"), (Role.FUND_MANAGER,))


@hardship_router.post("/applications/{id}/payout", response_model=HardshipState, summary="Record the payout (a third person: neither applicant nor decider)")
async def payout(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.PAYMENT_OFFICER, Role.FUND_MANAGER))]) -> HardshipState:
    cmd = HardshipCommand(actor=principal.username, step="disburse")
    return await _step(rt, principal, id, cmd, (Role.PAYMENT_OFFICER, Role.FUND_MANAGER))


@hardship_router.post("/applications/{id}/cancel", response_model=HardshipState, summary="Cancel before payout (releases the reservation)")
async def cancel(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.CASEWORKER, Role.FUND_MANAGER))]) -> HardshipState:
    row = await _load(rt, id)
    if not principal.has(Role.FUND_MANAGER.value) and row.applicant != principal.username:
        raise Forbidden("only the applicant or a fund manager cancels an application")
    return await _step(rt, principal, id, HardshipCommand(actor=principal.username, step="cancel"), (Role.FUND_MANAGER, Role.CASEWORKER), row)


# --- payments (the payment officer's work list) ------------------------------------------------


class PaymentItem(BaseModel):
    """A payout to record, or one recorded: hardship grants whose payment was ordered (pseudonymised:
    the case id, never the person) and approved measures of the discretionary fund."""

    kind: Literal["hardship", "measure", "drawdown"]
    application_id: uuid.UUID
    drawdown_id: uuid.UUID | None = None
    fund: Fund
    fiscal_year: int
    amount_cents: int
    case_id: uuid.UUID | None = None
    title: str | None = None
    provider: str | None = None
    ordered_by: str | None = None
    paid_by: str | None = None
    paid_at: datetime | None = None


class PaymentList(BaseModel):
    state: Literal["open", "done"]
    payments: list[PaymentItem]


@router.get("/payments", response_model=PaymentList, summary="Payouts to record (open) or recorded (done), both funds")
async def payments(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.PAYMENT_OFFICER, Role.FUND_MANAGER))],
    state: Annotated[Literal["open", "done"], Query(description="open: ordered, not yet paid out; done: paid out (newest first)")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> PaymentList:
    h, m, led = store.hardship, store.measures, store.ledger
    paid = (
        sa.select(led.c.application_id, sa.func.max(led.c.at).label("at"), sa.func.max(led.c.recorded_by).label("by"))
        .where(led.c.kind == "disbursement").group_by(led.c.application_id).subquery()
    )
    hq = sa.select(h, paid.c.at.label("paid_at"), paid.c.by.label("paid_by")).outerjoin(paid, paid.c.application_id == h.c.id)
    mq = sa.select(m, paid.c.at.label("paid_at"), paid.c.by.label("paid_by")).outerjoin(paid, paid.c.application_id == m.c.id)
    if state == "open":
        hq = hq.where(h.c.status == "payment_ordered").order_by(h.c.decided_at)
        mq = mq.where(m.c.status == MeasureStatus.APPROVED.value, m.c.drawdowns_requested.is_(False)).order_by(m.c.applied_at)
    else:
        hq = hq.where(h.c.status == "disbursed").order_by(paid.c.at.desc()).limit(limit)
        mq = mq.where(m.c.drawdowns_requested.is_(False), m.c.status.in_([
            MeasureStatus.PAID.value, MeasureStatus.PROOF_RECEIVED.value, MeasureStatus.PROOF_SUBMITTED.value, MeasureStatus.REWORK_REQUESTED.value,
            MeasureStatus.PROOF_ACCEPTED.value, MeasureStatus.SETTLED.value])).order_by(paid.c.at.desc()).limit(limit)
    async with rt.db.read() as conn:
        items = [
            PaymentItem(kind="hardship", application_id=r.id, fund=Fund.HARDSHIP, fiscal_year=r.fiscal_year, amount_cents=r.amount_cents,
                        case_id=r.case_id, ordered_by=r.payment_ordered_by, paid_by=r.disbursed_by or r.paid_by, paid_at=r.paid_at)
            for r in (await conn.execute(hq)).all()
        ] + [
            PaymentItem(kind="measure", application_id=r.id, fund=Fund.DISCRETIONARY, fiscal_year=r.fiscal_year, amount_cents=r.amount_cents,
                        title=r.title, provider=r.provider, paid_by=r.paid_by, paid_at=r.paid_at)
            for r in (await conn.execute(mq)).all()
        ] + [
            PaymentItem(kind="drawdown", application_id=r.application_id, drawdown_id=r.id, fund=Fund.DISCRETIONARY, fiscal_year=r.fiscal_year,
                        amount_cents=r.amount_cents, title=r.title, provider=r.provider, paid_by=r.paid_by, paid_at=r.paid_at)
            for r in (await store.open_drawdowns(conn) if state == "open" else await store.paid_drawdowns(conn, limit))
        ]
    if state == "done":
        items = sorted(items, key=lambda i: i.paid_at or datetime.min.replace(tzinfo=UTC), reverse=True)[:limit]
    return PaymentList(state=state, payments=items)


# --- discretionary fund -------------------------------------------------------------------------

DECIDERS = (Role.FUND_MANAGER, Role.STEERING_MEMBER)
STAFF_READERS = (*DECIDERS, Role.PAYMENT_OFFICER)  # staff who see any measure application (the payment officer pays them out)


def _measure(row: Any) -> MeasureOut:
    return MeasureOut(
        application_id=row.id, applicant=row.applicant, title=row.title, provider=row.provider, organisation_kind=row.organisation_kind,
        fields_of_action=row.fields_of_action, target_group=row.target_group, period_start=row.period_start, period_end=row.period_end,
        amount_cents=row.amount_cents, flagged_over_limit=row.flagged_over_limit, fiscal_year=row.fiscal_year, status=row.status,
        round_id=row.round_id, meeting_no=row.meeting_no, paid_cents=row.paid_cents, proof_due_on=row.proof_due_on,
        spent_cents=row.spent_cents, returned_cents=row.returned_cents, receipts=row.receipts,
        area=row.area, drawdowns_allowed=drawdowns_allowed(bool(row.drawdowns_requested), row.status),
        proof_version=row.proof_version, rework_reason=row.rework_reason, released_cents=row.released_cents,
    )


class MeasureList(BaseModel):
    applications: list[MeasureOut]


class MeasureFull(MeasureOut):
    """One application with its budget lines, guidelines, contact and the proof of use under review."""

    budget_lines: list[dict[str, Any]]
    guidelines: dict[str, Any]
    over_limit_justification: str | None
    proof_items: list[dict[str, Any]] | None
    proof_report: str | None
    reviewed_by: str | None
    receipts_list: list[ReceiptOut]
    drawdowns: list[DrawdownOut]


@measures_router.post("/measures", status_code=201, response_model=MeasureOut, summary="Apply for a measure from the discretionary fund")
async def apply_measure(body: MeasureApply, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, Role.FUND_MANAGER))]) -> MeasureOut:
    application_id = await handlers.apply_measure(rt, principal, body)
    async with rt.db.read() as conn:
        return _measure(await store.get_measure(conn, application_id))


@measures_router.get("/measures", response_model=MeasureList, summary="Own applications (organisations) or all (fund managers, steering group)")
async def list_measures(rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, *DECIDERS))]) -> MeasureList:
    own = None if principal.has(*(r.value for r in DECIDERS)) else principal.username
    async with rt.db.read() as conn:
        return MeasureList(applications=[_measure(r) for r in await store.list_measures(conn, own)])


async def _load_measure(rt: Runtime, principal: Principal, application_id: uuid.UUID) -> Any:
    async with rt.db.read() as conn:
        row = await store.get_measure(conn, application_id)
    if row is None:
        raise NotFound(f"application {application_id} not found")
    if not principal.has(*(r.value for r in STAFF_READERS)) and row.applicant != principal.username:
        raise Forbidden("organisations see their own applications")
    return row


def _receipt(r: Any) -> ReceiptOut:
    return ReceiptOut(receipt_id=r.id, application_id=r.application_id, filename=r.filename, media_type=r.media_type,
                      size_bytes=r.size_bytes, sha256=r.sha256, proof_version=r.proof_version)


def _drawdown(d: Any) -> DrawdownOut:
    return DrawdownOut(drawdown_id=d.id, application_id=d.application_id, amount_cents=d.amount_cents, status=d.status,
                       requested_by=d.requested_by, paid_by=d.paid_by)


@measures_router.get("/measures/{id}", response_model=MeasureFull, summary="One application with its proof of use (the contact is audit-logged)")
async def get_measure(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, *STAFF_READERS))]) -> MeasureFull:
    row = await _load_measure(rt, principal, id)
    async with rt.db.read() as conn:
        receipts = await store.receipts_of(conn, id)
        draws = await store.drawdowns_of(conn, id)
    contact = row.contact_email if principal.has(Role.FUND_MANAGER.value) or row.applicant == principal.username else None
    if contact:
        async with rt.db.begin() as conn:
            await rt.audit(conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "read_contact", "measure_application", id)
    return MeasureFull(
        **_measure(row).model_dump(exclude={"contact_email"}), contact_email=contact, budget_lines=row.budget_lines, guidelines=row.guidelines,
        over_limit_justification=row.over_limit_justification, proof_items=row.proof_items, proof_report=row.proof_report,
        reviewed_by=row.reviewed_by, receipts_list=[_receipt(r) for r in receipts], drawdowns=[_drawdown(d) for d in draws],
    )


@measures_router.post("/measures/{id}/payout", response_model=MeasureOut, summary="Pay out an approved measure at once")
async def pay_measure(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FUND_MANAGER, Role.PAYMENT_OFFICER))]) -> MeasureOut:
    await handlers.pay_measure(rt, principal, id)
    return _measure(await _load_measure(rt, principal, id))


APPLICANT = Annotated[Principal, Depends(require(Role.FUND_APPLICANT))]


@measures_router.post("/measures/{id}/drawdowns", status_code=201, response_model=DrawdownOut,
                      summary="Request a partial payout (Mittelabruf) where the decision allows drawdowns")
async def request_drawdown(id: uuid.UUID, body: DrawdownRequest, rt: RuntimeDep, principal: APPLICANT) -> DrawdownOut:
    drawdown_id = await handlers.request_drawdown(rt, principal, id, body)
    async with rt.db.read() as conn:
        return _drawdown(await store.get_drawdown(conn, id, drawdown_id))


@measures_router.post("/measures/{id}/drawdowns/{drawdown_id}/payout", response_model=DrawdownOut, summary="Pay out a requested drawdown")
async def pay_drawdown(id: uuid.UUID, drawdown_id: uuid.UUID, rt: RuntimeDep,
                       principal: Annotated[Principal, Depends(require(Role.PAYMENT_OFFICER, Role.FUND_MANAGER))]) -> DrawdownOut:
    await handlers.pay_drawdown(rt, principal, id, drawdown_id)
    async with rt.db.read() as conn:
        return _drawdown(await store.get_drawdown(conn, id, drawdown_id))


@measures_router.post("/measures/{id}/receipts", status_code=201, response_model=ReceiptOut,
                      summary="Upload a receipt (PDF, PNG or JPEG by content; size-limited) for the proof of use")
async def upload_receipt(id: uuid.UUID, rt: RuntimeDep, principal: APPLICANT, file: Annotated[UploadFile, File(description="PDF, PNG or JPEG")]) -> ReceiptOut:
    data = await file.read(rt.settings.receipt_max_bytes + 1)  # never more than one byte over the limit into memory
    return _receipt(await handlers.upload_receipt(rt, principal, id, file.filename, data))


@measures_router.get("/measures/{id}/receipts/{receipt_id}", summary="Download a receipt (audit-logged)", response_class=Response)
async def download_receipt(id: uuid.UUID, receipt_id: uuid.UUID, rt: RuntimeDep,
                           principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, Role.FUND_MANAGER))]) -> Response:
    await _load_measure(rt, principal, id)
    async with rt.db.read() as conn:
        r = await store.get_receipt(conn, id, receipt_id)
    if r is None:
        raise NotFound(f"receipt {receipt_id} not found")
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "read_receipt", "measure_receipt", receipt_id)
    ext = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}[r.media_type]
    return Response(r.content, media_type=r.media_type, headers={
        "Content-Disposition": f'attachment; filename="beleg-{receipt_id.hex[:8]}.{ext}"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


@measures_router.post("/measures/{id}/proof-of-use", response_model=ProofRecorded,
                      summary="Submit the proof of use (Verwendungsnachweis): itemised spending and uploaded receipts")
async def proof_of_use(id: uuid.UUID, body: ProofSubmit, rt: RuntimeDep, principal: APPLICANT) -> ProofRecorded:
    version, spent, receipts = await handlers.prepare_proof(rt, principal, id, body)
    return await run_update(rt, proof_of_use_workflow_id(id), "submit",
                            ProofSubmission(submitted_by=principal.username, spent_cents=spent, receipts=receipts, version=version), ProofRecorded)


@measures_router.post("/measures/{id}/proof-of-use/review", response_model=ProofState,
                      summary="Accept the proof of use or ask for rework with a reason (fund managers)")
async def review_proof(id: uuid.UUID, body: ProofReview, rt: RuntimeDep, principal: MANAGER) -> ProofState:
    version = await handlers.prepare_review(rt, principal, id, body)
    return await run_update(rt, proof_of_use_workflow_id(id), "review",
                            ProofReviewCommand(actor=principal.username, decision=body.decision, version=version), ProofState)


@measures_router.post("/measures/{id}/proof-of-use/reclaim", response_model=ProofState,
                      summary="Reclaim the unspent and undrawn money to the fiscal-year budget (once, after acceptance)")
async def reclaim(id: uuid.UUID, rt: RuntimeDep, principal: MANAGER) -> ProofState:
    await _load_measure(rt, principal, id)
    state = await run_update(rt, proof_of_use_workflow_id(id), "reclaim", ReclaimCommand(actor=principal.username), ProofState)
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, (Role.FUND_MANAGER,), "reclaim", "measure_application", id)
    return state


class MailOut(BaseModel):
    kind: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int


@measures_router.get("/measures/{id}/mails", response_model=list[MailOut], summary="E-mails to the organisation about this application (no addresses)")
async def measure_mails(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, Role.FUND_MANAGER))]) -> list[MailOut]:
    await _load_measure(rt, principal, id)
    async with rt.db.read() as conn:
        return [MailOut(kind=r.kind, created_at=r.created_at, sent_at=r.sent_at, attempts=r.attempts) for r in await store.mails_of(conn, id)]


class RoundCreated(BaseModel):
    round_id: uuid.UUID


@measures_router.post("/rounds", status_code=201, response_model=RoundCreated, summary="Collect applications for a steering-group meeting")
async def create_round(body: CreateRound, rt: RuntimeDep, principal: MANAGER) -> RoundCreated:
    return RoundCreated(round_id=await handlers.create_round(rt, principal, body))


STEERING = Annotated[Principal, Depends(require(Role.STEERING_MEMBER))]


@measures_router.post("/rounds/{id}/presence", response_model=RoundState, summary="Register presence and conflicts of interest at the current meeting")
async def register_presence(id: uuid.UUID, body: Presence, rt: RuntimeDep, principal: STEERING) -> RoundState:
    return await run_update(rt, fund_round_workflow_id(id), "register_presence", PresenceCommand(member=principal.username, conflicts=body.conflicts), RoundState)


@measures_router.post("/rounds/{id}/votes", response_model=RoundState, summary="Vote on an application")
async def vote(id: uuid.UUID, body: Vote, rt: RuntimeDep, principal: STEERING) -> RoundState:
    return await run_update(rt, fund_round_workflow_id(id), "vote", VoteCommand(member=principal.username, application_id=body.application_id, vote=body.vote), RoundState)


@measures_router.post("/rounds/{id}/close-meeting", response_model=MeetingOutcome, summary="Close the current meeting (quorum, decisions, minutes)")
async def close_meeting(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FUND_MANAGER, Role.STEERING_MEMBER))]) -> MeetingOutcome:
    return await run_update(rt, fund_round_workflow_id(id), "close_meeting", CloseMeetingCommand(by=principal.username), MeetingOutcome)


@measures_router.get("/rounds/{id}/minutes/{meeting_no}", summary="Minutes of a meeting (JSON, or German text with format=text)", response_model=None)
async def get_minutes(
    id: uuid.UUID, meeting_no: int, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*DECIDERS))],
    format: Literal["json", "text"] = "json",
) -> Any:
    t = store.minutes
    async with rt.db.read() as conn:
        row = (await conn.execute(sa.select(t).where(t.c.round_id == id, t.c.meeting_no == meeting_no))).first()
    if row is None:
        raise NotFound(f"no minutes for meeting {meeting_no} of round {id}")
    return PlainTextResponse(row.text) if format == "text" else row.document


class Member(BaseModel):
    username: str
    active: bool


class MemberChange(BaseModel):
    active: bool


@measures_router.get("/steering-members", response_model=list[Member], summary="The steering group's member register")
async def steering_members(rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*DECIDERS))]) -> list[Member]:
    t = store.steering_members
    async with rt.db.read() as conn:
        return [Member(username=r.username, active=r.active) for r in (await conn.execute(sa.select(t).order_by(t.c.username))).all()]


@measures_router.put("/steering-members/{username}", response_model=Member, summary="Add a member or change whether they are active (fund managers)")
async def set_steering_member(
    username: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@-]+$")], body: MemberChange, rt: RuntimeDep, principal: MANAGER,
) -> Member:
    """Rounds started afterwards use the new register (quorum = half of the active members)."""
    from services.kit.db import upsert, utc_now

    async with rt.db.begin() as conn:
        await upsert(conn, store.steering_members, {"username": username, "active": body.active, "since": utc_now()}, keys=["username"])
        await rt.audit(conn, principal, (Role.FUND_MANAGER,), "set_member", "steering_member", username)
    return Member(username=username, active=body.active)
