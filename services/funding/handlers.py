"""Funding's commands: budgets, the case projection, hardship applications and their steps, discretionary
fund applications, steering-group meetings, payouts, proof of use and the year close."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy

from services.contracts.casework import CaseAssigned, CaseClosed, CaseOpened
from services.contracts.funding import (
    FundYearClosed,
    HardshipApplied,
    HardshipApproved,
    HardshipCancelled,
    HardshipDecisionRecorded,
    HardshipDisbursed,
    HardshipEscalated,
    HardshipPaymentOrdered,
    HardshipRedirected,
    HardshipRejected,
    MeasureApplied,
    MeasureDecided,
    MeasurePaid,
    MeetingQuorumFailed,
    ProofOfUseOverdue,
    ProofOfUseReceived,
)
from services.contracts.funding_workflows import (
    CONCLUDE_MEETING,
    FUND_ROUND_WORKFLOW,
    HARDSHIP_APPROVAL_WORKFLOW,
    HARDSHIP_ESCALATE,
    HARDSHIP_STEP,
    PROOF_OF_USE_WORKFLOW,
    PROOF_REMINDER,
    RECORD_PROOF,
    REVIEW_PROOF,
    SETTLE_PROOF,
    SUBMIT_PROOF,
    ConcludeMeetingInput,
    FundRoundInput,
    HardshipApprovalInput,
    HardshipEscalateInput,
    HardshipState,
    HardshipStepInput,
    MeetingOutcome,
    ProofOfUseInput,
    ProofRecorded,
    ProofReminderInput,
    ProofState,
    RecordProofInput,
    ReviewProofInput,
    SettleProofInput,
    SubmitProofInput,
    fund_round_workflow_id,
    hardship_workflow_id,
    proof_of_use_workflow_id,
)
from services.contracts.workdays import BERLIN
from services.funding import ledger, mail, minutes, store
from services.funding.domain import (
    BudgetExhausted,
    CreateRound,
    DrawdownRequest,
    Fund,
    HardshipApply,
    HardshipStatus,
    MeasureApply,
    MeasureStatus,
    PayloadTooLarge,
    ProofReview,
    ProofSubmit,
    Refusal,
    Screening,
    YearStatement,
    add_months,
    deciders_required,
    drawdown_problem,
    drawdowns_allowed,
    fiscal_year,
    hardship_state,
    hardship_step_refusal,
    majority,
    period_problem,
    proof_problem,
    quorum,
    receipt_media_type,
    receipt_problem,
    refusal_error,
    review_problem,
    screen,
    settlement,
)
from services.kit import telemetry
from services.kit.alerts import raise_alert, resolve_alerts
from services.kit.auth import Principal, Role
from services.kit.broker import Delivery
from services.kit.db import upsert, utc_now
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.service import Runtime

log = logging.getLogger(__name__)

# --- start-up ------------------------------------------------------------------------------------


async def ensure_current_budgets(rt: Runtime) -> None:
    """Each fund has a budget for the current fiscal year from the settings' default, unless the fund
    manager set one already (an existing budget is never overwritten). The steering group's member
    register is seeded once from the settings."""
    year = fiscal_year(date.today())
    defaults = {Fund.HARDSHIP: rt.settings.hardship_fund_cents, Fund.DISCRETIONARY: rt.settings.discretionary_fund_cents}
    async with rt.db.begin() as conn:
        for fund, cents in defaults.items():
            await upsert(
                conn, store.budgets,
                {"fund": fund.value, "fiscal_year": year, "amount_cents": cents, "committed_cents": 0, "set_by": "default", "set_at": utc_now()},
                keys=["fund", "fiscal_year"], only_insert=True,
            )
        if not (await conn.execute(sa.select(store.steering_members.c.username).limit(1))).first():
            for member in rt.settings.steering_members:
                await conn.execute(store.steering_members.insert().values(username=member, active=True, since=utc_now()))


def _hardship_year() -> int:
    return fiscal_year(date.today())


# --- case projection (casework's events in) ---------------------------------------------------------


async def project_case_opened(rt: Runtime, event: CaseOpened, delivery: Delivery) -> None:
    """Funding knows a case's members to check that a hardship applicant is a client of the case."""
    telemetry.mark(case_id=event.case_id)
    async with delivery.transaction() as tx:
        await upsert(tx.conn, store.case_members, {"case_id": event.case_id, "member_ids": [str(m) for m in event.member_ids]}, keys=["case_id"])


async def project_case_assigned(rt: Runtime, event: CaseAssigned, delivery: Delivery) -> None:
    """The responsible caseworker of a case is the one who may apply for its clients."""
    telemetry.mark(case_id=event.case_id)
    async with delivery.transaction() as tx:
        await upsert(tx.conn, store.case_members, {"case_id": event.case_id, "member_ids": []}, keys=["case_id"], only_insert=True)
        await tx.conn.execute(store.case_members.update().where(store.case_members.c.case_id == event.case_id).values(caseworker=event.caseworker))


async def project_case_closed(rt: Runtime, event: CaseClosed, delivery: Delivery) -> None:
    telemetry.mark(case_id=event.case_id)
    async with delivery.transaction() as tx:
        await upsert(tx.conn, store.case_members, {"case_id": event.case_id, "member_ids": []}, keys=["case_id"], only_insert=True)
        await tx.conn.execute(store.case_members.update().where(store.case_members.c.case_id == event.case_id).values(closed=True))


# --- hardship fund --------------------------------------------------------------------------------


