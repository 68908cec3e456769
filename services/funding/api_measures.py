"""Funding's HTTP API for the discretionary fund (DOMAIN.md flow 6, seed 002 §2 and §5): applications,
payouts and drawdowns, receipts and the proof of use, the steering group's rounds, minutes and register."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Path, UploadFile
from fastapi.responses import PlainTextResponse, Response

from services.contracts.funding_workflows import (
    CloseMeetingCommand,
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
    proof_of_use_workflow_id,
)
from services.contracts.refusals import BUDGET_EXHAUSTED
from services.funding import handlers_measures, handlers_proof, store, store_mail, store_measures
from services.funding.domain import BudgetExhausted, drawdowns_allowed
from services.funding.runtime import FundingRuntime, FundingRuntimeDep
from services.funding.schemas import (
    CreateRound,
    DrawdownOut,
    DrawdownRequest,
    MailOut,
    MeasureApply,
    MeasureFull,
    MeasureList,
    MeasureOut,
    Member,
    MemberChange,
    Presence,
    ProofReview,
    ProofSubmit,
    ReceiptOut,
    RoundCreated,
    Vote,
)
from services.kit.auth import Principal, Role, require
from services.kit.db import utc_now
from services.kit.errors import Conflict, ErrorBody, Forbidden, NotFound
from services.kit.params import Number
from services.kit.workflows import REFUSAL_ERRORS, run_update
from workflows.fund_round import FundRound
from workflows.proof_of_use import ProofOfUse

measures_router = APIRouter(tags=["discretionary fund"])
DECIDERS = (Role.FUND_MANAGER, Role.STEERING_MEMBER)
STAFF_READERS = (*DECIDERS, Role.PAYMENT_OFFICER)  # staff who see any measure application (the payment officer pays them out)
MANAGER = Annotated[Principal, Depends(require(Role.FUND_MANAGER))]
APPLICANT = Annotated[Principal, Depends(require(Role.FUND_APPLICANT))]
STEERING = Annotated[Principal, Depends(require(Role.STEERING_MEMBER))]
ERRORS = {**REFUSAL_ERRORS, BUDGET_EXHAUSTED: BudgetExhausted}


async def _update(rt: FundingRuntime, workflow_id: str, update: Any, arg: Any) -> Any:
    """A human step sent to the round's or the proof of use's workflow; a refusal is the error of its type."""
    return await run_update(rt.temporal_client, workflow_id, update, arg, errors=ERRORS, fallback="the step was refused",
                            not_running=Conflict("the workflow of this record is no longer open"))


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


@measures_router.post("/measures", status_code=201, response_model=MeasureOut, summary="Apply for a measure from the discretionary fund")
async def apply_measure(body: MeasureApply, rt: FundingRuntimeDep,
                        principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, Role.FUND_MANAGER))]) -> MeasureOut:
    application_id = await handlers_measures.apply_measure(rt, principal, body)
    async with rt.db.read() as conn:
        return _measure(await store_measures.get_measure(conn, application_id))


@measures_router.get("/measures", response_model=MeasureList, summary="Own applications (organisations) or all (fund managers, steering group)")
async def list_measures(rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, *DECIDERS))]) -> MeasureList:
    own = None if principal.has(*(r.value for r in DECIDERS)) else principal.username
    async with rt.db.read() as conn:
        return MeasureList(applications=[_measure(r) for r in await store_measures.list_measures(conn, own)])


async def _load_measure(rt: FundingRuntime, principal: Principal, application_id: uuid.UUID) -> Any:
    async with rt.db.read() as conn:
        row = await store_measures.get_measure(conn, application_id)
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
async def get_measure(id: uuid.UUID, rt: FundingRuntimeDep,
                      principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, *STAFF_READERS))]) -> MeasureFull:
    row = await _load_measure(rt, principal, id)
    async with rt.db.read() as conn:
        receipts = await store_measures.receipts_of(conn, id)
        draws = await store_measures.drawdowns_of(conn, id)
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
async def pay_measure(id: uuid.UUID, rt: FundingRuntimeDep,
                      principal: Annotated[Principal, Depends(require(Role.FUND_MANAGER, Role.PAYMENT_OFFICER))]) -> MeasureOut:
    await handlers_measures.pay_measure(rt, principal, id)
    return _measure(await _load_measure(rt, principal, id))


@measures_router.post("/measures/{id}/drawdowns", status_code=201, response_model=DrawdownOut,
                      summary="Request a partial payout (Mittelabruf) where the decision allows drawdowns")
async def request_drawdown(id: uuid.UUID, body: DrawdownRequest, rt: FundingRuntimeDep, principal: APPLICANT) -> DrawdownOut:
    drawdown_id = await handlers_measures.request_drawdown(rt, principal, id, body)
    async with rt.db.read() as conn:
        return _drawdown(await store_measures.get_drawdown(conn, id, drawdown_id))


@measures_router.post("/measures/{id}/drawdowns/{drawdown_id}/payout", response_model=DrawdownOut, summary="Pay out a requested drawdown")
async def pay_drawdown(id: uuid.UUID, drawdown_id: uuid.UUID, rt: FundingRuntimeDep,
                       principal: Annotated[Principal, Depends(require(Role.PAYMENT_OFFICER, Role.FUND_MANAGER))]) -> DrawdownOut:
    await handlers_measures.pay_drawdown(rt, principal, id, drawdown_id)
    async with rt.db.read() as conn:
        return _drawdown(await store_measures.get_drawdown(conn, id, drawdown_id))


@measures_router.post("/measures/{id}/receipts", status_code=201, response_model=ReceiptOut,
                      responses={413: {"model": ErrorBody, "description": "The file, or the receipts of the measure together, are too large"}},
                      summary="Upload a receipt (PDF, PNG or JPEG by content; size-limited) for the proof of use")
async def upload_receipt(id: uuid.UUID, rt: FundingRuntimeDep, principal: APPLICANT,
                         file: Annotated[UploadFile, File(description="PDF, PNG or JPEG")]) -> ReceiptOut:
    data = await file.read(rt.settings.receipt_max_bytes + 1)  # never more than one byte over the limit into memory
    return _receipt(await handlers_proof.upload_receipt(rt, principal, id, file.filename, data))


@measures_router.get("/measures/{id}/receipts/{receipt_id}", summary="Download a receipt (audit-logged)", response_class=Response,
                     responses={200: {"description": "The receipt as uploaded", "content": {m: {"schema": {"type": "string", "format": "binary"}}
                                                                                             for m in ("application/pdf", "image/png", "image/jpeg")}}})
async def download_receipt(id: uuid.UUID, receipt_id: uuid.UUID, rt: FundingRuntimeDep,
                           principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, Role.FUND_MANAGER))]) -> Response:
    await _load_measure(rt, principal, id)
    async with rt.db.read() as conn:
        r = await store_measures.get_receipt(conn, id, receipt_id)
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
async def proof_of_use(id: uuid.UUID, body: ProofSubmit, rt: FundingRuntimeDep, principal: APPLICANT) -> ProofRecorded:
    version, spent, receipts = await handlers_proof.prepare_proof(rt, principal, id, body)
    submission = ProofSubmission(submitted_by=principal.username, spent_cents=spent, receipts=receipts, version=version)
    result: ProofRecorded = await _update(rt, proof_of_use_workflow_id(id), ProofOfUse.submit, submission)
    return result


@measures_router.post("/measures/{id}/proof-of-use/review", response_model=ProofState,
                      summary="Accept the proof of use or ask for rework with a reason (fund managers)")
async def review_proof(id: uuid.UUID, body: ProofReview, rt: FundingRuntimeDep, principal: MANAGER) -> ProofState:
    version = await handlers_proof.prepare_review(rt, principal, id, body)
    state: ProofState = await _update(rt, proof_of_use_workflow_id(id), ProofOfUse.review,
                                      ProofReviewCommand(actor=principal.username, decision=body.decision, version=version))
    return state


@measures_router.post("/measures/{id}/proof-of-use/reclaim", response_model=ProofState,
                      summary="Reclaim the unspent and undrawn money to the fiscal-year budget (once, after acceptance)")
async def reclaim(id: uuid.UUID, rt: FundingRuntimeDep, principal: MANAGER) -> ProofState:
    await _load_measure(rt, principal, id)
    state: ProofState = await _update(rt, proof_of_use_workflow_id(id), ProofOfUse.reclaim, ReclaimCommand(actor=principal.username))
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, (Role.FUND_MANAGER,), "reclaim", "measure_application", id)
    return state


@measures_router.get("/measures/{id}/mails", response_model=list[MailOut], summary="E-mails to the organisation about this application (no addresses)")
async def measure_mails(id: uuid.UUID, rt: FundingRuntimeDep,
                        principal: Annotated[Principal, Depends(require(Role.FUND_APPLICANT, Role.FUND_MANAGER))]) -> list[MailOut]:
    await _load_measure(rt, principal, id)
    async with rt.db.read() as conn:
        return [MailOut(kind=r.kind, created_at=r.created_at, sent_at=r.sent_at, attempts=r.attempts) for r in await store_mail.mails_of(conn, id)]


# --- the steering group --------------------------------------------------------------------------------


@measures_router.post("/rounds", status_code=201, response_model=RoundCreated, summary="Collect applications for a steering-group meeting")
async def create_round(body: CreateRound, rt: FundingRuntimeDep, principal: MANAGER) -> RoundCreated:
    return RoundCreated(round_id=await handlers_measures.create_round(rt, principal, body))


@measures_router.post("/rounds/{id}/presence", response_model=RoundState, summary="Register presence and conflicts of interest at the current meeting")
async def register_presence(id: uuid.UUID, body: Presence, rt: FundingRuntimeDep, principal: STEERING) -> RoundState:
    state: RoundState = await _update(rt, fund_round_workflow_id(id), FundRound.register_presence,
                                      PresenceCommand(member=principal.username, conflicts=body.conflicts))
    return state


@measures_router.post("/rounds/{id}/votes", response_model=RoundState, summary="Vote on an application")
async def vote(id: uuid.UUID, body: Vote, rt: FundingRuntimeDep, principal: STEERING) -> RoundState:
    state: RoundState = await _update(rt, fund_round_workflow_id(id), FundRound.vote,
                                      VoteCommand(member=principal.username, application_id=body.application_id, vote=body.vote))
    return state


@measures_router.post("/rounds/{id}/close-meeting", response_model=MeetingOutcome, summary="Close the current meeting (quorum, decisions, minutes)")
async def close_meeting(id: uuid.UUID, rt: FundingRuntimeDep,
                        principal: Annotated[Principal, Depends(require(Role.FUND_MANAGER, Role.STEERING_MEMBER))]) -> MeetingOutcome:
    outcome: MeetingOutcome = await _update(rt, fund_round_workflow_id(id), FundRound.close_meeting, CloseMeetingCommand(by=principal.username))
    return outcome


@measures_router.get("/rounds/{id}/minutes/{meeting_no}", summary="Minutes of a meeting (JSON, or German text with format=text)", response_model=None,
                     responses={200: {"description": "The minutes", "content": {"application/json": {"schema": {"type": "object"}},
                                                                                "text/plain": {"schema": {"type": "string"}}}}})
async def get_minutes(
    id: uuid.UUID, meeting_no: Number, rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(*DECIDERS))],
    format: Literal["json", "text"] = "json",
) -> Any:
    async with rt.db.read() as conn:
        row = await store.get_minutes(conn, id, meeting_no)
    if row is None:
        raise NotFound(f"no minutes for meeting {meeting_no} of round {id}")
    return PlainTextResponse(row.text) if format == "text" else row.document


@measures_router.get("/steering-members", response_model=list[Member], summary="The steering group's member register")
async def steering_members(rt: FundingRuntimeDep, principal: Annotated[Principal, Depends(require(*DECIDERS))]) -> list[Member]:
    async with rt.db.read() as conn:
        return [Member(username=r.username, active=r.active) for r in await store.members(conn)]


@measures_router.put("/steering-members/{username}", response_model=Member, summary="Add a member or change whether they are active (fund managers)")
async def set_steering_member(
    username: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@-]+$")], body: MemberChange, rt: FundingRuntimeDep,
    principal: MANAGER,
) -> Member:
    """Rounds started afterwards use the new register (quorum = half of the active members)."""
    async with rt.db.begin() as conn:
        await store.set_member(conn, username, body.active, utc_now())
        await rt.audit(conn, principal, (Role.FUND_MANAGER,), "set_member", "steering_member", username)
    return Member(username=username, active=body.active)
