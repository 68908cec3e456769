"""Casework's caseworker register and assignment (001 "feste Zuständigkeit nach Sozialraum"; 000
caseload 1:190 per FTE): assigning or queueing cases, reassignment, leave with substitutes; and the
case's phase changes (seed 001). Load (store) -> decide (domain) -> save (store) -> emit (outbox)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.casework import store
from services.casework.domain import CaseworkerSlot, Phase, advance_to, assignment_candidates, effective_cap, leave_assignment, transition
from services.casework.runtime import CaseworkRuntime
from services.casework.schemas import CaseworkerIn, CaseworkerNew
from services.contracts.events import CaseAssigned, CasePhaseChanged, CaseQueued
from services.kit.alerts import raise_alert, resolve_alerts
from services.kit.auth import Principal
from services.kit.db import utc_now
from services.kit.errors import Conflict, Invalid, NotFound
from services.kit.outbox import Tx

SYSTEM = "system"


def envelope(rt: CaseworkRuntime, correlation_id: uuid.UUID, causation_id: uuid.UUID | None = None) -> dict[str, Any]:
    return dict(tenant=rt.platform.tenant, correlation_id=correlation_id, causation_id=causation_id)


# --- phases (seed 001) ------------------------------------------------------------------------------------


async def change_phase(rt: CaseworkRuntime, tx: Tx, case: sa.Row, target: Phase, actor: str) -> None:
    new = transition(Phase(case.phase), target)
    await store.update_case(tx.conn, case.id, phase=new)
    await store.note(tx.conn, case.id, "phase_changed", actor, from_phase=case.phase, to_phase=new)
    await tx.emit(CasePhaseChanged(**envelope(rt, case.id), case_id=case.id, from_phase=case.phase, to_phase=new))


async def advance_phase(rt: CaseworkRuntime, tx: Tx, case_id: uuid.UUID, target: Phase, actor: str) -> None:
    case = await store.get_case(tx.conn, case_id)
    if case is not None and advance_to(Phase(case.phase), target) is not None:
        await change_phase(rt, tx, case, target, actor)


# --- assignment -------------------------------------------------------------------------------------------


def _slot(row: sa.Row) -> CaseworkerSlot:
    return CaseworkerSlot(row.username, tuple(store.as_list(row.districts)), tuple(store.as_list(row.languages)), row.caseload, row.cap, not row.on_leave)


async def _assign(rt: CaseworkRuntime, tx: Tx, case_id: uuid.UUID, username: str, *, reason: str, by: str, previous: str | None = None,
                  causation_id: uuid.UUID | None = None) -> None:
    """The case is with `username` now: the case row, the assignment history, the timeline and CaseAssigned."""
    await store.update_case(tx.conn, case_id, caseworker=username, queued_at=None)
    await store.add_assignment(tx.conn, case_id, username, reason, by)
    extra = {"previous": previous} if reason == "reassignment" else {}
    await store.note(tx.conn, case_id, "assigned", by, caseworker=username, reason=reason, **extra)
    await tx.emit(CaseAssigned(**envelope(rt, case_id, causation_id), case_id=case_id, caseworker=username, previous_caseworker=previous, reason=reason))


async def assign_or_queue(rt: CaseworkRuntime, tx: Tx, case: sa.Row, *, by: str, reason: str, causation_id: uuid.UUID | None = None) -> str | None:
    """Gives an unassigned case to a caseworker of its district with room (shared language first);
    when all are full it is queued, CaseQueued is published and the team lead alerted (000: caseload
    1:190 per FTE). Returns the caseworker or None when queued."""
    rows = await store.all_caseworkers(tx.conn)
    for username in assignment_candidates([_slot(r) for r in rows], case.district, set(store.as_list(case.languages))):
        if await store.take_place(tx.conn, username):
            await _assign(rt, tx, case.id, username, reason=reason, by=by, causation_id=causation_id)
            if reason == "from_queue":
                await resolve_alerts(tx.conn, rt.tables, subject_id=case.id, by=by, kinds=("caseload_full",))
            return username
    if case.queued_at is None:
        await store.update_case(tx.conn, case.id, queued_at=utc_now())
        await store.note(tx.conn, case.id, "queued", SYSTEM, district=case.district)
        await tx.emit(CaseQueued(**envelope(rt, case.id, causation_id), case_id=case.id, district=case.district))
        await raise_alert(
            tx.conn, rt.tables, key=f"caseload-full-{case.id}", kind="caseload_full", role="team_lead", subject_type="case", subject_id=case.id,
            message=f"Alle Fallmanager/innen im Sozialraum {case.district} sind ausgelastet: Fall {case.id} wartet auf Zuweisung.",
        )
    return None


async def drain_queue(rt: CaseworkRuntime, tx: Tx, districts: list[str], by: str) -> None:
    """Assigns queued cases (oldest first) of these districts while someone has room."""
    for case in await store.oldest_queued(tx.conn, districts, limit=50):
        if await assign_or_queue(rt, tx, case, by=by, reason="from_queue") is None:
            break


async def reassign(rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID, username: str) -> None:
    """The team lead moves a case to another caseworker (within their cap); the history keeps both."""
    async with rt.outbox.transaction() as tx:
        case = await store.get_case(tx.conn, case_id)
        if case is None:
            raise NotFound("no such case")
        if case.closed_at is not None:
            raise Conflict("the case is closed")
        if await store.get_caseworker(tx.conn, username) is None:
            raise Invalid("no such caseworker", field="caseworker")
        if case.caseworker == username:
            raise Conflict("the case is already with this caseworker", field="caseworker")
        if not await store.take_place(tx.conn, username):
            raise Conflict("the caseworker has no room (caseload cap reached or on leave)", field="caseworker")
        if case.caseworker:
            await store.free_place(tx.conn, case.caseworker)
        await _assign(rt, tx, case_id, username, reason="reassignment", by=principal.username, previous=case.caseworker)
        await resolve_alerts(tx.conn, rt.tables, subject_id=case_id, by=principal.username, kinds=("caseload_full",))
        if case.caseworker:
            cw = await store.get_caseworker(tx.conn, case.caseworker)
            await drain_queue(rt, tx, store.as_list(cw.districts), principal.username)


# --- the register -------------------------------------------------------------------------------------------


async def seed_caseworkers(rt: CaseworkRuntime) -> None:
    """Loads the caseworker register from the data file at start; entries the team lead changed stay."""
    path = Path(rt.settings.caseworkers_file)
    if not path.exists():  # noqa: ASYNC240 - once at start-up, a small local file
        return
    entries = json.loads(path.read_text(encoding="utf-8"))["caseworkers"]  # noqa: ASYNC240
    async with rt.db.begin() as conn:
        for e in entries:
            fte = float(e.get("fte", 1.0))
            await store.seed_caseworker(
                conn, username=e["username"], districts=e["districts"], languages=e.get("languages", []), fte=fte,
                cap=effective_cap(fte, rt.settings.caseload_cap_per_fte, e.get("cap")),
            )


async def add_caseworker(rt: CaseworkRuntime, principal: Principal, new: CaseworkerNew) -> None:
    """A caseworker joins the register with districts, languages and FTE (cap 190 x FTE unless set, 000);
    queued cases of their districts are assigned to them right away."""
    async with rt.outbox.transaction() as tx:
        if await store.get_caseworker(tx.conn, new.username) is not None:
            raise Conflict("a caseworker with this user name is already in the register", field="username")
        districts = list(dict.fromkeys(new.districts))
        await store.insert_caseworker(tx.conn, username=new.username, districts=districts, languages=list(dict.fromkeys(new.languages)),
                                      fte=new.fte, cap=effective_cap(new.fte, rt.settings.caseload_cap_per_fte, new.cap))
        await drain_queue(rt, tx, districts, principal.username)


async def update_caseworker(rt: CaseworkRuntime, principal: Principal, username: str, change: CaseworkerIn) -> None:
    async with rt.outbox.transaction() as tx:
        cw = await store.get_caseworker(tx.conn, username)
        if cw is None:
            raise NotFound("no such caseworker")
        values: dict[str, Any] = {}
        if change.districts is not None:
            values["districts"] = change.districts
        if change.languages is not None:
            values["languages"] = change.languages
        fte = change.fte if change.fte is not None else cw.fte
        if change.fte is not None or change.cap is not None:
            values["fte"] = fte
            values["cap"] = effective_cap(fte, rt.settings.caseload_cap_per_fte, change.cap)
        if values:
            await store.update_caseworker(tx.conn, username, **values)
        cw = await store.get_caseworker(tx.conn, username)
        await drain_queue(rt, tx, store.as_list(cw.districts), principal.username)


async def set_leave(rt: CaseworkRuntime, principal: Principal, username: str, on_leave: bool, substitute: str | None) -> None:
    """Leave with a substitute: the substitute sees and works the cases (CaseAssigned reason
    substitution for each open case; substitution_ended when the leave ends). The caseload stays with
    the absent caseworker, so nothing moves back and forth."""
    async with rt.outbox.transaction() as tx:
        cw = await store.get_caseworker(tx.conn, username)
        if cw is None:
            raise NotFound("no such caseworker")
        if on_leave and substitute is not None and (substitute == username or await store.get_caseworker(tx.conn, substitute) is None):
            raise Invalid("the substitute must be another registered caseworker", field="substitute")
        if bool(cw.on_leave) == on_leave and cw.substitute == substitute:
            return
        await store.update_caseworker(tx.conn, username, on_leave=on_leave, substitute=substitute if on_leave else None)
        change = leave_assignment(on_leave, substitute, username, cw.substitute)
        for case_id in await store.open_case_ids_of(tx.conn, username) if change else []:
            reason, to, prev = change
            await store.add_assignment(tx.conn, case_id, to, reason, principal.username)
            await store.note(tx.conn, case_id, "assigned", principal.username, caseworker=to, reason=reason, previous=prev)
            await tx.emit(CaseAssigned(**envelope(rt, case_id), case_id=case_id, caseworker=to, previous_caseworker=prev, reason=reason))
        if not on_leave:
            await drain_queue(rt, tx, store.as_list(cw.districts), principal.username)