async def apply_hardship(rt: Runtime, principal: Principal, cmd: HardshipApply) -> uuid.UUID:
    """Flow 5: a caseworker applies for a client of their own case. The criteria of seed 000 are
    screened at once: a legal entitlement elsewhere redirects, a need caused by another authority's
    faulty action or help that undermines self-reliance is rejected; otherwise the approval workflow
    starts before the commit (idempotently), so that no decider can find a committed application
    without its workflow. If the commit fails, the workflow is terminated again; only a crash between
    the two leaves a workflow whose steps find no application and fail as NotFound)."""
    problem = period_problem(cmd.period_start, cmd.period_end, rt.settings.hardship_max_period_months)
    if problem:
        raise Invalid(problem, field="period_end")
    async with rt.db.read() as conn:
        case = (await conn.execute(sa.select(store.case_members).where(store.case_members.c.case_id == cmd.case_id))).first()
    if case is None:
        raise Invalid("unknown case (not yet known to funding)", field="case_id")
    if case.caseworker != principal.username:
        raise Forbidden("a caseworker applies only for clients of their own cases")
    if case.closed:
        raise Conflict("the case is closed")
    if str(cmd.person_id) not in case.member_ids:
        raise Invalid("the person is not a member of the case", field="person_id")
    screening = screen(cmd.criteria)
    application_id = uuid.uuid4()
    year = _hardship_year()
    required = deciders_required(cmd.amount_cents, rt.settings.hardship_two_deciders_above_cents)
    telemetry.mark(case_id=cmd.case_id, application_id=application_id)
    if screening.outcome == "eligible":
        assert rt.temporal is not None
        await rt.temporal.start_workflow(
            HARDSHIP_APPROVAL_WORKFLOW,
            HardshipApprovalInput(
                application_id=application_id, tenant=rt.platform.tenant, applicant=principal.username,
                deciders_required=required, decision_working_days=rt.settings.hardship_decision_working_days,
            ),
            id=hardship_workflow_id(application_id), task_queue="funding",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    status = {"eligible": HardshipStatus.PENDING, "redirected": HardshipStatus.REDIRECTED, "rejected": HardshipStatus.REJECTED}[screening.outcome]
    now = utc_now()
    try:
        await _commit_application(rt, principal, cmd, application_id, year, required, status, screening, now)
    except BaseException:
        if screening.outcome == "eligible":
            await asyncio.shield(_withdraw_workflow(rt, application_id))
        raise
    return application_id


async def _withdraw_workflow(rt: Runtime, application_id: uuid.UUID) -> None:
    """Ends the approval workflow of an application whose commit failed (nothing of it was stored)."""
    assert rt.temporal is not None
    try:
        await rt.temporal.get_workflow_handle(hardship_workflow_id(application_id)).terminate("the application was not stored")
    except Exception:
        log.warning("could not end the workflow of an unstored hardship application %s", application_id, exc_info=True)


async def _commit_application(
    rt: Runtime, principal: Principal, cmd: HardshipApply, application_id: uuid.UUID, year: int, required: int,
    status: HardshipStatus, screening: Screening, now: datetime,
) -> None:
    async with rt.outbox.transaction() as tx:
        await insert_hardship(tx.conn, application_id, cmd, principal.username, year, required, status, screening.reason, screening.responsible_office, now)
        common = dict(tenant=rt.platform.tenant, correlation_id=application_id, application_id=application_id)
        await tx.emit(HardshipApplied(**common, case_id=cmd.case_id, person_id=cmd.person_id, applicant=principal.username,
                                      amount_cents=cmd.amount_cents, purpose_category=cmd.purpose_category, fiscal_year=year, deciders_required=required))
        if screening.outcome == "redirected":
            await tx.emit(HardshipRedirected(**common, case_id=cmd.case_id, responsible_office=screening.responsible_office or ""))
        elif screening.outcome == "rejected":
            await tx.emit(HardshipRejected(**common, case_id=cmd.case_id, reason=screening.reason or "other"))
        await rt.audit(tx.conn, principal, (Role.CASEWORKER,), "apply", "hardship_application", application_id)


async def insert_hardship(conn: Any, application_id: uuid.UUID, cmd: HardshipApply, applicant: str, year: int, required: int,
                          status: HardshipStatus, reason: str | None, office: str | None, now: datetime) -> None:
    await conn.execute(
        store.hardship.insert().values(
            id=application_id, case_id=cmd.case_id, person_id=cmd.person_id, applicant=applicant, amount_cents=cmd.amount_cents,
            purpose=cmd.purpose, purpose_category=cmd.purpose_category, justification=cmd.justification,
            period_start=cmd.period_start, period_end=cmd.period_end, criteria=cmd.criteria.model_dump(mode="json"),
            fiscal_year=year, deciders_required=required, status=status.value, reason=reason, responsible_office=office,
            deciders=[], applied_at=now, decided_at=now if status != HardshipStatus.PENDING else None,
        )
    )


def _refuse(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise refusal_error(refusal)


_state = hardship_state


async def hardship_step(rt: Runtime, inp: HardshipStepInput) -> HardshipState:
    """One human step on a hardship application, re-checked against the database in one transaction
    with its ledger entry and events (four eyes; DOMAIN.md flow 5):

    - decide: never the applicant; each decider once; a rejection decides at once; approval needs
      `deciders_required` distinct approvals and then reserves the amount (409 budget_exhausted
      otherwise: nothing is recorded and the application stays undecided, so a decider can reject it
      or the budget can be raised).
    - order_payment: by one of the deciders, after approval.
    - disburse: by a third person (neither applicant nor decider), after the payment order.
    - cancel: before payout; releases the reservation.

    Idempotent: a retried step that was already applied returns the current state."""
    cmd = inp.command
    a = store.hardship
    telemetry.mark(application_id=inp.application_id)
    async with rt.outbox.transaction() as tx:
        row = await store.get_hardship(tx.conn, inp.application_id, lock=True)
        if row is None:
            raise NotFound(f"hardship application {inp.application_id} not found")
        common = dict(tenant=inp.tenant, correlation_id=row.id, application_id=row.id)
        fund, year, now = Fund.HARDSHIP, row.fiscal_year, utc_now()
        if cmd.step == "decide":
            before = (await tx.conn.execute(sa.select(store.hardship_decisions).where(
                store.hardship_decisions.c.application_id == row.id, store.hardship_decisions.c.decider == cmd.actor))).first()
            if before is not None:
                return _state(row)
            _refuse(hardship_step_refusal(cmd, row.applicant, _state(row)))
            deciders = [*row.deciders, cmd.actor]
            values: dict[str, Any] = {"deciders": deciders}
            events: list[Any] = [HardshipDecisionRecorded(**common, decider=cmd.actor, decision=cmd.decision or "")]
            if cmd.decision == "reject":
                values.update(status=HardshipStatus.REJECTED.value, reason=cmd.reason or "other", decided_at=now)
                events.append(HardshipRejected(**common, case_id=row.case_id, reason=cmd.reason or "other"))
            else:
                approvals = 1 + int((await tx.conn.execute(sa.select(sa.func.count()).select_from(store.hardship_decisions).where(
                    store.hardship_decisions.c.application_id == row.id, store.hardship_decisions.c.decision == "approve"))).scalar_one())
                if approvals >= row.deciders_required:
                    await ledger.reserve(tx.conn, fund, year, row.amount_cents, row.id, cmd.actor)  # BudgetExhausted: nothing recorded
                    values.update(status=HardshipStatus.APPROVED.value, decided_at=now)
                    events.append(HardshipApproved(**common, case_id=row.case_id, amount_cents=row.amount_cents, fiscal_year=year,
                                                   deciders=deciders, working_days_to_decision=inp.working_days_to_decision))
            await tx.conn.execute(store.hardship_decisions.insert().values(
                application_id=row.id, decider=cmd.actor, decision=cmd.decision or "", reason=cmd.reason, at=now))
            if "status" in values:
                await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=cmd.actor)
        elif cmd.step == "order_payment":
            if row.payment_ordered_by == cmd.actor:
                return _state(row)
            _refuse(hardship_step_refusal(cmd, row.applicant, _state(row)))
            values = {"status": HardshipStatus.PAYMENT_ORDERED.value, "payment_ordered_by": cmd.actor}
            events = [HardshipPaymentOrdered(**common, ordered_by=cmd.actor)]
        elif cmd.step == "disburse":
            if row.status == HardshipStatus.DISBURSED and row.disbursed_by == cmd.actor:
                return _state(row)
            _refuse(hardship_step_refusal(cmd, row.applicant, _state(row)))
            await ledger.disburse(tx.conn, fund, year, row.amount_cents, row.id, cmd.actor)
            values = {"status": HardshipStatus.DISBURSED.value, "disbursed_by": cmd.actor}
            events = [HardshipDisbursed(**common, case_id=row.case_id, amount_cents=row.amount_cents, fiscal_year=year, disbursed_by=cmd.actor)]
        else:  # cancel
            if row.status == HardshipStatus.CANCELLED:
                return _state(row)
            _refuse(hardship_step_refusal(cmd, row.applicant, _state(row)))
            released = row.amount_cents if row.status != HardshipStatus.PENDING else 0
            await ledger.release(tx.conn, fund, year, released, row.id, cmd.actor)
            values = {"status": HardshipStatus.CANCELLED.value}
            events = [HardshipCancelled(**common, case_id=row.case_id, released_cents=released)]
            await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=cmd.actor)
        await tx.conn.execute(a.update().where(a.c.id == row.id).values(**values))
        for event in events:
            await tx.emit(event)
        row = await store.get_hardship(tx.conn, inp.application_id)
        return _state(row)


