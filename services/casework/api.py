"""Casework's HTTP API: cases, plans, reviews, consents and referrals for caseworkers and team leads
(who also record the answers of partners without access); the caseworker register for team leads; the
Integration Point advisor's side of referrals with the handover; the partner organisations' side
(`/partner-referrals`, role referral_partner scoped by its `partner` claim).

Access: a caseworker sees the cases of their caseload and of colleagues they substitute; team leads
(and operators) see all cases of the team. Reads of personal data (plan, consents, timeline) are
audit-logged. This module holds the case, plan, review and consent routes and assembles the router
(referrals: api_referrals; register and work list: api_caseworkers; access: api_access)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query

from services.casework import api_caseworkers, api_referrals, handlers, handlers_assign, handlers_plans, handlers_referrals, store, store_plans, store_referrals
from services.casework.api_access import (
    ALL_CASES,
    Lead,
    Reader,
    Worker,
    case_out,
    check_case,
    current_case,
    read_roles,
    update_workflow,
    visible_case,
)
from services.casework.domain import check_review_goals, consent_date_error, contact_date_error, first_contact_error
from services.casework.handlers_workflows import ensure_case_workflows, first_contact_target
from services.casework.runtime import CaseworkRuntime, CaseworkRuntimeDep
from services.casework.schemas import (
    AssignmentOut,
    CaseList,
    CaseOut,
    CloseIn,
    ConsentIn,
    ConsentOut,
    ConsentWithdrawIn,
    ContactIn,
    FirstContactIn,
    GoalChangeIn,
    GoalIn,
    GoalOut,
    PlanAgreeIn,
    PlanOut,
    ReassignIn,
    ResourceCheckIn,
    ReviewIn,
    TimelineEntry,
)
from services.contracts.activities import review_cycle_workflow_id
from services.contracts.casework_workflows import FirstContactUpdate, GoalResult, MeasureRating, ReviewUpdate
from services.contracts.workdays import city_today
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.params import Offset
from workflows.review_cycle import ReviewCycle

router = APIRouter(tags=["cases"])


# --- cases -------------------------------------------------------------------------------------------


@router.get("/cases", response_model=CaseList, summary="List cases (pseudonymous ids only); caseworkers see their own")
async def list_cases(
    rt: CaseworkRuntimeDep,
    principal: Reader,
    intake_id: uuid.UUID | None = None,
    household_id: uuid.UUID | None = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> CaseList:
    visible_for = None if principal.has(*ALL_CASES) else principal.username
    async with rt.db.read() as conn:
        rows, total = await store.list_cases(
            conn, intake_id=intake_id, household_id=household_id, limit=limit, offset=offset, visible_for=visible_for, open_only=open_only,
        )
        return CaseList(cases=[await case_out(conn, r) for r in rows], total=total)


@router.get("/cases/{id}", response_model=CaseOut, summary="Read a case")
async def get_case(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Reader) -> CaseOut:
    async with rt.db.begin() as conn:
        row = await store.get_case(conn, id)
        await rt.audit(conn, principal, read_roles(), "read", "case", id, "ok" if row else "not_found")
    async with rt.db.read() as conn:
        return await case_out(conn, await visible_case(conn, principal, id))


@router.post("/cases/{id}/close", response_model=CaseOut, summary="Close a case with its reason")
async def close_case(id: uuid.UUID, body: CloseIn, rt: CaseworkRuntimeDep, principal: Worker) -> CaseOut:
    await check_case(rt, principal, id)
    await handlers.close_case(rt, principal, id, body.reason.value)
    return await current_case(rt, id)


@router.post("/cases/{id}/first-contact", response_model=CaseOut, summary="Record the first contact (welcome visit) and the starter pack")
async def first_contact(id: uuid.UUID, body: FirstContactIn, rt: CaseworkRuntimeDep, principal: Worker) -> CaseOut:
    case = await check_case(rt, principal, id)
    error = first_contact_error(body.contact_on, city_today(case.opened_at), city_today())
    if error:
        raise Invalid(error, field="contact_on")
    workflow_id, record = await first_contact_target(rt, id)
    await update_workflow(rt, workflow_id, record,
                          FirstContactUpdate(contact_on=body.contact_on, starter_pack=body.starter_pack, recorded_by=principal.username), "contact_on",
                          lambda: ensure_case_workflows(rt, id))
    if body.note:
        async with rt.db.begin() as conn:
            await store.note(conn, id, "contact_note", principal.username, text=body.note)
    return await current_case(rt, id)


@router.post("/cases/{id}/contacts", status_code=204, summary="Record a contact with the client (timeline)")
async def contact(id: uuid.UUID, body: ContactIn, rt: CaseworkRuntimeDep, principal: Worker) -> None:
    case = await check_case(rt, principal, id)
    if case.closed_at is not None:
        raise Conflict("the case is closed")
    error = contact_date_error(body.contact_on, city_today())
    if error:
        raise Invalid(error, field="contact_on")
    async with rt.db.begin() as conn:
        await store.note(conn, id, "contact", principal.username, contact_on=body.contact_on, contact_kind=body.kind, text=body.note)


@router.post("/cases/{id}/reassign", response_model=CaseOut, summary="Team lead: move a case to another caseworker")
async def reassign(id: uuid.UUID, body: ReassignIn, rt: CaseworkRuntimeDep, principal: Lead) -> CaseOut:
    await handlers_assign.reassign(rt, principal, id, body.caseworker)
    return await current_case(rt, id)


@router.get("/cases/{id}/assignments", response_model=list[AssignmentOut], summary="Assignment history of a case")
async def assignments(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Reader) -> list[AssignmentOut]:
    async with rt.db.read() as conn:
        await visible_case(conn, principal, id)
        rows = await store.assignments_of(conn, id)
    return [AssignmentOut(caseworker=r.caseworker, reason=r.reason, at=r.at, by=r.by) for r in rows]


@router.get("/cases/{id}/timeline", response_model=list[TimelineEntry], summary="The case's timeline (digital Laufzettel, 002 §4.1); audit-logged")
async def timeline(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Reader) -> list[TimelineEntry]:
    async with rt.db.begin() as conn:
        try:
            await visible_case(conn, principal, id)
        except (NotFound, Forbidden) as exc:
            await rt.audit(conn, principal, read_roles(), "read", "case_timeline", id, type(exc).__name__.lower())
            raise
        await rt.audit(conn, principal, read_roles(), "read", "case_timeline", id)
        rows = await store.timeline_of(conn, id)
    return [TimelineEntry(at=r.at, kind=r.kind, actor=r.actor, detail=json.loads(r.detail)) for r in rows]


# --- plan --------------------------------------------------------------------------------------------


def _goal(r: sa.Row) -> GoalOut:
    return GoalOut(goal_id=r.id, case_id=r.case_id, person_id=r.person_id, field_of_action=r.field_of_action, title=r.title,
                   target_date=r.target_date, responsible=r.responsible, status=r.status, revision=r.revision)


async def _current_goal(rt: CaseworkRuntime, goal_id: uuid.UUID) -> GoalOut:
    async with rt.db.read() as conn:
        return _goal(await store_plans.get_goal(conn, goal_id))


@router.get("/cases/{id}/plan", response_model=PlanOut, summary="Integration plan: resource check and goals; audit-logged")
async def get_plan(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Reader) -> PlanOut:
    async with rt.db.begin() as conn:
        case = await visible_case(conn, principal, id)
        await rt.audit(conn, principal, read_roles(), "read", "plan", id)
        plan = await store_plans.plan_of(conn, id)
        goals = await store_plans.case_goals(conn, id)
    check = json.loads(plan.resource_check) if plan and plan.resource_check else None
    return PlanOut(case_id=id, plan_version=case.plan_version, resource_check=check, goals=[_goal(g) for g in goals])


@router.post("/cases/{id}/plan/resource-check", status_code=204, summary="Record the resource check answers")
async def resource_check(id: uuid.UUID, body: ResourceCheckIn, rt: CaseworkRuntimeDep, principal: Worker) -> None:
    await check_case(rt, principal, id)
    await handlers_plans.record_resource_check(rt, principal, id, body.answers)


@router.post("/cases/{id}/goals", response_model=GoalOut, status_code=201, summary="Add a goal to the integration plan")
async def add_goal(id: uuid.UUID, body: GoalIn, rt: CaseworkRuntimeDep, principal: Worker) -> GoalOut:
    await check_case(rt, principal, id)
    return await _current_goal(rt, await handlers_plans.add_goal(rt, principal, id, body))


@router.patch("/cases/{id}/goals/{goal_id}", response_model=GoalOut, summary="Adjust a goal (each change is kept as a revision)")
async def change_goal(id: uuid.UUID, goal_id: uuid.UUID, body: GoalChangeIn, rt: CaseworkRuntimeDep, principal: Worker) -> GoalOut:
    await check_case(rt, principal, id)
    await handlers_plans.change_goal(rt, principal, id, goal_id, body)
    return await _current_goal(rt, goal_id)


@router.get("/cases/{id}/goals/{goal_id}/revisions", summary="Every revision of a goal")
async def goal_revisions(id: uuid.UUID, goal_id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Reader) -> list[dict]:
    async with rt.db.begin() as conn:
        await visible_case(conn, principal, id)
        await rt.audit(conn, principal, read_roles(), "read", "goal", goal_id)
        rows = await store_plans.revisions_of(conn, goal_id)
    return [{"revision": r.revision, "at": r.at, "by": r.by, **json.loads(r.snapshot)} for r in rows]


@router.post("/cases/{id}/plan/agree", summary="Record the integration agreement (agreed by client and caseworker)")
async def agree_plan(id: uuid.UUID, body: PlanAgreeIn, rt: CaseworkRuntimeDep, principal: Worker) -> dict:
    await check_case(rt, principal, id)
    return {"plan_version": await handlers_plans.agree_plan(rt, principal, id, body)}


# --- review ------------------------------------------------------------------------------------------


@router.post("/cases/{id}/reviews", summary="Record the due review: per goal result, effect of each measure")
async def record_review(id: uuid.UUID, body: ReviewIn, rt: CaseworkRuntimeDep, principal: Worker) -> dict:
    await check_case(rt, principal, id)
    async with rt.db.read() as conn:
        goal_ids = {g.id for g in await store_plans.case_goals(conn, id)}
    check_review_goals(body.goals, goal_ids)
    try:
        measures = [MeasureRating.model_validate(m) for m in body.measures]
    except ValueError as exc:
        raise Invalid(f"measures: {exc}", field="measures") from exc
    review = ReviewUpdate(
        cycle=body.cycle, goals=[GoalResult(goal_id=uuid.UUID(str(g["goal_id"])), result=g["result"]) for g in body.goals],
        measures=measures, recorded_by=principal.username,
    )
    result = await update_workflow(rt, review_cycle_workflow_id(id), ReviewCycle.record_review, review, "cycle", lambda: ensure_case_workflows(rt, id))
    return {"result": result}


# --- consents ----------------------------------------------------------------------------------------


@router.get("/cases/{id}/consents", response_model=list[ConsentOut], summary="Consent register of the case's members; audit-logged")
async def consents(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Reader) -> list[ConsentOut]:
    async with rt.db.begin() as conn:
        await visible_case(conn, principal, id)
        await rt.audit(conn, principal, read_roles(), "read", "consents", id)
        rows = await store_referrals.consents_of(conn, await store.member_ids(conn, id, active_only=False))
    return [ConsentOut(person_id=r.person_id, partner=r.partner, purpose=r.purpose, given_on=r.given_on, source=r.source, withdrawn_at=r.withdrawn_at)
            for r in rows]


@router.post("/cases/{id}/consents", status_code=204, summary="Record a documented consent of a member")
async def give_consent(id: uuid.UUID, body: ConsentIn, rt: CaseworkRuntimeDep, principal: Worker) -> None:
    await check_case(rt, principal, id)
    error = consent_date_error(body.given_on, city_today())
    if error:
        raise Invalid(error, field="given_on")
    await handlers_referrals.record_consent(rt, principal, id, body.person_id, body.partner, body.purpose, body.given_on)


@router.post("/cases/{id}/consents/withdraw", summary="Record a withdrawal; open referrals to that partner are cancelled")
async def withdraw_consent(id: uuid.UUID, body: ConsentWithdrawIn, rt: CaseworkRuntimeDep, principal: Worker) -> dict:
    await check_case(rt, principal, id)
    return {"referrals_cancelled": await handlers_referrals.withdraw_consent(rt, principal, id, body.person_id, body.partner, body.purpose)}


# the other areas' routes (the IP and partner routers after the case routes, as before)
router.include_router(api_referrals.router)
router.include_router(api_caseworkers.router)
router.include_router(api_referrals.ip_router)
router.include_router(api_referrals.partner_router)
