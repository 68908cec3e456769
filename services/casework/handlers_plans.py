"""Casework's integration plans (001 phase 2): the resource check, goals with every revision kept, and
the integration agreement. Load (store) -> decide (domain) -> save (store) -> emit (outbox)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from services.casework import store, store_plans
from services.casework.domain import GoalStatus, Phase, goal_snapshot
from services.casework.handlers_assign import advance_phase, envelope
from services.casework.runtime import CaseworkRuntime
from services.casework.schemas import GoalChangeIn, GoalIn, PlanAgreeIn
from services.contracts.events import GoalSet, PlanAgreed
from services.kit.auth import Principal
from services.kit.errors import Conflict, Invalid, NotFound
from services.kit.outbox import Tx


async def open_case_row(tx: Tx, case_id: uuid.UUID) -> sa.Row:
    case = await store.get_case(tx.conn, case_id)
    if case is None:
        raise NotFound("no such case")
    if case.closed_at is not None:
        raise Conflict("the case is closed")
    return case


async def _goal_changed(rt: CaseworkRuntime, tx: Tx, goal: dict[str, Any], by: str) -> None:
    snapshot = goal_snapshot(goal)
    await store_plans.insert_goal_revision(tx.conn, goal["id"], goal["revision"], snapshot, by)
    await store.note(tx.conn, goal["case_id"], "goal_set", by, goal_id=goal["id"], revision=goal["revision"], **snapshot)
    await tx.emit(GoalSet(
        **envelope(rt, goal["case_id"]), case_id=goal["case_id"], goal_id=goal["id"], person_id=goal["person_id"], field_of_action=goal["field_of_action"],
        responsible=goal["responsible"], target_date=goal["target_date"], revision=goal["revision"], status=goal["status"],
    ))


async def record_resource_check(rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID, answers: dict[str, str]) -> None:
    async with rt.outbox.transaction() as tx:
        await open_case_row(tx, case_id)
        await store_plans.save_resource_check(tx.conn, case_id, answers)
        await store.note(tx.conn, case_id, "resource_check", principal.username, questions=len(answers))


async def add_goal(rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID, goal: GoalIn) -> uuid.UUID:
    async with rt.outbox.transaction() as tx:
        await open_case_row(tx, case_id)
        if goal.person_id is not None and await store.get_member(tx.conn, case_id, goal.person_id) is None:
            raise Invalid("the person is not a member of this case", field="person_id")
        row = dict(
            id=uuid.uuid4(), case_id=case_id, person_id=goal.person_id, field_of_action=goal.field_of_action, title=goal.title,
            target_date=goal.target_date, responsible=goal.responsible.value, status=GoalStatus.OPEN.value, revision=1,
        )
        await store_plans.insert_goal(tx.conn, **row)
        await _goal_changed(rt, tx, row, principal.username)
        return row["id"]


async def change_goal(rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID, goal_id: uuid.UUID, change: GoalChangeIn) -> None:
    """Adjusts a goal, also its field of action (1-18, 000 §4) or the person it is for (a member of the
    case, or none: the whole household); every change is a new revision, the old ones are kept, and
    GoalSet carries the new field and person so reporting counts the goal where it now is."""
    async with rt.outbox.transaction() as tx:
        await open_case_row(tx, case_id)
        values = change.changes()
        person_id = values.get("person_id")
        if isinstance(person_id, uuid.UUID) and await store.get_member(tx.conn, case_id, person_id) is None:
            raise Invalid("the person is not a member of this case", field="person_id")
        await set_goal(rt, tx, case_id, goal_id, values, principal.username)


async def set_goal(rt: CaseworkRuntime, tx: Tx, case_id: uuid.UUID, goal_id: uuid.UUID, values: dict[str, Any], by: str) -> None:
    """Changes a goal of the case as a new revision (nothing when nothing changes); also the review's results."""
    row = await store_plans.get_goal(tx.conn, goal_id, case_id)
    if row is None:
        raise NotFound("no such goal in this case")
    values = {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}
    goal = {**dict(row._mapping), **values}
    if all(goal[k] == row._mapping[k] for k in values):
        return
    goal["revision"] = row.revision + 1
    await store_plans.update_goal(tx.conn, goal_id, **{k: goal[k] for k in (*values, "revision")})
    await _goal_changed(rt, tx, goal, by)


async def agree_plan(rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID, agreement: PlanAgreeIn) -> int:
    """Records the integration agreement, agreed by client and caseworker (001 phase 2); moves the
    case from planning into integration in the regular systems."""
    if not agreement.agreed_by_client:
        raise Invalid("the client has to agree to the integration agreement", field="agreed_by_client")
    if not agreement.agreed_by_caseworker:
        raise Invalid("the caseworker has to agree to the integration agreement", field="agreed_by_caseworker")
    async with rt.outbox.transaction() as tx:
        case = await open_case_row(tx, case_id)
        goals = [g for g in await store_plans.case_goals(tx.conn, case_id) if g.status != GoalStatus.DROPPED]
        if not goals:
            raise Invalid("an integration agreement needs at least one goal", field="goals")
        if Phase(case.phase) == Phase.ENTRY:
            raise Conflict("record the first contact before agreeing a plan")
        version = case.plan_version + 1
        await store.update_case(tx.conn, case_id, plan_version=version)
        await store_plans.save_agreement(tx.conn, case_id, agreement.agreed_on, version)
        fields = sorted({g.field_of_action for g in goals})
        await store.note(tx.conn, case_id, "plan_agreed", principal.username, plan_version=version, goals=len(goals), agreed_on=agreement.agreed_on)
        await tx.emit(PlanAgreed(**envelope(rt, case_id), case_id=case_id, plan_version=version, goal_count=len(goals), fields_of_action=fields))
        await advance_phase(rt, tx, case_id, Phase.INTEGRATION, principal.username)
        return version