async def escalate_hardship(rt: Runtime, inp: HardshipEscalateInput) -> None:
    """The decision was not taken within the working days set (default 5): the fund managers are alerted once."""
    telemetry.mark(application_id=inp.application_id)
    async with rt.outbox.transaction() as tx:
        row = await store.get_hardship(tx.conn, inp.application_id, lock=True)
        if row is None:
            raise NotFound(f"hardship application {inp.application_id} not found")
        if row.status != HardshipStatus.PENDING or row.escalated:
            return
        await tx.conn.execute(store.hardship.update().where(store.hardship.c.id == row.id).values(escalated=True))
        await tx.emit(HardshipEscalated(tenant=inp.tenant, correlation_id=row.id, application_id=row.id, kind="decision_overdue"))
        await raise_alert(
            tx.conn, rt.tables, key=f"hardship-decision-overdue-{row.id}", kind="hardship_decision_overdue", role=Role.FUND_MANAGER.value,
            subject_type="hardship_application", subject_id=row.id,
            message=f"Härtefallantrag {row.id}: Entscheidung war bis {inp.due_on.isoformat()} fällig (eskaliert).",
            due_at=datetime.combine(inp.due_on, time(23, 59, 59), tzinfo=BERLIN),
        )


# --- discretionary fund -------------------------------------------------------------------------


async def apply_measure(rt: Runtime, principal: Principal, cmd: MeasureApply) -> uuid.UUID:
    """Flow 6 (002 §5): organisations apply for a measure; above the normal maximum (5,000 EUR) a written
    justification is required and the application is flagged to the steering group."""
    problem = cmd.problem()
    if problem:
        raise Invalid(problem[1], field=problem[0])
    flagged = cmd.amount_cents > rt.settings.measure_normal_max_cents
    if flagged and not (cmd.over_limit_justification or "").strip():
        raise Invalid(f"above {rt.settings.measure_normal_max_cents} cents a written justification is required", field="over_limit_justification")
    if not cmd.guidelines.refugees_target_group:
        raise Invalid("the discretionary fund's guidelines require refugees as the target group (002 §5)", field="guidelines.refugees_target_group")
    application_id = uuid.uuid4()
    year = fiscal_year(date.today())
    async with rt.outbox.transaction() as tx:
        await tx.conn.execute(store.measures.insert().values(
            id=application_id, applicant=principal.username, title=cmd.title, provider=cmd.provider, organisation_kind=cmd.organisation_kind,
            fields_of_action=sorted(set(cmd.fields_of_action)), target_group=cmd.target_group, period_start=cmd.period_start,
            period_end=cmd.period_end, budget_lines=[b.model_dump() for b in cmd.budget_lines], amount_cents=cmd.amount_cents,
            over_limit_justification=cmd.over_limit_justification, flagged_over_limit=flagged, guidelines=cmd.guidelines.model_dump(),
            fiscal_year=year, status=MeasureStatus.SUBMITTED.value, applied_at=utc_now(),
            area=cmd.area, contact_email=cmd.contact_email, drawdowns_requested=cmd.drawdowns_requested,
        ))
        await rt.audit(tx.conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "apply", "measure_application", application_id)
        await tx.emit(MeasureApplied(
            tenant=rt.platform.tenant, correlation_id=application_id, application_id=application_id, organisation_kind=cmd.organisation_kind,
            amount_cents=cmd.amount_cents, fields_of_action=sorted(set(cmd.fields_of_action)), target_group=cmd.target_group[:100],
            fiscal_year=year, flagged_over_limit=flagged,
        ))
    return application_id


