"""Funding's discretionary fund commands (DOMAIN.md flow 6, seed 002 §2 and §5): applications, the
steering group's rounds and the conclusion of a meeting, payouts at once or in drawdowns (Mittelabruf)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from temporalio.common import WorkflowIDConflictPolicy

from services.contracts.funding import MeasureApplied, MeasureDecided, MeasurePaid, MeetingQuorumFailed
from services.contracts.funding_workflows import (
    ConcludeMeetingInput,
    FundRoundInput,
    MeetingOutcome,
    ProofOfUseInput,
    fund_round_workflow_id,
    proof_of_use_workflow_id,
)
from services.contracts.workdays import city_today
from services.funding import ledger, mail, minutes, store, store_mail, store_measures
from services.funding.domain import (
    BudgetExhausted,
    Fund,
    MeasureStatus,
    add_months,
    drawdown_problem,
    drawdowns_allowed,
    fiscal_year,
    measure_problem,
    meeting_tally,
    over_limit_problem,
    quorum,
)
from services.funding.runtime import FundingRuntime
from services.funding.schemas import CreateRound, DrawdownRequest, MeasureApply
from services.kit.auth import Principal, Role
from services.kit.db import utc_now
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.fund_round import FundRound
from workflows.proof_of_use import ProofOfUse


def own(principal: Principal, row: Any) -> None:
    """Organisations act on their own applications only (fund managers on all)."""
    if not principal.has(Role.FUND_MANAGER.value) and row.applicant != principal.username:
        raise Forbidden("organisations act on their own applications only")


async def apply_measure(rt: FundingRuntime, principal: Principal, cmd: MeasureApply) -> uuid.UUID:
    """Flow 6 (002 §5): organisations apply for a measure; above the normal maximum (5,000 EUR) a written
    justification is required and the application is flagged to the steering group."""
    problem = measure_problem(cmd)
    if problem:
        raise Invalid(problem[1], field=problem[0])
    over = over_limit_problem(cmd.amount_cents, cmd.over_limit_justification, rt.settings.measure_normal_max_cents)
    if over:
        raise Invalid(over, field="over_limit_justification")
    if not cmd.guidelines.refugees_target_group:
        raise Invalid("the discretionary fund's guidelines require refugees as the target group (002 §5)", field="guidelines.refugees_target_group")
    flagged = cmd.amount_cents > rt.settings.measure_normal_max_cents
    application_id = uuid.uuid4()
    year = fiscal_year(city_today())
    fields = sorted(set(cmd.fields_of_action))
    async with rt.outbox.transaction() as tx:
        await store_measures.insert_measure(
            tx.conn, id=application_id, applicant=principal.username, title=cmd.title, provider=cmd.provider, organisation_kind=cmd.organisation_kind,
            fields_of_action=fields, target_group=cmd.target_group, period_start=cmd.period_start,
            period_end=cmd.period_end, budget_lines=[b.model_dump() for b in cmd.budget_lines], amount_cents=cmd.amount_cents,
            over_limit_justification=cmd.over_limit_justification, flagged_over_limit=flagged, guidelines=cmd.guidelines.model_dump(),
            fiscal_year=year, status=MeasureStatus.SUBMITTED.value, applied_at=utc_now(),
            area=cmd.area, contact_email=cmd.contact_email, drawdowns_requested=cmd.drawdowns_requested,
        )
        await rt.audit(tx.conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "apply", "measure_application", application_id)
        await tx.emit(MeasureApplied(
            tenant=rt.platform.tenant, correlation_id=application_id, application_id=application_id, organisation_kind=cmd.organisation_kind,
            amount_cents=cmd.amount_cents, fields_of_action=fields, target_group=cmd.target_group[:100],
            fiscal_year=year, flagged_over_limit=flagged,
        ))
    return application_id


async def create_round(rt: FundingRuntime, principal: Principal, cmd: CreateRound) -> uuid.UUID:
    """Applications are collected for a steering-group meeting; the round's workflow runs the meetings."""
    ids = list(dict.fromkeys(cmd.application_ids))
    async with rt.db.read() as conn:
        found = await store_measures.measure_statuses(conn, ids)
        members = await store.active_members(conn)
    for i, app in enumerate(ids):
        if app not in found:
            raise Invalid(f"unknown application {app}", field=f"application_ids.{i}")
        if found[app] != MeasureStatus.SUBMITTED:
            raise Conflict(f"application {app} is {found[app]}, not submitted")
    if not members:
        raise Conflict("the steering group has no members")
    round_id = uuid.uuid4()
    await rt.temporal_client.start_workflow(
        FundRound.run,
        FundRoundInput(round_id=round_id, tenant=rt.platform.tenant, application_ids=ids, members=members,
                       quorum=quorum(len(members), rt.settings.steering_quorum_fraction)),
        id=fund_round_workflow_id(round_id), task_queue="funding", id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    async with rt.db.begin() as conn:
        await store.insert_round(conn, round_id, fiscal_year(city_today()), principal.username, utc_now())
        await store_measures.put_in_round(conn, ids, round_id)
    return round_id


async def _decide_application(tx: Any, inp: ConcludeMeetingInput, app: uuid.UUID, common: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One application at a quorate meeting: the majority of the members present and not recused (002 §2/§5);
    an approval reserves budget (rejected with budget_exhausted if the budget cannot cover it). Returns the
    decision and the minutes' item."""
    row = await store_measures.get_measure(tx.conn, app, lock=True)
    if row is None or row.round_id != inp.round_id or row.status != MeasureStatus.IN_ROUND:
        raise Conflict(f"application {app} is not open in round {inp.round_id}")
    tally = meeting_tally(inp.present, inp.recused.get(str(app), []), inp.votes.get(str(app), {}))
    decision, note = ("approved", None) if tally.approved else ("rejected", "no_majority")
    if decision == "approved":
        try:
            await ledger.reserve(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, row.amount_cents, row.id, inp.closed_by)
        except BudgetExhausted:
            decision, note = "rejected", "budget_exhausted"
    await store_measures.update_measure(tx.conn, row.id, status=decision, meeting_no=inp.meeting_no)
    if row.contact_email:
        subject, body = mail.decision_mail(row.title, decision, row.amount_cents, bool(row.drawdowns_requested))
        await store_mail.enqueue_mail(tx.conn, key=f"decision-{row.id}", kind="decision", application_id=row.id,
                                      recipient=row.contact_email, subject=subject, body=body, now=utc_now())
    await tx.emit(MeasureDecided(
        **common, application_id=row.id, round_id=inp.round_id, meeting_no=inp.meeting_no, decision=decision,
        votes_yes=tally.yes, votes_no=tally.no, abstentions=tally.abstentions, recused=len(tally.recused),
        amount_cents=row.amount_cents if decision == "approved" else 0, fields_of_action=row.fields_of_action,
    ))
    return decision, {"application_id": str(row.id), "title": row.title, "provider": row.provider, "amount_cents": row.amount_cents,
                      "flagged_over_limit": row.flagged_over_limit, "yes": tally.yes, "no": tally.no, "abstentions": tally.abstentions,
                      "recused": tally.recused, "decision": decision, "note": note}


async def conclude_meeting(rt: FundingRuntime, inp: ConcludeMeetingInput) -> MeetingOutcome:
    """A meeting ends: without a quorum the applications move to the next meeting (MeetingQuorumFailed);
    otherwise each is decided (`_decide_application`), and the minutes are stored. Idempotent per (round, meeting)."""
    async with rt.outbox.transaction() as tx:
        done = await store.get_minutes(tx.conn, inp.round_id, inp.meeting_no)
        if done is not None:
            return MeetingOutcome.model_validate(done.document["outcome"])
        if not await store.round_recorded(tx.conn, inp.round_id):
            raise NotFound(f"round {inp.round_id} was never recorded")  # its creation did not commit: it decides nothing
        common = dict(tenant=inp.tenant, correlation_id=inp.round_id)
        items: list[dict[str, Any]] = []
        if len(inp.present) < inp.quorum:
            outcome = MeetingOutcome(meeting_no=inp.meeting_no, quorate=False)
            await store_measures.move_to_meeting(tx.conn, inp.pending, inp.meeting_no + 1)
            await tx.emit(MeetingQuorumFailed(**common, round_id=inp.round_id, meeting_no=inp.meeting_no, present=len(inp.present), required=inp.quorum))
        else:
            decided: dict[str, str] = {}
            for app in inp.pending:
                decided[str(app)], item = await _decide_application(tx, inp, app, common)
                items.append(item)
            outcome = MeetingOutcome(meeting_no=inp.meeting_no, quorate=True, decided=decided)
        document = minutes.document(inp, outcome, items)
        await store.insert_minutes(tx.conn, inp.round_id, inp.meeting_no, document, minutes.text(document), utc_now())
        still_open = [a for a in inp.pending if str(a) not in outcome.decided]
        await store.advance_round(tx.conn, inp.round_id, inp.meeting_no + 1, bool(still_open))
        return outcome


async def pay_measure(rt: FundingRuntime, principal: Principal, application_id: uuid.UUID) -> None:
    """An approved measure is paid out in full (unless its decision grants drawdowns); its proof of use
    comes due N months after the measure ends (default 3), watched by a durable workflow started before
    the commit (idempotent)."""
    async with rt.db.read() as conn:
        row = await store_measures.get_measure(conn, application_id)
    if row is None:
        raise NotFound(f"application {application_id} not found")
    if row.status == MeasureStatus.PAID and row.paid_cents == row.amount_cents:
        return
    if row.status != MeasureStatus.APPROVED:
        raise Conflict(f"the application is {row.status}, not approved")
    if row.drawdowns_requested:
        raise Conflict("the decision grants payout in drawdowns (Mittelabruf): the organisation calls the money off in parts")
    due_on = await _ensure_proof_workflow(rt, row)
    async with rt.outbox.transaction() as tx:
        row = await store_measures.get_measure(tx.conn, application_id, lock=True)
        if row is None or row.status != MeasureStatus.APPROVED:
            raise Conflict(f"the application is {row.status if row else 'gone'}, not approved")
        await ledger.disburse(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, row.amount_cents, row.id, principal.username)
        await store_measures.update_measure(tx.conn, row.id, status=MeasureStatus.PAID.value, paid_cents=row.amount_cents, proof_due_on=due_on)
        await tx.emit(MeasurePaid(tenant=rt.platform.tenant, correlation_id=row.id, application_id=row.id, amount_cents=row.amount_cents,
                                  fiscal_year=row.fiscal_year))


async def _ensure_proof_workflow(rt: FundingRuntime, row: Any) -> date:
    """The proof of use comes due N months after the measure ends (default 3), watched by a durable
    workflow started at the first payout, before its commit (idempotent on the business key)."""
    due_on = add_months(row.period_end, rt.settings.proof_of_use_months)
    await rt.temporal_client.start_workflow(
        ProofOfUse.run,
        ProofOfUseInput(application_id=row.id, tenant=rt.platform.tenant, due_on=due_on, reminder_weeks=rt.settings.proof_reminder_weeks),
        id=proof_of_use_workflow_id(row.id), task_queue="funding", id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return due_on


async def request_drawdown(rt: FundingRuntime, principal: Principal, application_id: uuid.UUID, cmd: DrawdownRequest) -> uuid.UUID:
    """The organisation calls off part of the grant (Mittelabruf) where the decision allows drawdowns;
    the sum of all drawdowns never exceeds the granted amount (domain.drawdown_problem)."""
    drawdown_id = uuid.uuid4()
    async with rt.db.begin() as conn:
        row = await store_measures.get_measure(conn, application_id, lock=True)
        if row is None:
            raise NotFound(f"application {application_id} not found")
        own(principal, row)
        if not drawdowns_allowed(bool(row.drawdowns_requested), row.status):
            raise Conflict("the decision does not allow drawdowns; the grant is paid out at once")
        if row.status not in (MeasureStatus.APPROVED, MeasureStatus.PAID):
            raise Conflict(f"the application is {row.status}; drawdowns are requested between approval and the proof of use")
        problem = drawdown_problem(row.amount_cents, await store_measures.drawn_cents(conn, application_id), cmd.amount_cents)
        if problem:
            raise Invalid(problem, field="amount_cents")
        await store_measures.insert_drawdown(conn, id=drawdown_id, application_id=application_id, amount_cents=cmd.amount_cents, status="requested",
                                             requested_by=principal.username, requested_at=utc_now())
        await rt.audit(conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "request_drawdown", "measure_application", application_id)
    return drawdown_id


async def pay_drawdown(rt: FundingRuntime, principal: Principal, application_id: uuid.UUID, drawdown_id: uuid.UUID) -> None:
    """The payment officer pays a requested drawdown: a ledger disbursement of that amount; the first one
    starts the proof-of-use workflow. Idempotent (a paid drawdown is not paid again)."""
    async with rt.db.read() as conn:
        row = await store_measures.get_measure(conn, application_id)
        draw = await store_measures.get_drawdown(conn, application_id, drawdown_id)
    if row is None or draw is None:
        raise NotFound(f"drawdown {drawdown_id} not found")
    if draw.status == "paid":
        return
    if row.status not in (MeasureStatus.APPROVED, MeasureStatus.PAID):
        raise Conflict(f"the application is {row.status}; the drawdown can no longer be paid")
    due_on = await _ensure_proof_workflow(rt, row)
    async with rt.outbox.transaction() as tx:
        row = await store_measures.get_measure(tx.conn, application_id, lock=True)
        if row is None or row.status not in (MeasureStatus.APPROVED, MeasureStatus.PAID):
            raise Conflict(f"the application is {row.status if row else 'gone'}; the drawdown can no longer be paid")
        problem = drawdown_problem(row.amount_cents, row.paid_cents, draw.amount_cents)
        if problem:
            raise Conflict(problem)
        if not await store_measures.mark_drawdown_paid(tx.conn, drawdown_id, principal.username, utc_now()):
            return
        await ledger.disburse(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, draw.amount_cents, row.id, principal.username)
        paid = row.paid_cents + draw.amount_cents
        await store_measures.update_measure(tx.conn, row.id, status=MeasureStatus.PAID.value, paid_cents=paid, proof_due_on=due_on)
        await tx.emit(MeasurePaid(tenant=rt.platform.tenant, correlation_id=row.id, application_id=row.id, amount_cents=draw.amount_cents,
                                  fiscal_year=row.fiscal_year))
