"""Casework's referral routes (DOMAIN.md flow 4): the caseworker refers with documented consent and
records the answers of partners without access; the partner organisations answer on their screen
(`/partner-referrals`); the Integration Point's advisors work theirs (`/referrals`) and read the
handover. Each partner step is checked against the partner's table (422) and sent to the referral's
workflow, whose validator decides the order (409)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query

from services.casework import handlers_referrals, store_referrals
from services.casework.api_access import IP, PARTNER, Advisor, PartnerStaff, Reader, Worker, check_case, referral_out, update_workflow, visible_case
from services.casework.domain import INTEGRATION_POINT_PARTNERS, partner_scope, referral_step_input_error
from services.casework.handlers_workflows import ensure_referral_workflow
from services.casework.runtime import CaseworkRuntime, CaseworkRuntimeDep
from services.casework.schemas import AnswerIn, HandoverOut, HandoverStep, PlacementIn, ReferralIn, ReferralOut, StepIn
from services.contracts.casework_workflows import CASEWORKER, REFERRAL_PARTNER, ReferralStepUpdate, may_hand_over, partner_process, referral_workflow_id
from services.contracts.vocab import Partner
from services.kit import telemetry
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.referral import Referral

router = APIRouter()  # api.py includes it into its router, which tags "cases"
partner_router = APIRouter(prefix="/partner-referrals", tags=["partners"])
ip_router = APIRouter(prefix="/referrals", tags=["Integration Point"])
#: who records referral steps (the audit log names the role acted in)
STEP_ROLES = tuple(r.value for r in (*IP, *PARTNER, Role.CASEWORKER, Role.TEAM_LEAD))


async def _current(rt: CaseworkRuntime, referral_id: uuid.UUID) -> ReferralOut:
    async with rt.db.read() as conn:
        return referral_out(await store_referrals.get_referral(conn, referral_id))


async def _record_step(rt: CaseworkRuntime, principal: Principal, referral_id: uuid.UUID, step: str, on: date | None, measure: str | None) -> ReferralOut:
    """The step to the referral's workflow (started first if its commit was a moment ago); a refusal of its validator is 409."""
    await update_workflow(rt, referral_workflow_id(referral_id), Referral.record_step,
                          ReferralStepUpdate(step=step, on=on, measure=measure, recorded_by=principal.username), "step",
                          lambda: ensure_referral_workflow(rt, referral_id))
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, STEP_ROLES, f"step_{step}", "referral", referral_id)
    return await _current(rt, referral_id)


def _check_input(partner: str, step: str, on: date | None, measure: str | None) -> None:
    error = referral_step_input_error(partner, step, on, measure)
    if error:
        raise Invalid(error[1], field=error[0])


async def _record_answer(rt: CaseworkRuntime, principal: Principal, row: sa.Row, body: AnswerIn) -> ReferralOut:
    """A partner's step (recorded by the partner or, for partners without access, the caseworker):
    the input checked against the partner's table (422 at its field), the order by the workflow's
    validator (409 with the reason)."""
    _check_input(row.partner, body.step, body.on, body.measure)
    if row.status != "open":
        raise Conflict("the referral is closed", field="step")
    return await _record_step(rt, principal, row.id, body.step, body.on, body.measure)


# --- the caseworker's side --------------------------------------------------------------------------


@router.post("/cases/{id}/referrals", response_model=ReferralOut, status_code=201, summary="Refer a member to a partner (needs documented consent)")
async def make_referral(id: uuid.UUID, body: ReferralIn, rt: CaseworkRuntimeDep, principal: Worker) -> ReferralOut:
    await check_case(rt, principal, id)
    return await _current(rt, await handlers_referrals.make_referral(rt, principal, id, body))


@router.get("/cases/{id}/referrals", response_model=list[ReferralOut], summary="Referrals of a case")
async def case_referrals(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Reader) -> list[ReferralOut]:
    async with rt.db.begin() as conn:
        await visible_case(conn, principal, id)
        await rt.audit(conn, principal, STEP_ROLES, "read", "referrals", id)
        rows = await store_referrals.referrals_of_case(conn, id)
    return [referral_out(r) for r in rows]


@router.post("/cases/{id}/referrals/{referral_id}/answers", response_model=ReferralOut,
             summary="Record the answer of a partner without access (Kita, school, health office, women's counselling)")
async def record_partner_answer(id: uuid.UUID, referral_id: uuid.UUID, body: AnswerIn, rt: CaseworkRuntimeDep, principal: Worker) -> ReferralOut:
    telemetry.mark(referral_id=referral_id)
    async with rt.db.read() as conn:
        await visible_case(conn, principal, id)
        row = await store_referrals.get_referral(conn, referral_id)
    if row is None or row.case_id != id:
        raise NotFound("no such referral in this case")
    process = partner_process(row.partner)
    if process is None or process.recorder != CASEWORKER:
        raise Conflict("this partner records its own steps on its screen", field="step")
    return await _record_answer(rt, principal, row, body)


# --- the partner screen (referral_partner accounts; ABRA coaches for ABRA) -------------------------


def _scope(principal: Principal) -> str:
    partner = partner_scope(frozenset(principal.roles), principal.partner)
    process = partner_process(partner.value) if partner else None
    if partner is None or process is None or process.recorder != REFERRAL_PARTNER:
        raise Forbidden("this account answers no partner's referrals")
    return partner.value


async def _partner_referral(rt: CaseworkRuntime, principal: Principal, referral_id: uuid.UUID) -> sa.Row:
    partner = _scope(principal)
    telemetry.mark(referral_id=referral_id)
    async with rt.db.read() as conn:
        row = await store_referrals.get_referral(conn, referral_id)
    if row is None or row.partner != partner:
        raise NotFound("no such referral to your organisation")
    return row