async def create_round(rt: Runtime, principal: Principal, cmd: CreateRound) -> uuid.UUID:
    """Applications are collected for a steering-group meeting; the round's workflow runs the meetings."""
    ids = list(dict.fromkeys(cmd.application_ids))
    async with rt.db.read() as conn:
        rows = (await conn.execute(sa.select(store.measures.c.id, store.measures.c.status).where(store.measures.c.id.in_(ids)))).all()
        members = await store.active_members(conn)
    found = {r.id: r.status for r in rows}
    for i, app in enumerate(ids):
        if app not in found:
            raise Invalid(f"unknown application {app}", field=f"application_ids.{i}")
        if found[app] != MeasureStatus.SUBMITTED:
            raise Conflict(f"application {app} is {found[app]}, not submitted")
    if not members:
        raise Conflict("the steering group has no members")
    round_id = uuid.uuid4()
    assert rt.temporal is not None
    await rt.temporal.start_workflow(
        FUND_ROUND_WORKFLOW,
        FundRoundInput(round_id=round_id, tenant=rt.platform.tenant, application_ids=ids, members=members,
                       quorum=quorum(len(members), rt.settings.steering_quorum_fraction)),
        id=fund_round_workflow_id(round_id), task_queue="funding", id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    async with rt.db.begin() as conn:
        await conn.execute(store.rounds.insert().values(id=round_id, fiscal_year=fiscal_year(date.today()), created_by=principal.username,
                                                        status="open", meeting_no=1, created_at=utc_now()))
        m = store.measures
        await conn.execute(m.update().where(m.c.id.in_(ids)).values(status=MeasureStatus.IN_ROUND.value, round_id=round_id, meeting_no=1))
    return round_id


async def conclude_meeting(rt: Runtime, inp: ConcludeMeetingInput) -> MeetingOutcome:
    """A meeting ends: without a quorum the applications move to the next meeting (MeetingQuorumFailed);
    otherwise each is decided by the majority of members present and not recused (002 §2/§5), an
    approval reserves budget (if the budget cannot cover it the application is rejected with
    budget_exhausted), and the minutes are stored. Idempotent per (round, meeting)."""
    m = store.measures
    async with rt.outbox.transaction() as tx:
        done = (await tx.conn.execute(sa.select(store.minutes.c.document).where(
            store.minutes.c.round_id == inp.round_id, store.minutes.c.meeting_no == inp.meeting_no))).first()
        if done is not None:
            return MeetingOutcome.model_validate(done.document["outcome"])
        if (await tx.conn.execute(sa.select(store.rounds.c.id).where(store.rounds.c.id == inp.round_id))).first() is None:
            raise NotFound(f"round {inp.round_id} was never recorded")  # its creation did not commit: it decides nothing
        common = dict(tenant=inp.tenant, correlation_id=inp.round_id)
        items: list[dict[str, Any]] = []
        if len(inp.present) < inp.quorum:
            outcome = MeetingOutcome(meeting_no=inp.meeting_no, quorate=False)
            await tx.conn.execute(m.update().where(m.c.id.in_(inp.pending)).values(meeting_no=inp.meeting_no + 1))
            await tx.emit(MeetingQuorumFailed(**common, round_id=inp.round_id, meeting_no=inp.meeting_no, present=len(inp.present), required=inp.quorum))
        else:
            decided: dict[str, str] = {}
            for app in inp.pending:
                row = await store.get_measure(tx.conn, app, lock=True)
                if row is None or row.round_id != inp.round_id or row.status != MeasureStatus.IN_ROUND:
                    raise Conflict(f"application {app} is not open in round {inp.round_id}")
                recused = [p for p in inp.recused.get(str(app), []) if p in inp.present]
                votes = {k: v for k, v in inp.votes.get(str(app), {}).items() if k in inp.present and k not in recused}
                yes = sum(v == "yes" for v in votes.values())
                no = sum(v == "no" for v in votes.values())
                abstentions = len(inp.present) - len(recused) - yes - no
                decision, note = ("approved", None) if majority(yes, no, abstentions) else ("rejected", "no_majority")
                if decision == "approved":
                    try:
                        await ledger.reserve(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, row.amount_cents, row.id, inp.closed_by)
                    except BudgetExhausted:
                        decision, note = "rejected", "budget_exhausted"
                decided[str(app)] = decision
                await tx.conn.execute(m.update().where(m.c.id == row.id).values(status=decision, meeting_no=inp.meeting_no))
                if row.contact_email:
                    subject, body = mail.decision_mail(row.title, decision, row.amount_cents, bool(row.drawdowns_requested))
                    await store.enqueue_mail(tx.conn, key=f"decision-{row.id}", kind="decision", application_id=row.id,
                                             recipient=row.contact_email, subject=subject, body=body, now=utc_now())
                await tx.emit(MeasureDecided(
                    **common, application_id=row.id, round_id=inp.round_id, meeting_no=inp.meeting_no, decision=decision,
                    votes_yes=yes, votes_no=no, abstentions=abstentions, recused=len(recused),
                    amount_cents=row.amount_cents if decision == "approved" else 0, fields_of_action=row.fields_of_action,
                ))
                items.append({"application_id": str(row.id), "title": row.title, "provider": row.provider, "amount_cents": row.amount_cents,
                              "flagged_over_limit": row.flagged_over_limit, "yes": yes, "no": no, "abstentions": abstentions,
                              "recused": recused, "decision": decision, "note": note})
            outcome = MeetingOutcome(meeting_no=inp.meeting_no, quorate=True, decided=decided)
        document = minutes.document(inp, outcome, items)
        await tx.conn.execute(store.minutes.insert().values(round_id=inp.round_id, meeting_no=inp.meeting_no, document=document,
                                                            text=minutes.text(document), recorded_at=utc_now()))
        still_open = [a for a in inp.pending if str(a) not in outcome.decided]
        await tx.conn.execute(store.rounds.update().where(store.rounds.c.id == inp.round_id).values(
            meeting_no=inp.meeting_no + 1, status="open" if still_open else "closed"))
        return outcome


async def pay_measure(rt: Runtime, principal: Principal, application_id: uuid.UUID) -> None:
    """An approved measure is paid out in full (unless its decision grants drawdowns); its proof of use
    comes due N months after the measure ends (default 3), watched by a durable workflow started before
    the commit (idempotent)."""
    async with rt.db.read() as conn:
        row = await store.get_measure(conn, application_id)
    if row is None:
        raise NotFound(f"application {application_id} not found")
    if row.status == MeasureStatus.PAID and row.paid_cents == row.amount_cents:
        return
    if row.status != MeasureStatus.APPROVED:
        raise Conflict(f"the application is {row.status}, not approved")
    if row.drawdowns_requested:
        raise Conflict("the decision grants payout in drawdowns (Mittelabruf): the organisation calls the money off in parts")
    due_on = await _ensure_proof_workflow(rt, row)
    m = store.measures
    async with rt.outbox.transaction() as tx:
        row = await store.get_measure(tx.conn, application_id, lock=True)
        assert row is not None
        if row.status != MeasureStatus.APPROVED:
            raise Conflict(f"the application is {row.status}, not approved")
        await ledger.disburse(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, row.amount_cents, row.id, principal.username)
        await tx.conn.execute(m.update().where(m.c.id == row.id).values(status=MeasureStatus.PAID.value, paid_cents=row.amount_cents, proof_due_on=due_on))
        await tx.emit(MeasurePaid(tenant=rt.platform.tenant, correlation_id=row.id, application_id=row.id, amount_cents=row.amount_cents, fiscal_year=row.fiscal_year))


async def _ensure_proof_workflow(rt: Runtime, row: Any) -> date:
    """The proof of use comes due N months after the measure ends (default 3), watched by a durable
    workflow started at the first payout, before its commit (idempotent on the business key)."""
    due_on = add_months(row.period_end, rt.settings.proof_of_use_months)
    assert rt.temporal is not None
    await rt.temporal.start_workflow(
        PROOF_OF_USE_WORKFLOW,
        ProofOfUseInput(application_id=row.id, tenant=rt.platform.tenant, due_on=due_on, reminder_weeks=rt.settings.proof_reminder_weeks),
        id=proof_of_use_workflow_id(row.id), task_queue="funding", id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return due_on


async def proof_reminder(rt: Runtime, inp: ProofReminderInput) -> None:
    """Reminders before the proof of use is due go to the applicant; once overdue, the fund managers are alerted."""
    async with rt.outbox.transaction() as tx:
        row = await store.get_measure(tx.conn, inp.application_id)
        if row is None:
            raise NotFound(f"application {inp.application_id} not found")
        if row.proof_received_at is not None or row.proof_version:
            return
        due_at = datetime.combine(inp.due_on, time(23, 59, 59), tzinfo=BERLIN)
        if inp.kind == "overdue":
            raised = await raise_alert(
                tx.conn, rt.tables, key=f"proof-of-use-overdue-{row.id}", kind="proof_of_use_overdue", role=Role.FUND_MANAGER.value,
                subject_type="measure_application", subject_id=row.id, due_at=due_at,
                message=f"Verwendungsnachweis für Maßnahme {row.id} war bis {inp.due_on.isoformat()} fällig und fehlt.",
            )
            if raised:
                await tx.emit(ProofOfUseOverdue(tenant=inp.tenant, correlation_id=row.id, application_id=row.id, due_on=inp.due_on))
        else:
            await raise_alert(
                tx.conn, rt.tables, key=f"proof-of-use-{inp.kind}-{row.id}", kind=f"proof_of_use_{inp.kind}", role=Role.FUND_APPLICANT.value,
                assignee=row.applicant, subject_type="measure_application", subject_id=row.id, due_at=due_at,
                message=f"Erinnerung: Verwendungsnachweis für Maßnahme {row.id} ist am {inp.due_on.isoformat()} fällig.",
            )
            if row.contact_email:
                weeks = int(inp.kind.removeprefix("reminder_").removesuffix("w")) if inp.kind.startswith("reminder_") else None
                subject, body = mail.reminder_mail(row.title, inp.due_on, weeks)
                await store.enqueue_mail(tx.conn, key=f"proof-{inp.kind}-{row.id}", kind="proof_reminder", application_id=row.id,
                                         recipient=row.contact_email, subject=subject, body=body, now=utc_now())


async def record_proof(rt: Runtime, inp: RecordProofInput) -> ProofRecorded:
    """The proof of use (spent amount, receipts) is recorded; unspent money returns to the budget
    (ledger return entry). Idempotent."""
    m = store.measures
    sub = inp.submission
    async with rt.outbox.transaction() as tx:
        row = await store.get_measure(tx.conn, inp.application_id, lock=True)
        if row is None:
            raise NotFound(f"application {inp.application_id} not found")
        days_late = max(0, (inp.received_on - inp.due_on).days)
        if row.proof_received_at is not None:
            return ProofRecorded(spent_cents=row.spent_cents, returned_cents=row.returned_cents, days_late=days_late)
        if row.status != MeasureStatus.PAID:
            raise Conflict(f"the application is {row.status}, not paid")
        if sub.spent_cents > row.paid_cents:
            raise Invalid(f"spent_cents exceeds the {row.paid_cents} cents paid", field="spent_cents")
        returned = row.paid_cents - sub.spent_cents
        await ledger.give_back(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, returned, row.id, sub.submitted_by)
        await tx.conn.execute(m.update().where(m.c.id == row.id).values(
            status=MeasureStatus.PROOF_RECEIVED.value, spent_cents=sub.spent_cents, returned_cents=returned, receipts=sub.receipts, proof_received_at=utc_now()))
        await tx.emit(ProofOfUseReceived(tenant=inp.tenant, correlation_id=row.id, application_id=row.id, spent_cents=sub.spent_cents,
                                         returned_cents=returned, receipts=sub.receipts, days_late=days_late))
        await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=sub.submitted_by)
        return ProofRecorded(spent_cents=sub.spent_cents, returned_cents=returned, days_late=days_late)


# --- the applicant portal: drawdowns, receipts, the reviewed proof of use ---------------------------


def _own(principal: Principal, row: Any) -> None:
    if not principal.has(Role.FUND_MANAGER.value) and row.applicant != principal.username:
        raise Forbidden("organisations act on their own applications only")


async def request_drawdown(rt: Runtime, principal: Principal, application_id: uuid.UUID, cmd: DrawdownRequest) -> uuid.UUID:
    """The organisation calls off part of the grant (Mittelabruf) where the decision allows drawdowns;
    the sum of all drawdowns never exceeds the granted amount (domain.drawdown_problem)."""
    drawdown_id = uuid.uuid4()
    async with rt.db.begin() as conn:
        row = await store.get_measure(conn, application_id, lock=True)
        if row is None:
            raise NotFound(f"application {application_id} not found")
        _own(principal, row)
        if not drawdowns_allowed(bool(row.drawdowns_requested), row.status):
            raise Conflict("the decision does not allow drawdowns; the grant is paid out at once")
        if row.status not in (MeasureStatus.APPROVED, MeasureStatus.PAID):
            raise Conflict(f"the application is {row.status}; drawdowns are requested between approval and the proof of use")
        problem = drawdown_problem(row.amount_cents, await store.drawn_cents(conn, application_id), cmd.amount_cents)
        if problem:
            raise Invalid(problem, field="amount_cents")
        await store.insert_drawdown(conn, id=drawdown_id, application_id=application_id, amount_cents=cmd.amount_cents, status="requested",
                                    requested_by=principal.username, requested_at=utc_now())
        await rt.audit(conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "request_drawdown", "measure_application", application_id)
    return drawdown_id


async def pay_drawdown(rt: Runtime, principal: Principal, application_id: uuid.UUID, drawdown_id: uuid.UUID) -> None:
    """The payment officer pays a requested drawdown: a ledger disbursement of that amount; the first one
    starts the proof-of-use workflow. Idempotent (a paid drawdown is not paid again)."""
    async with rt.db.read() as conn:
        row = await store.get_measure(conn, application_id)
        draw = await store.get_drawdown(conn, application_id, drawdown_id)
    if row is None or draw is None:
        raise NotFound(f"drawdown {drawdown_id} not found")
    if draw.status == "paid":
        return
    if row.status not in (MeasureStatus.APPROVED, MeasureStatus.PAID):
        raise Conflict(f"the application is {row.status}; the drawdown can no longer be paid")
    due_on = await _ensure_proof_workflow(rt, row)
    async with rt.outbox.transaction() as tx:
        row = await store.get_measure(tx.conn, application_id, lock=True)
        assert row is not None
        if row.status not in (MeasureStatus.APPROVED, MeasureStatus.PAID):
            raise Conflict(f"the application is {row.status}; the drawdown can no longer be paid")
        problem = drawdown_problem(row.amount_cents, row.paid_cents, draw.amount_cents)
        if problem:
            raise Conflict(problem)
        if not await store.mark_drawdown_paid(tx.conn, drawdown_id, principal.username, utc_now()):
            return
        await ledger.disburse(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, draw.amount_cents, row.id, principal.username)
        await store.update_measure(tx.conn, row.id, status=MeasureStatus.PAID.value, paid_cents=row.paid_cents + draw.amount_cents, proof_due_on=due_on)
        await tx.emit(MeasurePaid(tenant=rt.platform.tenant, correlation_id=row.id, application_id=row.id, amount_cents=draw.amount_cents, fiscal_year=row.fiscal_year))


PROOF_OPEN = (MeasureStatus.PAID, MeasureStatus.REWORK_REQUESTED)


def _clean_filename(name: str | None) -> str:
    base = (name or "beleg").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*').strip() or "beleg"
    return base[-200:]


async def upload_receipt(rt: Runtime, principal: Principal, application_id: uuid.UUID, filename: str | None, data: bytes) -> Any:
    """A receipt of the proof of use is stored in funding's database with its SHA-256 (the same file
    twice is kept once). Refused, with nothing stored: not a PDF, PNG or JPEG by its magic bytes (422),
    above the size limit or the total per measure (413)."""
    s = rt.settings
    async with rt.db.begin() as conn:
        row = await store.get_measure(conn, application_id, lock=True)
        if row is None:
            raise NotFound(f"application {application_id} not found")
        _own(principal, row)
        if row.status not in PROOF_OPEN:
            raise Conflict(f"the application is {row.status}; receipts belong to a proof of use being prepared")
        digest = hashlib.sha256(data).hexdigest()
        same = await store.receipt_by_hash(conn, application_id, digest)
        if same is not None:
            return same
        refused = receipt_problem(len(data), data[:16], await store.receipts_total(conn, application_id), s.receipt_max_bytes, s.receipts_total_max_bytes)
        if refused is not None:
            status, reason = refused
            raise (PayloadTooLarge if status == 413 else Invalid)(reason, field="file")
        receipt_id = uuid.uuid4()
        await store.insert_receipt(conn, id=receipt_id, application_id=application_id, filename=_clean_filename(filename),
                                   media_type=receipt_media_type(data[:16]), size_bytes=len(data), sha256=digest, content=data,
                                   uploaded_by=principal.username, uploaded_at=utc_now())
        await rt.audit(conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "upload_receipt", "measure_application", application_id)
        return await store.receipt_by_hash(conn, application_id, digest)


async def prepare_proof(rt: Runtime, principal: Principal, application_id: uuid.UUID, cmd: ProofSubmit) -> tuple[int, int, int]:
    """Checks a proof of use against the measure and stores it as the next version's draft (its texts
    stay in funding's database; the workflow gets the version). Returns (version, spent, receipts)."""
    async with rt.db.begin() as conn:
        row = await store.get_measure(conn, application_id, lock=True)
        if row is None:
            raise NotFound(f"application {application_id} not found")
        _own(principal, row)
        if row.status not in PROOF_OPEN:
            raise Conflict(f"the application is {row.status}; a proof of use is submitted after payout or when rework was asked for")
        problem = proof_problem(cmd.items, row.paid_cents, row.period_start, date.today())
        if problem:
            raise Invalid(problem[1], field=problem[0])
        known = {r.id for r in await store.receipts_of(conn, application_id)}
        for i, rid in enumerate(cmd.receipt_ids):
            if rid not in known:
                raise Invalid("unknown receipt of this measure (upload it first)", field=f"receipt_ids.{i}")
        version = row.proof_version + 1
        draft = {"version": version, "items": [i.model_dump(mode="json") for i in cmd.items], "report": cmd.report,
                 "receipt_ids": [str(r) for r in dict.fromkeys(cmd.receipt_ids)]}
        await store.update_measure(conn, application_id, proof_draft=draft)
        await rt.audit(conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "prepare_proof", "measure_application", application_id)
    return version, sum(i.amount_cents for i in cmd.items), len(draft["receipt_ids"])


def _proof_state(row: Any, days_late: int = 0) -> ProofState:
    return ProofState(status=row.status, version=row.proof_version, spent_cents=row.spent_cents or 0, returned_cents=row.returned_cents or 0,
                      released_cents=row.released_cents or 0, days_late=days_late)


def _days_late(row: Any) -> int:
    return row.days_late or 0


async def submit_proof(rt: Runtime, inp: SubmitProofInput) -> ProofState:
    """The workflow takes the stored draft as version N of the proof of use: it waits for review; the
    fund managers are alerted, the reminders end. Idempotent per version."""
    async with rt.outbox.transaction() as tx:
        row = await store.get_measure(tx.conn, inp.application_id, lock=True)
        if row is None:
            raise NotFound(f"application {inp.application_id} not found")
        if row.proof_version >= inp.version:
            return _proof_state(row, _days_late(row))
        if row.status not in PROOF_OPEN:
            raise Conflict(f"the application is {row.status}; no proof of use is expected")
        draft = row.proof_draft or {}
        if draft.get("version") != inp.version:
            raise Conflict("the proof of use changed meanwhile; please submit it again")
        spent = sum(int(i["amount_cents"]) for i in draft["items"])
        if spent > row.paid_cents:
            raise Invalid(f"the items add up to {spent} cents, more than the {row.paid_cents} cents paid out", field="items")
        receipt_ids = [uuid.UUID(r) for r in draft["receipt_ids"]]
        await store.attach_receipts(tx.conn, row.id, receipt_ids, inp.version)
        received_at = row.proof_received_at or utc_now()
        await store.update_measure(
            tx.conn, row.id, status=MeasureStatus.PROOF_SUBMITTED.value, proof_items=draft["items"], proof_report=draft["report"],
            spent_cents=spent, receipts=len(receipt_ids), proof_version=inp.version, proof_draft=None, proof_received_at=received_at,
            days_late=row.days_late if row.days_late is not None else max(0, (inp.received_on - inp.due_on).days),
        )
        await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=inp.submitted_by)
        await raise_alert(
            tx.conn, rt.tables, key=f"proof-of-use-review-{row.id}-{inp.version}", kind="proof_of_use_review", role=Role.FUND_MANAGER.value,
            subject_type="measure_application", subject_id=row.id,
            message=f"Verwendungsnachweis für Maßnahme {row.id} (Fassung {inp.version}) liegt zur Prüfung vor.",
        )
        row = await store.get_measure(tx.conn, inp.application_id)
        return _proof_state(row, _days_late(row))


