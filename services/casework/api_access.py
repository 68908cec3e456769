"""Who may call casework's routes, and what every route needs: the case if the caller may see it,
the case and referral as rendered, a human record sent to its workflow as an update."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casework import store
from services.casework.runtime import CaseworkRuntime
from services.casework.schemas import CaseOut, ReferralOut
from services.contracts.casework_workflows import partner_process
from services.kit import telemetry
from services.kit.auth import Principal, Role, require
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.workflows import run_update

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


def read_roles() -> list[str]:
    return [r.value for r in READ]


async def case_out(conn: AsyncConnection, row: sa.Row) -> CaseOut:
    return CaseOut(
        case_id=row.id, household_id=row.household_id, intake_id=row.intake_id, programme=row.programme, district=row.district,
        phase=row.phase, opened_at=row.opened_at, caseworker=row.caseworker, queued=row.queued_at is not None and row.caseworker is None,
        closed_at=row.closed_at, close_reason=row.close_reason, first_contact_on=row.first_contact_on, plan_version=row.plan_version,
        member_ids=await store.member_ids(conn, row.id),
    )


async def current_case(rt: CaseworkRuntime, case_id: uuid.UUID) -> CaseOut:
    async with rt.db.read() as conn:
        return await case_out(conn, await store.get_case(conn, case_id))


def referral_out(r: sa.Row) -> ReferralOut:
    process = partner_process(r.partner)
    return ReferralOut(
        referral_id=r.id, case_id=r.case_id, person_id=r.person_id, partner=r.partner, purpose=r.purpose, status=r.status, made_on=r.made_on,
        acknowledged_on=r.acknowledged_on, appointment_on=r.appointment_on, measure=r.measure, outcome=r.outcome, handed_over_from=r.handed_over_from,
        latest_step=r.latest_step, outcome_on=r.outcome_on, recorded_by=process.recorder if process else None,
    )


async def visible_case(conn: AsyncConnection, principal: Principal, case_id: uuid.UUID) -> sa.Row:
    """The case if the caller may see it: team leads all, caseworkers their caseload and substitutions."""
    telemetry.mark(case_id=case_id)
    row = await store.get_case(conn, case_id)
    if row is None:
        raise NotFound("no such case")
    if principal.has(*ALL_CASES):
        return row
    if not await store.case_visible(conn, case_id, principal.username):
        raise Forbidden("the case is not in your caseload")
    return row


async def check_case(rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID) -> sa.Row:
    """The case before a write (every write route of a case calls this): audit-logged as a write to
    the case by the caller; a refusal is logged by the 403 handler."""
    async with rt.db.begin() as conn:
        row = await visible_case(conn, principal, case_id)
        await rt.audit(conn, principal, [r.value for r in WORK], "write", "case", case_id)
        return row


async def update_workflow(
    rt: CaseworkRuntime, workflow_id: str, update: Callable[..., Any], arg: Any, what: str, ensure: Callable[[], Awaitable[None]],
) -> Any:
    """Sends a human record to its workflow as an update (`update`: the workflow's update method) with
    the kit's run_update: `ensure` starts the case's or referral's workflows if their commit was a
    moment ago; a refusal of the validator is 409 with its reason (at the field `what`); no workflow
    to take it is 409 "nothing is open to record"."""
    return await run_update(
        rt.temporal_client, workflow_id, update, arg, start=ensure, field=what,
        not_running=lambda exc: Conflict(f"{what}: nothing is open to record ({exc.status.name})", field=what),
    )