@partner_router.get("", response_model=list[ReferralOut], summary="A partner's referrals (pseudonymous)")
async def partner_referrals(
    rt: CaseworkRuntimeDep, principal: PartnerStaff, status: Annotated[str, Query(pattern="^(open|closed)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ReferralOut]:
    partner = _scope(principal)
    async with rt.db.read() as conn:
        return [referral_out(x) for x in await store_referrals.partner_referrals(conn, [partner], status, limit)]


@partner_router.get("/{id}", response_model=ReferralOut, summary="One referral to the caller's organisation")
async def partner_referral(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: PartnerStaff) -> ReferralOut:
    return referral_out(await _partner_referral(rt, principal, id))


@partner_router.post("/{id}/steps", response_model=ReferralOut, summary="Record a step: acknowledged, appointment, enrolled, waiting list, declined, ...")
async def partner_step(id: uuid.UUID, body: AnswerIn, rt: CaseworkRuntimeDep, principal: PartnerStaff) -> ReferralOut:
    return await _record_answer(rt, principal, await _partner_referral(rt, principal, id), body)


# --- the Integration Point ---------------------------------------------------------------------------


@ip_router.get("", response_model=list[ReferralOut], summary="Integration Point: referrals to the joint desk (pseudonymous)")
async def ip_referrals(
    rt: CaseworkRuntimeDep, principal: Advisor, status: str = "open", limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ReferralOut]:
    async with rt.db.read() as conn:
        rows = await store_referrals.partner_referrals(conn, [p.value for p in INTEGRATION_POINT_PARTNERS], status, limit)
    return [referral_out(x) for x in rows]


async def _ip_referral(rt: CaseworkRuntime, referral_id: uuid.UUID) -> sa.Row:
    telemetry.mark(referral_id=referral_id)
    async with rt.db.read() as conn:
        row = await store_referrals.get_referral(conn, referral_id)
    if row is None or Partner(row.partner) not in INTEGRATION_POINT_PARTNERS:
        raise NotFound("no such referral at the Integration Point")
    return row


@ip_router.get("/{id}", response_model=ReferralOut, summary="Integration Point: one referral")
async def ip_referral(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Advisor) -> ReferralOut:
    return referral_out(await _ip_referral(rt, id))


@ip_router.get("/{id}/handover", response_model=HandoverOut,
               summary="Integration Point: the caseworker's note and, after a change of legal regime, the counselling history; "
                       "with consent only (audit-logged)")
async def ip_handover(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Advisor) -> HandoverOut:
    """With the person's consent to the data exchange with this partner (or the Integration Point) the
    advisor gets the caseworker's referral note and, when the referral was handed over (SGB III ->
    SGB II), the steps recorded before: the counselling history the partners agreed to hand over (000
    "Projekt Integration Point"). Without it ids only. Every read is audit-logged, also the refused."""
    row = await _ip_referral(rt, id)
    async with rt.db.begin() as conn:
        consent = may_hand_over(row.partner, row.status == "open", await store_referrals.active_consents_of(conn, row.person_id))
        await rt.audit(conn, principal, [r.value for r in IP], "read", "referral_handover", id, "ok" if consent else "no_consent")
        history = await store_referrals.referral_history(conn, row.case_id, row.id) if consent and row.handed_over_from else None
    if not consent:
        return HandoverOut(referral=referral_out(row), consent=False)
    steps = [HandoverStep(at=at, step=d.get("step") or "handed_over", partner=d.get("partner") or d.get("to_partner"), measure=d.get("measure"))
             for at, _, d in history] if history is not None else None
    return HandoverOut(referral=referral_out(row), consent=True, note=row.note, history=steps)


async def _step(rt: CaseworkRuntime, principal: Principal, referral_id: uuid.UUID, step: str, body: StepIn | None = None) -> ReferralOut:
    row = await _ip_referral(rt, referral_id)
    body = body or StepIn()
    _check_input(row.partner, step, body.on, body.measure)
    return await _record_step(rt, principal, referral_id, step, body.on, body.measure)


@ip_router.post("/{id}/acknowledge", response_model=ReferralOut, summary="Acknowledge the referral")
async def acknowledge(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "acknowledged")


@ip_router.post("/{id}/appointment", response_model=ReferralOut, summary="Book the first appointment")
async def appointment(id: uuid.UUID, body: StepIn, rt: CaseworkRuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "appointment_booked", body)


@ip_router.post("/{id}/profiling", response_model=ReferralOut, summary="Record the profiling")
async def profiling(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "profiled")


@ip_router.post("/{id}/measure", response_model=ReferralOut, summary="Offer a measure: job_language_course, eq_plus_language or qualification")
async def measure(id: uuid.UUID, body: StepIn, rt: CaseworkRuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "measure_offered", body)


@ip_router.post("/{id}/placement", response_model=ReferralOut, summary="Record a placement: training or employment (with social insurance)")
async def placement(id: uuid.UUID, body: PlacementIn, rt: CaseworkRuntimeDep, principal: Advisor) -> ReferralOut:
    if body.kind not in ("training", "employment"):
        raise Invalid("kind must be training or employment", field="kind")
    return await _step(rt, principal, id, f"placed_{body.kind}")


@ip_router.post("/{id}/decline", response_model=ReferralOut, summary="Decline the referral")
async def decline(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "declined")


@ip_router.post("/{id}/no-show", response_model=ReferralOut, summary="The client did not come to the appointment")
async def no_show(id: uuid.UUID, rt: CaseworkRuntimeDep, principal: Advisor) -> ReferralOut:
    return await _step(rt, principal, id, "no_show")