async def prepare_review(rt: Runtime, principal: Principal, application_id: uuid.UUID, cmd: ProofReview) -> int:
    """Checks a review and stores its reason for the workflow's step; returns the version under review."""
    problem = review_problem(cmd)
    if problem:
        raise Invalid(problem[1], field=problem[0])
    async with rt.db.begin() as conn:
        row = await store.get_measure(conn, application_id, lock=True)
        if row is None:
            raise NotFound(f"application {application_id} not found")
        if row.status != MeasureStatus.PROOF_SUBMITTED:
            raise Conflict(f"the application is {row.status}; no proof of use is waiting for review")
        await store.update_measure(conn, application_id, review_draft=(cmd.reason or "").strip() or None)
        await rt.audit(conn, principal, (Role.FUND_MANAGER,), f"review_{cmd.decision}", "measure_application", application_id)
        return int(row.proof_version)


async def _settle(tx: Any, rt: Runtime, row: Any, actor: str, tenant: str) -> None:
    """Unspent paid money returns to the budget and undrawn granted money is released, once (status guard
    under the row lock; the ledger keeps the budget from going negative)."""
    returned, released = settlement(row.amount_cents, row.paid_cents, row.spent_cents or 0)
    await ledger.give_back(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, returned, row.id, actor)
    await ledger.release(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, released, row.id, actor)
    await store.update_measure(tx.conn, row.id, status=MeasureStatus.SETTLED.value, returned_cents=returned, released_cents=released)
    await tx.emit(ProofOfUseReceived(tenant=tenant, correlation_id=row.id, application_id=row.id, spent_cents=row.spent_cents or 0,
                                     returned_cents=returned, receipts=row.receipts or 0, days_late=_days_late(row)))


