"""Intake's tables and queries. Personal fields live only in `sealed` blobs (crypto.py); plain columns
hold pseudonymous ids and coarse derived facts for queries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UTCDateTime, Uuid, add_kit_tables, insert_ignoring_conflicts

metadata = sa.MetaData()
kit = add_kit_tables(metadata)

households = sa.Table(
    "households",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("household_id", Uuid, sa.ForeignKey("households.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=True),
    sa.Column("adult", sa.Boolean, nullable=True),
    sa.Column("age_group", sa.String(10), nullable=True),
    sa.Column("sex", sa.String(20), nullable=True),
    sa.Column("residence_status", sa.String(40), nullable=True),
    sa.Column("prospect", sa.String(10), nullable=True),
    sa.Column("employable", sa.Boolean, nullable=True),
    sa.Column("needs", sa.String(200), nullable=True),  # comma separated Need values
    sa.Column("routes", sa.String(200), nullable=True),  # comma separated Route values
    sa.Column("arrival_record_id", Uuid, nullable=True),  # the statistics record (ArrivalRecorded) to retract on correction
    sa.Column("removed_at", UTCDateTime, nullable=True),
    sa.Column("erased_at", UTCDateTime, nullable=True),
)

#: One wrapped data key per data subject (a person or a draft); deleting the row erases the subject.
data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("subject_id", Uuid, primary_key=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

intakes = sa.Table(
    "intakes",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("household_id", Uuid, sa.ForeignKey("households.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("idempotency_key", sa.String(100), nullable=True, unique=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    sa.Column("completed_by", sa.String(200), nullable=False),
    sa.Column("completed_at", UTCDateTime, nullable=False),
    sa.Column("correction_no", sa.Integer, nullable=False, server_default="0"),
    sa.Column("draft_id", Uuid, nullable=True),
    sa.UniqueConstraint("draft_id", name="uq_intakes_draft_id"),
)

drafts = sa.Table(
    "intake_drafts",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("sealed", sa.LargeBinary, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=True),  # null only for drafts saved before migration 0004
    sa.Column("updated_at", UTCDateTime, nullable=False, index=True),
    sa.Column("completed_intake_id", Uuid, nullable=True),
)

clearings = sa.Table(
    "clearings",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("person_id", Uuid, nullable=False, unique=True),
    sa.Column("intake_id", Uuid, nullable=False),
    sa.Column("household_id", Uuid, nullable=False, index=True),
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("move_in_date", sa.Date, nullable=False),
    sa.Column("registration_deadline", sa.Date, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending, cleared, not_appeared, cancelled
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("slot_id", Uuid, nullable=True),
    sa.Column("appointment_at", UTCDateTime, nullable=True),
    sa.Column("no_shows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deadline_missed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("long_term_coaching", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("needs_found", sa.String(200), nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
)

abra_slots = sa.Table(
    "abra_slots",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("starts_at", UTCDateTime, nullable=False, index=True),
    sa.Column("coach", sa.String(200), nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("booked", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

#: One booking per (clearing, attempt): a retried booking activity finds it instead of booking twice.
slot_bookings = sa.Table(
    "slot_bookings",
    metadata,
    sa.Column("clearing_id", Uuid, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("slot_id", Uuid, sa.ForeignKey("abra_slots.id"), nullable=False),
    sa.Column("appointment_at", UTCDateTime, nullable=False),
    sa.Column("booked_at", UTCDateTime, nullable=False),
)

#: The clearing interview's record (living situation, migration circumstances, information given,
#: needs found, notes), sealed under the person's data key.
clearing_records = sa.Table(
    "clearing_records",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("clearing_id", Uuid, nullable=False, index=True),
    sa.Column("sealed", sa.LargeBinary, nullable=True),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # submitted, accepted
)


#: The search shows a person's household by its intake (migration 0005_search_index).
sa.Index("ix_intakes_household_id", intakes.c.household_id)

#: The person search's blind index (matching.py, crypto.BlindIndex): one row per person and keyed hash of
#: a name part, phonetic key or birth date. No name is stored here; erasing or removing a person deletes
#: their rows.
search_tokens = sa.Table(
    "person_search_tokens",
    metadata,
    sa.Column("token", sa.String(32), primary_key=True),
    sa.Column("person_id", Uuid, primary_key=True),
    sa.Column("household_id", Uuid, nullable=False),
    sa.Index("ix_person_search_tokens_person_id", "person_id"),
)


async def intake_by_key(conn: AsyncConnection, key: str) -> sa.Row | None:
    return (await conn.execute(sa.select(intakes).where(intakes.c.idempotency_key == key))).first()


async def intake_by_id(conn: AsyncConnection, intake_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(intakes).where(intakes.c.id == intake_id))).first()


async def person_ids(conn: AsyncConnection, household_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.execute(
        sa.select(persons.c.id).where(persons.c.household_id == household_id, persons.c.removed_at.is_(None)).order_by(persons.c.position)
    )
    return [r.id for r in rows]


async def household_persons(conn: AsyncConnection, household_id: uuid.UUID, *, include_removed: bool = False) -> list[sa.Row]:
    q = sa.select(persons).where(persons.c.household_id == household_id).order_by(persons.c.position)
    if not include_removed:
        q = q.where(persons.c.removed_at.is_(None))
    return list((await conn.execute(q)).all())


async def wrapped_keys(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, bytes]:
    if not ids:
        return {}
    rows = await conn.execute(sa.select(data_keys).where(data_keys.c.subject_id.in_(ids)))
    return {r.subject_id: r.wrapped_key for r in rows}


async def put_key(conn: AsyncConnection, subject_id: uuid.UUID, wrapped: bytes, at: datetime) -> None:
    await conn.execute(data_keys.insert().values(subject_id=subject_id, wrapped_key=wrapped, created_at=at))


async def household(conn: AsyncConnection, household_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(households).where(households.c.id == household_id))).first()


async def clearing(conn: AsyncConnection, clearing_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(clearings).where(clearings.c.id == clearing_id))).first()


async def clearing_of_person(conn: AsyncConnection, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(clearings).where(clearings.c.person_id == person_id))).first()


async def drafts_page(
    conn: AsyncConnection, *, created_by: str | None, state: str, updated_since: datetime | None, limit: int, offset: int
) -> tuple[list[sa.Row], int]:
    """Drafts newest first (`state`: open | completed | any), with the completed ones' household id,
    who completed them, district and person count (plain columns of the household the completion stored), and the total."""
    d = drafts
    where: list[sa.ColumnElement[bool]] = []
    if created_by is not None:
        where.append(d.c.created_by == created_by)
    if state == "open":
        where.append(d.c.completed_intake_id.is_(None))
    elif state == "completed":
        where.append(d.c.completed_intake_id.is_not(None))
    if updated_since is not None:
        where.append(d.c.updated_at >= updated_since)
    total = (await conn.execute(sa.select(sa.func.count()).select_from(d).where(*where))).scalar_one()
    counted = (
        sa.select(sa.func.count())
        .where(persons.c.household_id == intakes.c.household_id, persons.c.removed_at.is_(None))
        .scalar_subquery()
    )
    q = (
        sa.select(d, intakes.c.household_id, intakes.c.completed_by, households.c.district, counted.label("person_count"))
        .select_from(d.outerjoin(intakes, intakes.c.id == d.c.completed_intake_id).outerjoin(households, households.c.id == intakes.c.household_id))
        .where(*where)
        .order_by(d.c.updated_at.desc(), d.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await conn.execute(q)).all()), total


# ---- person search (blind index) ------------------------------------------------------------------


async def put_search_tokens(conn: AsyncConnection, rows: list[dict]) -> None:
    """Index rows (token, person_id, household_id); a row already there is kept (a backfill that runs twice,
    two replicas starting at once). A person's rows are replaced with `drop_search_tokens` first."""
    if rows:
        await conn.execute(insert_ignoring_conflicts(conn, search_tokens, ["token", "person_id"]), rows)


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
