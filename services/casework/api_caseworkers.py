"""Casework's caseworker register for team leads (001 "feste Zuständigkeit nach Sozialraum"; 000
caseload 1:190 per FTE) and the caseworker's work list."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from services.casework import handlers_assign, store, store_plans, store_referrals
from services.casework.api_access import Lead, Worker, case_out, referral_out
from services.casework.domain import effective_cap, review_overdue
from services.casework.runtime import CaseworkRuntime, CaseworkRuntimeDep
from services.casework.schemas import CaseworkerIn, CaseworkerNew, CaseworkerOut, LeaveIn, Worklist
from services.contracts.workdays import city_today
from services.kit.alerts import list_alerts
from services.kit.auth import Principal, Role, require

router = APIRouter()  # api.py includes it into its router, which tags "cases"


def _cw(rt: CaseworkRuntime, r: sa.Row) -> CaseworkerOut:
    return CaseworkerOut(username=r.username, districts=store.as_list(r.districts), languages=store.as_list(r.languages), fte=r.fte,
                         cap=r.cap, target=effective_cap(r.fte, rt.settings.caseload_cap_per_fte, None), caseload=r.caseload,
                         on_leave=r.on_leave, substitute=r.substitute)


async def _current(rt: CaseworkRuntime, username: str) -> CaseworkerOut:
    async with rt.db.read() as conn:
        return _cw(rt, await store.get_caseworker(conn, username))


@router.get("/caseworkers", response_model=list[CaseworkerOut], summary="Caseworker register with caseloads")
async def caseworkers(rt: CaseworkRuntimeDep, principal: Annotated[Principal, Depends(require(Role.TEAM_LEAD, Role.OPERATOR))]) -> list[CaseworkerOut]:
    async with rt.db.read() as conn:
        return [_cw(rt, r) for r in await store.all_caseworkers(conn)]


@router.post("/caseworkers", status_code=201, response_model=CaseworkerOut, summary="Team lead: add a caseworker to the register")
async def add_caseworker(body: CaseworkerNew, rt: CaseworkRuntimeDep, principal: Lead) -> CaseworkerOut:
    """The new caseworker takes queued cases of their districts at once (oldest first, up to the cap)."""
    await handlers_assign.add_caseworker(rt, principal, body)
    return await _current(rt, body.username)


@router.patch("/caseworkers/{username}", response_model=CaseworkerOut, summary="Team lead: districts, languages, FTE or cap")
async def update_caseworker(username: str, body: CaseworkerIn, rt: CaseworkRuntimeDep, principal: Lead) -> CaseworkerOut:
    await handlers_assign.update_caseworker(rt, principal, username, body)
    return await _current(rt, username)


@router.post("/caseworkers/{username}/leave", response_model=CaseworkerOut, summary="Team lead: start or end a leave, with a substitute")
async def leave(username: str, body: LeaveIn, rt: CaseworkRuntimeDep, principal: Lead) -> CaseworkerOut:
    await handlers_assign.set_leave(rt, principal, username, body.on_leave, body.substitute)
    return await _current(rt, username)


@router.get("/worklist", response_model=Worklist, summary="My cases, reviews due and overdue, referrals waiting, escalations")
async def worklist(rt: CaseworkRuntimeDep, principal: Worker, escalate_after_days: Annotated[int, Query(ge=1)] = 14) -> Worklist:
    today = city_today()
    async with rt.db.read() as conn:
        cases = await store.open_cases_visible_to(conn, principal.username)
        ids = [x.id for x in cases]
        due = await store_plans.open_reviews_of(conn, ids)
        waiting = await store_referrals.referrals_waiting(conn, ids)
        escalations = [a for a in await list_alerts(conn, rt.tables, roles=frozenset(principal.roles), assignee=None)
                       if a.role == "team_lead" or a.assignee == principal.username or (a.subject_type == "case" and uuid.UUID(a.subject_id) in set(ids))]
        my_cases = [await case_out(conn, x) for x in cases]
    reviews = [{"case_id": str(x.case_id), "cycle": x.cycle, "due_on": x.due_on.isoformat(), "escalated": bool(x.escalated)} for x in due]
    overdue = [x for x in reviews if review_overdue(date.fromisoformat(x["due_on"]), x["escalated"], today, escalate_after_days)]
    return Worklist(
        my_cases=my_cases, reviews_due=[x for x in reviews if x not in overdue], reviews_overdue=overdue,
        referrals_waiting=[referral_out(x) for x in waiting], escalations=escalations,
    )
