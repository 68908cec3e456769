"""Casework's statements on integration plans, goals with their revisions, and reviews (001 phases 2-4)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casework.store import dumps, goal_revisions, goals, plans, reviews_due
from services.kit.db import utc_now
from services.kit.on_conflict import upsert

# --- plans ----------------------------------------------------------------------------------------------


async def plan_of(conn: AsyncConnection, case_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(plans).where(plans.c.case_id == case_id))).first()


async def save_resource_check(conn: AsyncConnection, case_id: uuid.UUID, answers: dict[str, str]) -> None:
    await upsert(conn, plans, dict(case_id=case_id, resource_check=dumps(answers)), keys=("case_id",))


async def save_agreement(conn: AsyncConnection, case_id: uuid.UUID, agreed_on: date, version: int) -> None:
    await upsert(conn, plans, dict(case_id=case_id, agreed_on=agreed_on, version=version), keys=("case_id",))


# --- goals ----------------------------------------------------------------------------------------------


async def case_goals(conn: AsyncConnection, case_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(goals).where(goals.c.case_id == case_id).order_by(goals.c.field_of_action, goals.c.id))).all())


async def get_goal(conn: AsyncConnection, goal_id: uuid.UUID, case_id: uuid.UUID | None = None) -> sa.Row | None:
    """The goal (with `case_id`: only if it belongs to that case)."""
    q = sa.select(goals).where(goals.c.id == goal_id)
    if case_id is not None:
        q = q.where(goals.c.case_id == case_id)
    return (await conn.execute(q)).first()


async def insert_goal(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(goals.insert().values(**values))


async def update_goal(conn: AsyncConnection, goal_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(goals.update().where(goals.c.id == goal_id).values(**values))


async def insert_goal_revision(conn: AsyncConnection, goal_id: uuid.UUID, revision: int, snapshot: dict[str, Any], by: str) -> None:
    await conn.execute(goal_revisions.insert().values(goal_id=goal_id, revision=revision, snapshot=dumps(snapshot), at=utc_now(), by=by))


async def revisions_of(conn: AsyncConnection, goal_id: uuid.UUID) -> list[sa.Row]:
    q = sa.select(goal_revisions).where(goal_revisions.c.goal_id == goal_id).order_by(goal_revisions.c.revision)
    return list((await conn.execute(q)).all())


async def open_goals_in_field(conn: AsyncConnection, case_id: uuid.UUID, field_of_action: int, person_id: uuid.UUID, closed: tuple[str, ...]) -> list[sa.Row]:
    """The case's goals in a field of action for the person or the whole household, not in one of the `closed` statuses."""
    q = sa.select(goals).where(
        goals.c.case_id == case_id, goals.c.field_of_action == field_of_action, goals.c.status.not_in(closed),
        sa.or_(goals.c.person_id.is_(None), goals.c.person_id == person_id),
    )
    return list((await conn.execute(q)).all())


# --- reviews --------------------------------------------------------------------------------------------


async def review_due(conn: AsyncConnection, case_id: uuid.UUID, cycle: int) -> sa.Row | None:
    return (await conn.execute(sa.select(reviews_due).where(reviews_due.c.case_id == case_id, reviews_due.c.cycle == cycle))).first()


async def insert_review_due(conn: AsyncConnection, case_id: uuid.UUID, cycle: int, due_on: date) -> None:
    await conn.execute(reviews_due.insert().values(case_id=case_id, cycle=cycle, due_on=due_on, recorded_at=utc_now()))


async def update_review_due(conn: AsyncConnection, case_id: uuid.UUID, cycle: int | None, **values: Any) -> None:
    """Sets escalated, or completed_on and results, of one cycle's review."""
    await conn.execute(reviews_due.update().where(reviews_due.c.case_id == case_id, reviews_due.c.cycle == cycle).values(**values))


async def open_reviews_of(conn: AsyncConnection, case_ids: list[uuid.UUID]) -> list[sa.Row]:
    """The reviews due and not recorded of these cases, earliest first (the work list)."""
    q = sa.select(reviews_due).where(reviews_due.c.case_id.in_(case_ids), reviews_due.c.completed_on.is_(None)).order_by(reviews_due.c.due_on)
    return list((await conn.execute(q)).all())

