"""Casework's queries for the data protection officer (services/kit/privacy.py): the ids of a
person's records (the cases the person is a member of, their goals and referrals) and the rows."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casework.store import assignments, cases, consents, goal_revisions, goals, members, plans, referrals, reviews_due, timeline


async def _rows(conn: AsyncConnection, table: sa.Table, column: str, values: list[Any]) -> list[sa.Row]:
    if not values:
        return []
    return list((await conn.execute(sa.select(table).where(table.c[column].in_(values)))).all())


async def case_ids_of(conn: AsyncConnection, person_id: uuid.UUID) -> list[uuid.UUID]:
    return list((await conn.execute(sa.select(members.c.case_id).where(members.c.person_id == person_id).distinct())).scalars().all())


async def person_records(conn: AsyncConnection, person_id: uuid.UUID) -> list[str]:
    case_ids = await case_ids_of(conn, person_id)
    goal_ids = (await conn.execute(sa.select(goals.c.id).where(goals.c.case_id.in_(case_ids)))).scalars().all() if case_ids else []
    referral_ids = (await conn.execute(sa.select(referrals.c.id).where(referrals.c.person_id == person_id))).scalars().all()
    return [str(i) for i in (*case_ids, *goal_ids, *referral_ids)]


async def subject_rows(conn: AsyncConnection, person_id: uuid.UUID) -> dict[str, list[sa.Row]]:
    case_ids = await case_ids_of(conn, person_id)
    goal_rows = await _rows(conn, goals, "case_id", case_ids)
    return {
        "cases": await _rows(conn, cases, "id", case_ids),
        "memberships": await _rows(conn, members, "person_id", [person_id]),
        "assignments": await _rows(conn, assignments, "case_id", case_ids),
        "plans": await _rows(conn, plans, "case_id", case_ids),
        "goals": goal_rows,
        "goal_revisions": await _rows(conn, goal_revisions, "goal_id", [g.id for g in goal_rows]),
        "reviews_due": await _rows(conn, reviews_due, "case_id", case_ids),
        "timeline": await _rows(conn, timeline, "case_id", case_ids),  # notes, contacts, reviews
        "referrals": await _rows(conn, referrals, "person_id", [person_id]),
        "consents": await _rows(conn, consents, "person_id", [person_id]),
    }