async def review_proof(rt: Runtime, inp: ReviewProofInput) -> ProofState:
    """The fund manager accepts version N or asks for rework (the organisation is mailed the reason and
    submits again). An accepted proof with nothing to give back settles at once. Idempotent."""
    cmd = inp.command
    async with rt.outbox.transaction() as tx:
        row = await store.get_measure(tx.conn, inp.application_id, lock=True)
        if row is None:
            raise NotFound(f"application {inp.application_id} not found")
        if row.proof_version != cmd.version:
            raise Conflict(f"version {cmd.version} is not the proof of use under review")
        if row.status != MeasureStatus.PROOF_SUBMITTED:
            return _proof_state(row, _days_late(row))  # this version was reviewed already
        await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=cmd.actor)
        if cmd.decision == "rework":
            reason = row.review_draft or "Bitte ergänzen Sie den Verwendungsnachweis."
            await store.update_measure(tx.conn, row.id, status=MeasureStatus.REWORK_REQUESTED.value, rework_reason=reason, review_draft=None, reviewed_by=cmd.actor)
            await raise_alert(
                tx.conn, rt.tables, key=f"proof-of-use-rework-{row.id}-{cmd.version}", kind="proof_of_use_rework", role=Role.FUND_APPLICANT.value,
                assignee=row.applicant, subject_type="measure_application", subject_id=row.id,
                message=f"Verwendungsnachweis für Maßnahme {row.id}: bitte überarbeiten und erneut einreichen.",
            )
            if row.contact_email:
                subject, body = mail.rework_mail(row.title, reason)
                await store.enqueue_mail(tx.conn, key=f"rework-{row.id}-{cmd.version}", kind="rework", application_id=row.id,
                                         recipient=row.contact_email, subject=subject, body=body, now=utc_now())
        else:
            await store.update_measure(tx.conn, row.id, status=MeasureStatus.PROOF_ACCEPTED.value, rework_reason=None, review_draft=None, reviewed_by=cmd.actor)
            row = await store.get_measure(tx.conn, inp.application_id)
            if settlement(row.amount_cents, row.paid_cents, row.spent_cents or 0) == (0, 0):
                await _settle(tx, rt, row, cmd.actor, inp.tenant)
        row = await store.get_measure(tx.conn, inp.application_id)
        return _proof_state(row, _days_late(row))


