"""The ABRA pre-registration clearing on intake's side (DOMAIN.md flow 2; 000 "Projekt ABRA"): the slot
calendar, the coach's actions (stored encrypted, then sent to the workflow as updates), starting the
workflow after intake committed the clearing, and a correction's effect on a pending clearing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from services.contracts.events import ClearingClosed
from services.contracts.intake_workflows import (
    Attendance,
    ClearingState,
    CloseInput,
    CloseRequest,
    ForMember,
    InterviewFacts,
    MemberAttendance,
    MemberClose,
    MemberInterview,
    MemberMoveIn,
    MoveInCorrection,
    clearing_workflow_id,
)
from services.contracts.vocab import Route
from services.intake import store, store_clearing
from services.intake.domain import CLEARING_PENDING, closed_slot_problems, gives_back_slot
from services.intake.handlers_clearing_starts import ensure_clearing_workflow
from services.intake.runtime import IntakeRuntime
from services.intake.schemas_clearing import ClearingDetail, ClearingInterviewIn, ClearingOut, SlotIn, SlotOut
from services.kit import telemetry
from services.kit.alerts import resolve_alerts
from services.kit.auth import Principal
from services.kit.broker import Delivery
from services.kit.db import utc_now
from services.kit.errors import Conflict, Invalid, NotFound
from services.kit.workflows import run_update
from workflows.clearing import PreRegistrationClearing
from workflows.household_clearing import HouseholdClearing

COACH_ROLES = ("abra_coach",)


def clearing_out(row: sa.Row) -> ClearingOut:
    return ClearingOut(
        clearing_id=row.id, person_id=row.person_id, household_id=row.household_id, status=row.status, attempt=row.attempt,
        appointment_at=row.appointment_at, registration_deadline=row.registration_deadline,
        deadline_missed=bool(row.deadline_missed), long_term_coaching=bool(row.long_term_coaching),
    )


# ---- slots ---------------------------------------------------------------------------------------


async def publish_slots(rt: IntakeRuntime, principal: Principal, slots: list[SlotIn]) -> list[SlotOut]:
    """Publishes clearing slots, on working days only: a slot on a weekend or an NRW public holiday is
    422 at its `starts_at` with the reason (`closed_slot_problems`), and nothing is published."""
    problems = closed_slot_problems([s.starts_at for s in slots])
    if problems:
        raise Invalid(problems[0][1], field=problems[0][0], errors=problems)
    now = utc_now()
    rows = [
        dict(id=uuid.uuid4(), starts_at=s.starts_at, coach=s.coach or principal.username, capacity=s.capacity, booked=0, created_at=now)
        for s in slots
    ]
    async with rt.db.begin() as conn:
        await store_clearing.insert_slots(conn, rows)
    return [SlotOut(slot_id=r["id"], starts_at=r["starts_at"], coach=r["coach"], capacity=r["capacity"], booked=0) for r in rows]


async def list_slots(rt: IntakeRuntime, start: datetime, end: datetime) -> list[SlotOut]:
    async with rt.db.read() as conn:
        rows = await store_clearing.slots_between(conn, start, end)
    return [SlotOut(slot_id=r.id, starts_at=r.starts_at, coach=r.coach, capacity=r.capacity, booked=r.booked) for r in rows]


async def list_clearings(rt: IntakeRuntime, **filters: Any) -> list[ClearingOut]:
    async with rt.db.read() as conn:
        return [clearing_out(r) for r in await store_clearing.list_clearings(conn, **filters)]


async def cancel_clearings_after_correction(rt: IntakeRuntime, event: Any, delivery: Delivery) -> None:
    """A correction that removes a person's ABRA route (or the person) cancels the pending clearing; a
    pending clearing that stays gets the dates of a corrected move-in date (update `correct_move_in`,
    once per correction number, so a redelivered correction changes nothing)."""
    if await delivery.already_handled():
        return
    keep = {p.person_id for p in event.persons if Route.ABRA_CLEARING in p.routes}
    async with rt.db.read() as conn:
        rows = await store_clearing.pending_clearings_of_household(conn, event.household_id)
    for row in rows:
        if row.person_id in keep:
            if row.dates_correction_no is not None and row.dates_correction_no >= event.correction_no:
                await _send_move_in(rt, row)
            continue
        try:
            await _update(rt, row, "close", CloseRequest(outcome="cancelled", by_correction=True))
        except Conflict:
            if await _still_pending(rt, row.id):
                raise  # a coach decision was being recorded: the redelivery tries again
        except NotFound:  # the workflow never started (or ended): close the record directly
            await close_clearing(rt, CloseInput(clearing_id=row.id, outcome="cancelled", at=utc_now()))
    async with delivery.transaction():
        pass


async def _still_pending(rt: IntakeRuntime, clearing_id: uuid.UUID) -> bool:
    async with rt.db.read() as conn:
        row = await store_clearing.clearing(conn, clearing_id)
    return row is not None and row.status == CLEARING_PENDING


async def _send_move_in(rt: IntakeRuntime, row: sa.Row) -> None:
    """The clearing's current move-in date to its workflow, under the correction that set it. A workflow
    not started yet is started with the corrected date; one that closed meanwhile needs nothing."""
    try:
        correction = MoveInCorrection(correction_no=row.dates_correction_no, move_in_date=row.move_in_date)
        await _update(rt, row, "correct_move_in", correction, pending=True)
    except (Conflict, NotFound):
        if await _still_pending(rt, row.id):
            raise


# ---- coach actions (workflow updates) ------------------------------------------------------------


async def _start_if_pending(rt: IntakeRuntime, clearing_id: uuid.UUID) -> None:
    """Starts (or joins) the clearing's workflow if the clearing is pending: a coach's decision found it
    not running, e.g. made before the starter got to it."""
    async with rt.db.read() as conn:
        row = await store_clearing.clearing(conn, clearing_id)
    if row is not None and row.status == CLEARING_PENDING:
        await ensure_clearing_workflow(rt, row)


#: a household workflow's update takes the person's clearing id with the decision (ForMember)
MEMBER_ARGS: dict[str, tuple[type[ForMember], str]] = {
    "record_attendance": (MemberAttendance, "attendance"), "record_interview": (MemberInterview, "facts"),
    "close": (MemberClose, "request"), "correct_move_in": (MemberMoveIn, "correction"),
}


def update_target(row: sa.Row, update: str, arg: BaseModel) -> tuple[str, Callable[..., Any], BaseModel]:
    """(workflow id, update, argument) of a decision on the clearing: its household's workflow (v3) with
    the clearing id, or, for a clearing started before v3, its own per-person workflow."""
    if row.workflow_id is None:
        return clearing_workflow_id(row.person_id), getattr(PreRegistrationClearing, update), arg
    model, field = MEMBER_ARGS[update]
    return row.workflow_id, getattr(HouseholdClearing, update), model(clearing_id=row.id, **{field: arg})


async def _update(rt: IntakeRuntime, row: sa.Row, update: str, arg: BaseModel, pending: bool = False) -> ClearingState:
    """A coach's record as a workflow update (kit.workflows.run_update: a refusal is a DomainError by its
    type, a workflow not running is 404). The clearing is visible once intake commits it, and its
    workflow starts just after (handlers_clearing_starts.py): with `pending`, a record made in that
    window starts the workflow itself, if the clearing is still pending, and is sent once more."""
    starter = (lambda: _start_if_pending(rt, row.id)) if pending else None
    workflow_id, method, payload = update_target(row, update, arg)
    state: ClearingState = await run_update(
        rt.temporal_client, workflow_id, method, payload, start=starter, not_running=NotFound("the clearing is not running")
    )
    return state


async def _pending_clearing(rt: IntakeRuntime, clearing_id: uuid.UUID) -> sa.Row:
    async with rt.db.read() as conn:
        row = await store_clearing.clearing(conn, clearing_id)
    if row is None:
        raise NotFound("no such clearing")
    if row.status != CLEARING_PENDING:
        raise Conflict(f"the clearing is closed ({row.status})")
    return row


async def _audited_out(rt: IntakeRuntime, principal: Principal, action: str, clearing_id: uuid.UUID) -> ClearingOut:
    async with rt.db.begin() as conn:
        await rt.audit(conn, principal, COACH_ROLES, action, "clearing", clearing_id)
        row = await store_clearing.clearing(conn, clearing_id)
    if row is None:
        raise NotFound("no such clearing")
    return clearing_out(row)


async def record_attendance(rt: IntakeRuntime, principal: Principal, clearing_id: uuid.UUID, attended: bool) -> ClearingOut:
    row = await _pending_clearing(rt, clearing_id)
    telemetry.mark(clearing_id=clearing_id)
    await _update(rt, row, "record_attendance", Attendance(attended=attended), pending=True)
    return await _audited_out(rt, principal, "attendance" if attended else "no_show", clearing_id)


async def record_interview(rt: IntakeRuntime, principal: Principal, clearing_id: uuid.UUID, body: ClearingInterviewIn) -> ClearingOut:
    """Stores the interview sealed under the person's data key, then completes the workflow with the
    non-personal facts; a rejected update withdraws the stored record."""
    row = await _pending_clearing(rt, clearing_id)
    telemetry.mark(clearing_id=clearing_id)
    record_id = uuid.uuid4()
    ring = rt.keyring
    async with rt.db.begin() as conn:
        wrapped = (await store.wrapped_keys(conn, [row.person_id])).get(row.person_id)
        if wrapped is None:
            raise Conflict("this person's data was erased")
        sealed = ring.seal(ring.unwrap(wrapped), row.person_id, body.model_dump(mode="json"))
        await store_clearing.add_clearing_record(conn, record_id, clearing_id, sealed, principal.username, utc_now())
        await rt.audit(conn, principal, COACH_ROLES, "create", "clearing_record", record_id)
    facts = InterviewFacts(record_id=record_id, needs_found=body.needs_found, long_term_coaching=body.long_term_coaching)
    try:
        await _update(rt, row, "record_interview", facts, pending=True)
    except Exception:
        async with rt.db.begin() as conn:
            await store_clearing.withdraw_clearing_record(conn, record_id)
        raise
    async with rt.db.read() as conn:
        return clearing_out(await store_clearing.clearing(conn, clearing_id))


async def close_by_coach(rt: IntakeRuntime, principal: Principal, clearing_id: uuid.UUID, outcome: str) -> ClearingOut:
    row = await _pending_clearing(rt, clearing_id)
    await _update(rt, row, "close", CloseRequest(outcome=outcome), pending=True)
    return await _audited_out(rt, principal, f"close_{outcome}", clearing_id)


async def read_interview(rt: IntakeRuntime, principal: Principal, clearing_id: uuid.UUID) -> list[dict[str, Any]]:
    ring = rt.keyring
    async with rt.db.begin() as conn:
        row = await store_clearing.clearing(conn, clearing_id)
        if row is None:
            raise NotFound("no such clearing")
        records = await store_clearing.clearing_records_of(conn, clearing_id)
        wrapped = (await store.wrapped_keys(conn, [row.person_id])).get(row.person_id)
        await rt.audit(conn, principal, COACH_ROLES, "read", "clearing_record", clearing_id)
    out = []
    for r in records:
        content = None
        if r.sealed is not None and wrapped is not None:
            content = ring.open(ring.unwrap(wrapped), row.person_id, r.sealed)
        out.append({"record_id": r.id, "status": r.status, "recorded_by": r.recorded_by, "recorded_at": r.recorded_at, "content": content})
    return out


async def read_clearing(rt: IntakeRuntime, principal: Principal, clearing_id: uuid.UUID, allowed_roles: tuple[str, ...]) -> ClearingDetail:
    async with rt.db.begin() as conn:
        row = await store_clearing.clearing(conn, clearing_id)
        await rt.audit(conn, principal, allowed_roles, "read", "clearing", clearing_id, "ok" if row else "not_found")
        if row is None:
            raise NotFound("no such clearing")
        person = await store.person_any(conn, row.person_id)
        wrapped = (await store.wrapped_keys(conn, [row.person_id])).get(row.person_id)
    fields = (rt.open_person(person, wrapped) if person is not None else None) or {}
    return ClearingDetail(
        **clearing_out(row).model_dump(), given_name=fields.get("given_name"), family_name=fields.get("family_name"),
        date_of_birth=fields.get("date_of_birth"), languages=[lang["code"] for lang in fields.get("languages", [])],
    )


# ---- closing (activity and the correction's consumer) ------------------------------------------------


async def close_clearing(rt: IntakeRuntime, inp: CloseInput) -> None:
    """Closes a pending clearing with the outcome, once (ClearingClosed); a cancelled one frees its place."""
    async with rt.outbox.transaction() as tx:
        row = await store_clearing.clearing(tx.conn, inp.clearing_id)
        if row is None:
            raise NotFound("no such clearing")
        if row.status != CLEARING_PENDING:
            return
        await store_clearing.close_clearing(tx.conn, row, inp.outcome, inp.at, give_back_slot=gives_back_slot(inp.outcome, row.appointment_at, inp.at))
        await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by="system")
        await tx.emit(
            ClearingClosed(
                tenant=rt.platform.tenant, correlation_id=row.intake_id, clearing_id=row.id, intake_id=row.intake_id,
                household_id=row.household_id, person_id=row.person_id, district=row.district, outcome=inp.outcome,
                long_term_coaching=False, closed_at=inp.at,
            )
        )
