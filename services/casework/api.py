"""Casework's HTTP API: cases, plans, reviews, consents and referrals for caseworkers and team leads
(who also record the answers of partners without access); the caseworker register for team leads; the
Integration Point advisor's side of referrals with the handover; the partner organisations' side
(`/partner-referrals`, role referral_partner scoped by its `partner` claim).

Access: a caseworker sees the cases of their caseload and of colleagues they substitute; team leads
(and operators) see all cases of the team. Reads of personal data (plan, consents, timeline) are
audit-logged."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from services.casework import handlers, store
from services.casework.domain import (
    INTEGRATION_POINT_PARTNERS,
    AnswerIn,
    CaseList,
    CaseOut,
    CaseworkerIn,
    CaseworkerNew,
    CaseworkerOut,
    CloseIn,
    ConsentIn,
    ConsentOut,
    ConsentWithdrawIn,
    ContactIn,
    FirstContactIn,
    GoalChangeIn,
    GoalIn,
    GoalOut,
    HandoverOut,
    HandoverStep,
    LeaveIn,
    PlanAgreeIn,
    PlanOut,
    ReassignIn,
    ReferralIn,
    ReferralOut,
    ResourceCheckIn,
    ReviewIn,
    StepIn,
    TimelineEntry,
    check_review_goals,
    effective_cap,
    partner_scope,
)
from services.contracts.activities import review_cycle_workflow_id
from services.contracts.casework_workflows import (
    CASEWORKER,
    REFERRAL_PARTNER,
    FirstContactUpdate,
    GoalResult,
    MeasureRating,
    ReferralStepUpdate,
    ReviewUpdate,
    case_onboarding_workflow_id,
    first_contact_error,
    may_hand_over,
    partner_process,
    referral_step_input_error,
    referral_workflow_id,
)
from services.contracts.vocab import Partner
from services.kit import telemetry
from services.kit.alerts import Alert, list_alerts
from services.kit.auth import Principal, Role, require
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.service import Runtime, RuntimeDep
from services.kit.temporal import execute_update_or_start

router = APIRouter(tags=["cases"])
READ = (Role.CASEWORKER, Role.TEAM_LEAD, Role.OPERATOR)
WORK = (Role.CASEWORKER, Role.TEAM_LEAD)
LEAD = (Role.TEAM_LEAD,)
IP = (Role.IP_ADVISOR,)
PARTNER = (Role.REFERRAL_PARTNER, Role.ABRA_COACH, Role.ABRA_LEAD)
ALL_CASES = (Role.TEAM_LEAD.value, Role.OPERATOR.value)

Reader = Annotated[Principal, Depends(require(*READ))]
Worker = Annotated[Principal, Depends(require(*WORK))]
Lead = Annotated[Principal, Depends(require(*LEAD))]
Advisor = Annotated[Principal, Depends(require(*IP))]
PartnerStaff = Annotated[Principal, Depends(require(*PARTNER))]


async def _out(conn: Any, row: sa.Row) -> CaseOut:
    return CaseOut(
        case_id=row.id, household_id=row.household_id, intake_id=row.intake_id, programme=row.programme, district=row.district,
        phase=row.phase, opened_at=row.opened_at, caseworker=row.caseworker, queued=row.queued_at is not None and row.caseworker is None,
        closed_at=row.closed_at, close_reason=row.close_reason, first_contact_on=row.first_contact_on, plan_version=row.plan_version,
        member_ids=await store.member_ids(conn, row.id),
    )


async def _case(conn: Any, principal: Principal, case_id: uuid.UUID) -> sa.Row:
    """The case if the caller may see it: team leads all, caseworkers their caseload and substitutions."""
    telemetry.mark(case_id=case_id)
    row = await store.get_case(conn, case_id)
    if row is None:
        raise NotFound("no such case")
    if principal.has(*ALL_CASES):
        return row
    visible = (await conn.execute(sa.select(store.cases.c.id).where(store.cases.c.id == case_id, store.visible_to(principal.username)))).first()
    if visible is None:
        raise Forbidden("the case is not in your caseload")
    return row


async def _check(rt: Runtime, principal: Principal, case_id: uuid.UUID) -> sa.Row:
    async with rt.db.read() as conn:
        return await _case(conn, principal, case_id)


async def _update(rt: Runtime, workflow_id: str, update: str, arg: Any, what: str, ensure: Callable[[], Awaitable[None]]) -> Any:
    """Sends a human record to its workflow as an update (`ensure` starts the case's or referral's
    workflows if their commit was a moment ago); a rejected validator becomes 409 with its reason."""
    assert rt.temporal is not None
    try:
        return await execute_update_or_start(rt.temporal, workflow_id, update, arg, ensure)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        message = getattr(cause, "message", None) or str(cause or exc)
        raise Conflict(message, field=what) from exc
    except RPCError as exc:
        raise Conflict(f"{what}: nothing is open to record ({exc.status.name})", field=what) from exc


# --- cases -------------------------------------------------------------------------------------------


@router.get("/cases", response_model=CaseList, summary="List cases (pseudonymous ids only); caseworkers see their own")
async def list_cases(
    rt: RuntimeDep,
    principal: Reader,
    intake_id: uuid.UUID | None = None,
    household_id: uuid.UUID | None = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CaseList:
    visible_for = None if principal.has(*ALL_CASES) else principal.username
    async with rt.db.read() as conn:
        rows, total = await store.list_cases(
            conn, intake_id=intake_id, household_id=household_id, limit=limit, offset=offset, visible_for=visible_for, open_only=open_only,
        )
        return CaseList(cases=[await _out(conn, r) for r in rows], total=total)


@router.get("/cases/{id}", response_model=CaseOut, summary="Read a case")
async def get_case(id: uuid.UUID, rt: RuntimeDep, principal: Reader) -> CaseOut:
    async with rt.db.begin() as conn:
        row = await store.get_case(conn, id)
        await rt.audit(conn, principal, [r.value for r in READ], "read", "case", id, "ok" if row else "not_found")
    async with rt.db.read() as conn:
        return await _out(conn, await _case(conn, principal, id))


@router.post("/cases/{id}/close", response_model=CaseOut, summary="Close a case with its reason")
async def close_case(id: uuid.UUID, body: CloseIn, rt: RuntimeDep, principal: Worker) -> CaseOut:
    await _check(rt, principal, id)
    await handlers.close_case(rt, principal, id, body.reason.value)
    async with rt.db.read() as conn:
        return await _out(conn, await store.get_case(conn, id))


@router.post("/cases/{id}/first-contact", response_model=CaseOut, summary="Record the first contact (welcome visit) and the starter pack")
async def first_contact(id: uuid.UUID, body: FirstContactIn, rt: RuntimeDep, principal: Worker) -> CaseOut:
    case = await _check(rt, principal, id)
    error = first_contact_error(body.contact_on, case.opened_at.date(), date.today())
    if error:
        raise Invalid(error, field="contact_on")
    await _update(rt, case_onboarding_workflow_id(id), "record_first_contact",
                  FirstContactUpdate(contact_on=body.contact_on, starter_pack=body.starter_pack, recorded_by=principal.username), "contact_on",
                  lambda: handlers.ensure_case_workflows(rt, id))
    if body.note:
        async with rt.db.begin() as conn:
            await store.note(conn, id, "contact_note", principal.username, text=body.note)
    async with rt.db.read() as conn:
        return await _out(conn, await store.get_case(conn, id))


@router.post("/cases/{id}/contacts", status_code=204, summary="Record a contact with the client (timeline)")
async def contact(id: uuid.UUID, body: ContactIn, rt: RuntimeDep, principal: Worker) -> None:
    case = await _check(rt, principal, id)
    if case.closed_at is not None:
        raise Conflict("the case is closed")
    if body.contact_on > date.today() + timedelta(days=1):
        raise Invalid("a contact cannot be in the future", field="contact_on")
    async with rt.db.begin() as conn:
        await store.note(conn, id, "contact", principal.username, contact_on=body.contact_on, contact_kind=body.kind, text=body.note)


@router.post("/cases/{id}/reassign", response_model=CaseOut, summary="Team lead: move a case to another caseworker")
async def reassign(id: uuid.UUID, body: ReassignIn, rt: RuntimeDep, principal: Lead) -> CaseOut:
    await handlers.reassign(rt, principal, id, body.caseworker)
    async with rt.db.read() as conn:
        return await _out(conn, await store.get_case(conn, id))


class AssignmentOut(BaseModel):
    caseworker: str
    reason: str
    at: Any
    by: str


@router.get("/cases/{id}/assignments", response_model=list[AssignmentOut], summary="Assignment history of a case")
async def assignments(id: uuid.UUID, rt: RuntimeDep, principal: Reader) -> list[AssignmentOut]:
    async with rt.db.read() as conn:
        await _case(conn, principal, id)
        rows = (await conn.execute(sa.select(store.assignments).where(store.assignments.c.case_id == id).order_by(store.assignments.c.id))).all()
    return [AssignmentOut(caseworker=r.caseworker, reason=r.reason, at=r.at, by=r.by) for r in rows]


@router.get("/cases/{id}/timeline", response_model=list[TimelineEntry], summary="The case's timeline (digital Laufzettel, 002 §4.1); audit-logged")
async def timeline(id: uuid.UUID, rt: RuntimeDep, principal: Reader) -> list[TimelineEntry]:
    async with rt.db.begin() as conn:
        try:
            await _case(conn, principal, id)
        except (NotFound, Forbidden) as exc:
            await rt.audit(conn, principal, [r.value for r in READ], "read", "case_timeline", id, type(exc).__name__.lower())
            raise
        await rt.audit(conn, principal, [r.value for r in READ], "read", "case_timeline", id)
        rows = await store.timeline_of(conn, id)
    return [TimelineEntry(at=r.at, kind=r.kind, actor=r.actor, detail=json.loads(r.detail)) for r in rows]


# --- plan --------------------------------------------------------------------------------------------


def _goal(r: sa.Row) -> GoalOut:
    return GoalOut(goal_id=r.id, case_id=r.case_id, person_id=r.person_id, field_of_action=r.field_of_action, title=r.title,
                   target_date=r.target_date, responsible=r.responsible, status=r.status, revision=r.revision)


@router.get("/cases/{id}/plan", response_model=PlanOut, summary="Integration plan: resource check and goals; audit-logged")
async def get_plan(id: uuid.UUID, rt: RuntimeDep, principal: Reader) -> PlanOut:
    async with rt.db.begin() as conn:
        case = await _case(conn, principal, id)
        await rt.audit(conn, principal, [r.value for r in READ], "read", "plan", id)
        plan = (await conn.execute(sa.select(store.plans).where(store.plans.c.case_id == id))).first()
        goals = await store.case_goals(conn, id)
    check = json.loads(plan.resource_check) if plan and plan.resource_check else None
    return PlanOut(case_id=id, plan_version=case.plan_version, resource_check=check, goals=[_goal(g) for g in goals])


@router.post("/cases/{id}/plan/resource-check", status_code=204, summary="Record the resource check answers")
async def resource_check(id: uuid.UUID, body: ResourceCheckIn, rt: RuntimeDep, principal: Worker) -> None:
    await _check(rt, principal, id)
    await handlers.record_resource_check(rt, principal, id, body.answers)


@router.post("/cases/{id}/goals", response_model=GoalOut, status_code=201, summary="Add a goal to the integration plan")
async def add_goal(id: uuid.UUID, body: GoalIn, rt: RuntimeDep, principal: Worker) -> GoalOut:
    await _check(rt, principal, id)
    goal_id = await handlers.add_goal(rt, principal, id, body)
    async with rt.db.read() as conn:
        return _goal((await conn.execute(sa.select(store.goals).where(store.goals.c.id == goal_id))).one())


@router.patch("/cases/{id}/goals/{goal_id}", response_model=GoalOut, summary="Adjust a goal (each change is kept as a revision)")
async def change_goal(id: uuid.UUID, goal_id: uuid.UUID, body: GoalChangeIn, rt: RuntimeDep, principal: Worker) -> GoalOut:
    await _check(rt, principal, id)
    await handlers.change_goal(rt, principal, id, goal_id, body)
    async with rt.db.read() as conn:
        return _goal((await conn.execute(sa.select(store.goals).where(store.goals.c.id == goal_id))).one())


@router.get("/cases/{id}/goals/{goal_id}/revisions", summary="Every revision of a goal")
async def goal_revisions(id: uuid.UUID, goal_id: uuid.UUID, rt: RuntimeDep, principal: Reader) -> list[dict]:
    async with rt.db.begin() as conn:
        await _case(conn, principal, id)
        await rt.audit(conn, principal, [r.value for r in READ], "read", "goal", goal_id)
        rows = (await conn.execute(sa.select(store.goal_revisions).where(store.goal_revisions.c.goal_id == goal_id).order_by(store.goal_revisions.c.revision))).all()
    return [{"revision": r.revision, "at": r.at, "by": r.by, **json.loads(r.snapshot)} for r in rows]


@router.post("/cases/{id}/plan/agree", summary="Record the integration agreement (agreed by client and caseworker)")
async def agree_plan(id: uuid.UUID, body: PlanAgreeIn, rt: RuntimeDep, principal: Worker) -> dict:
    await _check(rt, principal, id)
    return {"plan_version": await handlers.agree_plan(rt, principal, id, body)}


# --- review ------------------------------------------------------------------------------------------


@router.post("/cases/{id}/reviews", summary="Record the due review: per goal result, effect of each measure")
async def record_review(id: uuid.UUID, body: ReviewIn, rt: RuntimeDep, principal: Worker) -> dict:
    await _check(rt, principal, id)
    async with rt.db.read() as conn:
        goal_ids = {g.id for g in await store.case_goals(conn, id)}
    check_review_goals(body, goal_ids)
    try:
        measures = [MeasureRating.model_validate(m) for m in body.measures]
    except ValueError as exc:
        raise Invalid(f"measures: {exc}", field="measures") from exc
    review = ReviewUpdate(
        cycle=body.cycle, goals=[GoalResult(goal_id=uuid.UUID(str(g["goal_id"])), result=g["result"]) for g in body.goals],
        measures=measures, recorded_by=principal.username,
    )
    return {"result": await _update(rt, review_cycle_workflow_id(id), "record_review", review, "cycle", lambda: handlers.ensure_case_workflows(rt, id))}


# --- consents ----------------------------------------------------------------------------------------


@router.get("/cases/{id}/consents", response_model=list[ConsentOut], summary="Consent register of the case's members; audit-logged")
async def consents(id: uuid.UUID, rt: RuntimeDep, principal: Reader) -> list[ConsentOut]:
    async with rt.db.begin() as conn:
        await _case(conn, principal, id)
        await rt.audit(conn, principal, [r.value for r in READ], "read", "consents", id)
        people = await store.member_ids(conn, id, active_only=False)
        rows = (await conn.execute(sa.select(store.consents).where(store.consents.c.person_id.in_(people)).order_by(store.consents.c.person_id, store.consents.c.partner, store.consents.c.purpose))).all()
    return [ConsentOut(person_id=r.person_id, partner=r.partner, purpose=r.purpose, given_on=r.given_on, source=r.source, withdrawn_at=r.withdrawn_at) for r in rows]


@router.post("/cases/{id}/consents", status_code=204, summary="Record a documented consent of a member")
async def give_consent(id: uuid.UUID, body: ConsentIn, rt: RuntimeDep, principal: Worker) -> None:
    await _check(rt, principal, id)
    if body.given_on > date.today():
        raise Invalid("a consent cannot be dated in the future", field="given_on")
    await handlers.record_consent(rt, principal, id, body.person_id, body.partner, body.purpose, body.given_on)


@router.post("/cases/{id}/consents/withdraw", summary="Record a withdrawal; open referrals to that partner are cancelled")
async def withdraw_consent(id: uuid.UUID, body: ConsentWithdrawIn, rt: RuntimeDep, principal: Worker) -> dict:
    await _check(rt, principal, id)
    return {"referrals_cancelled": await handlers.withdraw_consent(rt, principal, id, body.person_id, body.partner, body.purpose)}


# --- referrals ---------------------------------------------------------------------------------------


def _referral(r: sa.Row) -> ReferralOut:
    process = partner_process(r.partner)
    return ReferralOut(
        referral_id=r.id, case_id=r.case_id, person_id=r.person_id, partner=r.partner, purpose=r.purpose, status=r.status, made_on=r.made_on,
        acknowledged_on=r.acknowledged_on, appointment_on=r.appointment_on, measure=r.measure, outcome=r.outcome, handed_over_from=r.handed_over_from,
        latest_step=r.latest_step, outcome_on=r.outcome_on, recorded_by=process.recorder if process else None,
    )


async def _record_answer(rt: Runtime, principal: Principal, row: sa.Row, body: AnswerIn) -> ReferralOut:
    """A partner's step (recorded by the partner or, for partners without access, the caseworker):
    the input checked against the partner's table (422 at its field), the order by the workflow's
    validator (409 with the reason)."""
    error = referral_step_input_error(row.partner, body.step, body.on, body.measure)
    if error:
        raise Invalid(error[1], field=error[0])
    if row.status != "open":
        raise Conflict("the referral is closed", field="step")
    await _update(rt, referral_workflow_id(row.id), "record_step",
                  ReferralStepUpdate(step=body.step, on=body.on, measure=body.measure, recorded_by=principal.username), "step",
                  lambda: handlers.ensure_referral_workflow(rt, row.id))
    async with rt.db.read() as conn:
        return _referral(await store.get_referral(conn, row.id))


@router.post("/cases/{id}/referrals", response_model=ReferralOut, status_code=201, summary="Refer a member to a partner (needs documented consent)")
async def make_referral(id: uuid.UUID, body: ReferralIn, rt: RuntimeDep, principal: Worker) -> ReferralOut:
    await _check(rt, principal, id)
    referral_id = await handlers.make_referral(rt, principal, id, body)
    async with rt.db.read() as conn:
        return _referral(await store.get_referral(conn, referral_id))


@router.get("/cases/{id}/referrals", response_model=list[ReferralOut], summary="Referrals of a case")
async def case_referrals(id: uuid.UUID, rt: RuntimeDep, principal: Reader) -> list[ReferralOut]:
    async with rt.db.read() as conn:
        await _case(conn, principal, id)
        rows = (await conn.execute(sa.select(store.referrals).where(store.referrals.c.case_id == id).order_by(store.referrals.c.made_at))).all()
    return [_referral(r) for r in rows]


@router.post("/cases/{id}/referrals/{referral_id}/answers", response_model=ReferralOut,
             summary="Record the answer of a partner without access (Kita, school, health office, women's counselling)")
async def record_partner_answer(id: uuid.UUID, referral_id: uuid.UUID, body: AnswerIn, rt: RuntimeDep, principal: Worker) -> ReferralOut:
    telemetry.mark(referral_id=referral_id)
    async with rt.db.read() as conn:
        await _case(conn, principal, id)
        row = await store.get_referral(conn, referral_id)
    if row is None or row.case_id != id:
        raise NotFound("no such referral in this case")
    process = partner_process(row.partner)
    if process is None or process.recorder != CASEWORKER:
        raise Conflict("this partner records its own steps on its screen", field="step")
    return await _record_answer(rt, principal, row, body)


# --- the partner screen (referral_partner accounts; ABRA coaches for ABRA) -------------------------

partner_router = APIRouter(prefix="/partner-referrals", tags=["partners"])


def _scope(principal: Principal) -> str:
    partner = partner_scope(frozenset(principal.roles), principal.partner)
    process = partner_process(partner.value) if partner else None
    if partner is None or process is None or process.recorder != REFERRAL_PARTNER:
        raise Forbidden("this account answers no partner's referrals")
    return partner.value


async def _partner_referral(rt: Runtime, principal: Principal, referral_id: uuid.UUID) -> sa.Row:
    partner = _scope(principal)
    telemetry.mark(referral_id=referral_id)
    async with rt.db.read() as conn:
        row = await store.get_referral(conn, referral_id)
    if row is None or row.partner != partner:
        raise NotFound("no such referral to your organisation")
    return row


@partner_router.get("", response_model=list[ReferralOut], summary="A partner's referrals (pseudonymous)")
async def partner_referrals(
    rt: RuntimeDep, principal: PartnerStaff, status: Annotated[str, Query(pattern="^(open|closed)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ReferralOut]:
    partner = _scope(principal)
    async with rt.db.read() as conn:
        return [_referral(x) for x in await store.partner_referrals(conn, [partner], status, limit)]


@partner_router.get("/{id}", response_model=ReferralOut, summary="One referral to the caller's organisation")
async def partner_referral(id: uuid.UUID, rt: RuntimeDep, principal: PartnerStaff) -> ReferralOut:
    return _referral(await _partner_referral(rt, principal, id))


@partner_router.post("/{id}/steps", response_model=ReferralOut, summary="Record a step: acknowledged, appointment, enrolled, waiting list, declined, ...")
async def partner_step(id: uuid.UUID, body: AnswerIn, rt: RuntimeDep, principal: PartnerStaff) -> ReferralOut:
    return await _record_answer(rt, principal, await _partner_referral(rt, principal, id), body)


ip_router = APIRouter(prefix="/referrals", tags=["Integration Point"])


@ip_router.get("", response_model=list[ReferralOut], summary="Integration Point: referrals to the joint desk (pseudonymous)")
async def ip_referrals(rt: RuntimeDep, principal: Advisor, status: str = "open", limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[ReferralOut]:
    async with rt.db.read() as conn:
        rows = await store.partner_referrals(conn, [p.value for p in INTEGRATION_POINT_PARTNERS], status, limit)
    return [_referral(x) for x in rows]


async def _ip_referral(rt: Runtime, referral_id: uuid.UUID) -> sa.Row:
    telemetry.mark(referral_id=referral_id)
    async with rt.db.read() as conn:
        row = await store.get_referral(conn, referral_id)
    if row is None or Partner(row.partner) not in INTEGRATION_POINT_PARTNERS:
        raise NotFound("no such referral at the Integration Point")
    return row


@ip_router.get("/{id}", response_model=ReferralOut, summary="Integration Point: one referral")
async def ip_referral(id: uuid.UUID, rt: RuntimeDep, principal: Advisor) -> ReferralOut:
    return _referral(await _ip_referral(rt, id))


@ip_router.get("/{id}/handover", response_model=HandoverOut, summary="Integration Point: the caseworker's note and, after a change of legal regime, the counselling history; with consent only (audit-logged)")
async def ip_handover(id: uuid.UUID, rt: RuntimeDep, principal: Advisor) -> HandoverOut:
    """With the person's consent to the data exchange with this partner (or the Integration Point) the
    advisor gets the caseworker's referral note and, when the referral was handed over (SGB III ->
    SGB II), the steps recorded before: the counselling history the partners agreed to hand over (000
    "Projekt Integration Point"). Without it ids only. Every read is audit-logged, also the refused."""
    row = await _ip_referral(rt, id)
    async with rt.db.begin() as conn:
        consent = may_hand_over(row.partner, row.status == "open", await store.active_consents_of(conn, row.person_id))
        await rt.audit(conn, principal, [r.value for r in IP], "read", "referral_handover", id, "ok" if consent else "no_consent")
        history = await store.referral_history(conn, row.case_id, row.id) if consent and row.handed_over_from else None
    if not consent:
        return HandoverOut(referral=_referral(row), consent=False)
    steps = [HandoverStep(at=at, step=d.get("step") or "handed_over", partner=d.get("partner") or d.get("to_partner"), measure=d.get("measure"))
             for at, _, d in history] if history is not None else None
    return HandoverOut(referral=_referral(row), consent=True, note=row.note, history=steps)


async def _step(rt: Runtime, principal: Principal, referral_id: uuid.UUID, step: str, body: StepIn | None = None) -> ReferralOut:
    row = await _ip_referral(rt, referral_id)
    body = body or StepIn()
    error = referral_step_input_error(row.partner, step, body.on, body.measure)
    if error:
        raise Invalid(error[1], field=error[0])
    await _update(rt, referral_workflow_id(referral_id), "record_step",
                  ReferralStepUpdate(step=step, on=body.on, measure=body.measure, recorded_by=principal.username), "step",
                  lambda: handlers.ensure_referral_workflow(rt, referral_id))
    async with rt.db.read() as conn:
        return _referral(await store.get_referral(conn, referral_id))


@ip_router.post("/{id}/acknowledge", response_model=ReferralOut, summary="Acknowledge the referral")
async def acknowledge(id: uuid.UUID, rt: RuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "acknowledged")


@ip_router.post("/{id}/appointment", response_model=ReferralOut, summary="Book the first appointment")
async def appointment(id: uuid.UUID, body: StepIn, rt: RuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "appointment_booked", body)


@ip_router.post("/{id}/profiling", response_model=ReferralOut, summary="Record the profiling")
async def profiling(id: uuid.UUID, rt: RuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "profiled")


@ip_router.post("/{id}/measure", response_model=ReferralOut, summary="Offer a measure: job_language_course, eq_plus_language or qualification")
async def measure(id: uuid.UUID, body: StepIn, rt: RuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "measure_offered", body)


class PlacementIn(BaseModel):
    kind: str


@ip_router.post("/{id}/placement", response_model=ReferralOut, summary="Record a placement: training or employment (with social insurance)")
async def placement(id: uuid.UUID, body: PlacementIn, rt: RuntimeDep, principal: Advisor) -> ReferralOut:
    if body.kind not in ("training", "employment"):
        raise Invalid("kind must be training or employment", field="kind")
    return await _step(rt, principal, id, f"placed_{body.kind}")


@ip_router.post("/{id}/decline", response_model=ReferralOut, summary="Decline the referral")
async def decline(id: uuid.UUID, rt: RuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "declined")


@ip_router.post("/{id}/no-show", response_model=ReferralOut, summary="The client did not come to the appointment")
async def no_show(id: uuid.UUID, rt: RuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "no_show")


# --- caseworker register (team lead) -----------------------------------------------------------------


def _cw(rt: Runtime, r: sa.Row) -> CaseworkerOut:
    return CaseworkerOut(username=r.username, districts=store.as_list(r.districts), languages=store.as_list(r.languages), fte=r.fte,
                         cap=r.cap, target=effective_cap(r.fte, rt.settings.caseload_cap_per_fte, None), caseload=r.caseload,
                         on_leave=r.on_leave, substitute=r.substitute)


@router.get("/caseworkers", response_model=list[CaseworkerOut], summary="Caseworker register with caseloads")
async def caseworkers(rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.TEAM_LEAD, Role.OPERATOR))]) -> list[CaseworkerOut]:
    async with rt.db.read() as conn:
        return [_cw(rt, r) for r in await store.all_caseworkers(conn)]


@router.post("/caseworkers", status_code=201, response_model=CaseworkerOut, summary="Team lead: add a caseworker to the register")
async def add_caseworker(body: CaseworkerNew, rt: RuntimeDep, principal: Lead) -> CaseworkerOut:
    """The new caseworker takes queued cases of their districts at once (oldest first, up to the cap)."""
    await handlers.add_caseworker(rt, principal, body)
    async with rt.db.read() as conn:
        return _cw(rt, await store.get_caseworker(conn, body.username))


@router.patch("/caseworkers/{username}", response_model=CaseworkerOut, summary="Team lead: districts, languages, FTE or cap")
async def update_caseworker(username: str, body: CaseworkerIn, rt: RuntimeDep, principal: Lead) -> CaseworkerOut:
    await handlers.update_caseworker(rt, principal, username, body)
    async with rt.db.read() as conn:
        return _cw(rt, await store.get_caseworker(conn, username))


@router.post("/caseworkers/{username}/leave", response_model=CaseworkerOut, summary="Team lead: start or end a leave, with a substitute")
async def leave(username: str, body: LeaveIn, rt: RuntimeDep, principal: Lead) -> CaseworkerOut:
    await handlers.set_leave(rt, principal, username, body.on_leave, body.substitute)
    async with rt.db.read() as conn:
        return _cw(rt, await store.get_caseworker(conn, username))


# --- work list ---------------------------------------------------------------------------------------


class Worklist(BaseModel):
    my_cases: list[CaseOut]
    reviews_due: list[dict]
    reviews_overdue: list[dict]
    referrals_waiting: list[ReferralOut]
    escalations: list[Alert]


@router.get("/worklist", response_model=Worklist, summary="My cases, reviews due and overdue, referrals waiting, escalations")
async def worklist(rt: RuntimeDep, principal: Worker, escalate_after_days: Annotated[int, Query(ge=1)] = 14) -> Worklist:
    today = date.today()
    c, rd, r = store.cases.c, store.reviews_due.c, store.referrals.c
    async with rt.db.read() as conn:
        mine = sa.and_(c.closed_at.is_(None), store.visible_to(principal.username))
        cases = (await conn.execute(sa.select(store.cases).where(mine).order_by(c.opened_at).limit(500))).all()
        ids = [x.id for x in cases]
        due = (await conn.execute(
            sa.select(store.reviews_due).where(rd.case_id.in_(ids), rd.completed_on.is_(None)).order_by(rd.due_on)
        )).all()
        waiting = (await conn.execute(
            sa.select(store.referrals).where(r.case_id.in_(ids), r.status == "open", r.appointment_on.is_(None)).order_by(r.made_at)
        )).all()
        roles = frozenset(principal.roles)
        escalations = [a for a in await list_alerts(conn, rt.tables, roles=roles, assignee=None)
                       if a.role == "team_lead" or a.assignee == principal.username or (a.subject_type == "case" and uuid.UUID(a.subject_id) in set(ids))]
        my_cases = [await _out(conn, x) for x in cases]
    reviews = [{"case_id": str(x.case_id), "cycle": x.cycle, "due_on": x.due_on.isoformat(), "escalated": bool(x.escalated)} for x in due]
    overdue = [x for x in reviews if x["escalated"] or date.fromisoformat(x["due_on"]) + timedelta(days=escalate_after_days) <= today]
    return Worklist(
        my_cases=my_cases, reviews_due=[x for x in reviews if x not in overdue], reviews_overdue=overdue,
        referrals_waiting=[_referral(x) for x in waiting], escalations=escalations,
    )


router.include_router(ip_router)
router.include_router(partner_router)