async def settle_proof(rt: Runtime, inp: SettleProofInput) -> ProofState:
    """The fund manager reclaims the unspent rest after accepting the proof of use. Exactly once."""
    async with rt.outbox.transaction() as tx:
        row = await store.get_measure(tx.conn, inp.application_id, lock=True)
        if row is None:
            raise NotFound(f"application {inp.application_id} not found")
        if row.status == MeasureStatus.SETTLED:
            return _proof_state(row, _days_late(row))
        if row.status != MeasureStatus.PROOF_ACCEPTED:
            raise Conflict(f"the application is {row.status}; unspent money is reclaimed after the proof of use is accepted")
        await _settle(tx, rt, row, inp.actor, inp.tenant)
        row = await store.get_measure(tx.conn, inp.application_id)
        return _proof_state(row, _days_late(row))


async def close_year(rt: Runtime, principal: Principal, fund: Fund, year: int) -> YearStatement:
    """The fund's year closes with a statement of approved, paid, returned and remaining money; no
    reservation is accepted afterwards."""
    async with rt.outbox.transaction() as tx:
        b = store.budgets
        result = await tx.conn.execute(b.update().where(b.c.fund == fund.value, b.c.fiscal_year == year, b.c.closed_at.is_(None)).values(closed_at=utc_now()))
        if result.rowcount != 1:
            await ledger.balance(tx.conn, fund, year)  # NotFound if there is no such budget
            raise Conflict(f"the {fund.value} fund's year {year} is already closed")
        bal = await ledger.balance(tx.conn, fund, year)
        statement = YearStatement(fund=fund, fiscal_year=year, budget_cents=bal.budget_cents, approved_cents=bal.approved_cents,
                                  paid_cents=bal.paid_cents, returned_cents=bal.returned_cents, remaining_cents=bal.available_cents)
        await tx.emit(FundYearClosed(tenant=rt.platform.tenant, correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{fund.value}/{year}"),
                                     **statement.model_dump(mode="json")))
        return statement


