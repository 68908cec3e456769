"""Queries of the person search's blind index (issue 14; domain_matching.py, crypto.BlindIndex)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.store import data_keys, households, intakes, persons, search_tokens
from services.kit.on_conflict import insert_ignoring_conflicts


async def put_search_tokens(conn: AsyncConnection, rows: list[dict]) -> None:
    """Index rows (token, person_id, household_id); a row already there is kept (a backfill that runs twice,
    two replicas starting at once). A person's rows are replaced with `drop_search_tokens` first."""
    if rows:
        await insert_ignoring_conflicts(conn, search_tokens, ["token", "person_id"], rows)


async def drop_search_tokens(conn: AsyncConnection, person_ids: list[uuid.UUID]) -> None:
    if person_ids:
        await conn.execute(search_tokens.delete().where(search_tokens.c.person_id.in_(person_ids)))


async def search_hits(conn: AsyncConnection, tokens: list[str]) -> list[sa.Row]:
    """(person_id, household_id, token) of every index row holding one of `tokens`."""
    if not tokens:
        return []
    t = search_tokens
    return list((await conn.execute(sa.select(t.c.person_id, t.c.household_id, t.c.token).where(t.c.token.in_(tokens)))).all())


async def ranked_candidates(conn: AsyncConnection, plan: Any, limit: int, *, same_birth_date: bool = False) -> tuple[list[sa.Row], int]:
    """matching.rank evaluated in the database (`plan`: matching.ScoringPlan): per person the best weight
    per query part and whether the birth date matches, best first (most parts matched, then the score,
    then the person id), at most `limit` rows (person_id, parts_matched, score,
    birth_date_matches) and the number of all candidates; `same_birth_date`: only persons born on the plan's date."""
    t = search_tokens
    if not plan.tokens:
        return [], 0
    part_cols = [
        sa.func.max(sa.case(*[(t.c.token == token, weight) for token, weight in sorted(weights.items())], else_=0)).label(f"p{i}")
        if weights else sa.literal(0).label(f"p{i}")
        for i, weights in enumerate(plan.parts)
    ]
    birth_col = sa.func.max(sa.case((t.c.token == plan.birth_token, 1), else_=0)) if plan.birth_token else sa.literal(0)
    inner = (  # read from the primary key (token, person_id) alone
        sa.select(t.c.person_id, *part_cols, birth_col.label("birth"))
        .where(t.c.token.in_(plan.tokens))
        .group_by(t.c.person_id)
        .subquery()
    )
    parts = [inner.c[f"p{i}"] for i in range(len(plan.parts))]
    matched = sum((sa.case((p > 0, 1), else_=0) for p in parts), sa.literal(0))
    score = sum(parts, sa.literal(0)) + inner.c.birth * plan.birth_weight
    q = sa.select(
        inner.c.person_id, matched.label("parts_matched"), score.label("score"),
        inner.c.birth.label("birth_date_matches"), sa.func.count().over().label("total"),
    )
    q = q.where(matched > 0) if plan.parts else q.where(score > 0)
    if same_birth_date:
        q = q.where(inner.c.birth == 1)
    rows = list((await conn.execute(q.order_by(matched.desc(), score.desc(), inner.c.person_id).limit(limit))).all())
    return rows, rows[0].total if rows else 0


async def search_tokens_of(conn: AsyncConnection, person_id: uuid.UUID) -> list[str]:
    rows = await conn.execute(sa.select(search_tokens.c.token).where(search_tokens.c.person_id == person_id))
    return [r.token for r in rows]


async def persons_with_intake(conn: AsyncConnection, ids: list[uuid.UUID]) -> list[sa.Row]:
    """The persons (still in their household, not erased) with their wrapped data key, their household's
    intake id and district, in one query."""
    if not ids:
        return []
    q = (
        sa.select(persons.c.id, persons.c.household_id, persons.c.sealed, data_keys.c.wrapped_key, intakes.c.id.label("intake_id"),
                  households.c.district, households.c.created_at.label("household_created_at"))
        .select_from(
            persons.join(households, households.c.id == persons.c.household_id).join(intakes, intakes.c.household_id == persons.c.household_id)
            .join(data_keys, data_keys.c.subject_id == persons.c.id)
        )
        .where(persons.c.id.in_(ids), persons.c.removed_at.is_(None), persons.c.sealed.is_not(None))
    )
    return list((await conn.execute(q)).all())


async def unindexed_persons(conn: AsyncConnection, limit: int) -> list[sa.Row]:
    """Persons (readable, in a household) without any index row: stored before the index existed."""
    has_tokens = sa.select(search_tokens.c.person_id).where(search_tokens.c.person_id == persons.c.id).exists()
    q = (
        sa.select(persons.c.id, persons.c.household_id, persons.c.sealed)
        .where(persons.c.sealed.is_not(None), persons.c.removed_at.is_(None), ~has_tokens)
        .order_by(persons.c.id)
        .limit(limit)
    )
    return list((await conn.execute(q)).all())