# --- activities ---------------------------------------------------------------------------------


def activities(rt: Runtime) -> list:
    @activity.defn(name=HARDSHIP_STEP)
    async def hardship_step_activity(inp: HardshipStepInput) -> HardshipState:
        return await hardship_step(rt, inp)

    @activity.defn(name=HARDSHIP_ESCALATE)
    async def hardship_escalate_activity(inp: HardshipEscalateInput) -> None:
        await escalate_hardship(rt, inp)

    @activity.defn(name=CONCLUDE_MEETING)
    async def conclude_meeting_activity(inp: ConcludeMeetingInput) -> MeetingOutcome:
        return await conclude_meeting(rt, inp)

    @activity.defn(name=PROOF_REMINDER)
    async def proof_reminder_activity(inp: ProofReminderInput) -> None:
        await proof_reminder(rt, inp)

    @activity.defn(name=RECORD_PROOF)
    async def record_proof_activity(inp: RecordProofInput) -> ProofRecorded:
        return await record_proof(rt, inp)

    @activity.defn(name=SUBMIT_PROOF)
    async def submit_proof_activity(inp: SubmitProofInput) -> ProofState:
        return await submit_proof(rt, inp)

    @activity.defn(name=REVIEW_PROOF)
    async def review_proof_activity(inp: ReviewProofInput) -> ProofState:
        return await review_proof(rt, inp)

    @activity.defn(name=SETTLE_PROOF)
    async def settle_proof_activity(inp: SettleProofInput) -> ProofState:
        return await settle_proof(rt, inp)

    return [hardship_step_activity, hardship_escalate_activity, conclude_meeting_activity, proof_reminder_activity, record_proof_activity,
            submit_proof_activity, review_proof_activity, settle_proof_activity]
