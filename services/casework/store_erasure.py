"""Casework's statements of the erasure (GDPR Art. 17): the register of erased persons and the shredding
of free texts (the rule of what is shredded when: handlers_erasure and domain.erasure_scope)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casework.store import cases, dumps, erased_persons, goal_revisions, goals, members, plans, referrals, timeline
from services.kit.on_conflict import upsert

#: What an erased goal title reads (the column is NOT NULL; the text is gone).
ERASED_TITLE = "[gelöscht]"
#: Timeline kinds whose detail holds a caseworker's free text under "text".
TEXT_NOTE_KINDS = ("contact_note", "contact")


async def mark_erased(conn: AsyncConnection, person_id: uuid.UUID, at: datetime, ground: str) -> None:
    await upsert(conn, erased_persons, dict(person_id=person_id, erased_at=at, ground=ground), keys=("person_id",), only_insert=True)


async def is_erased(conn: AsyncConnection, person_id: uuid.UUID) -> bool:
    return (await conn.execute(sa.select(erased_persons.c.person_id).where(erased_persons.c.person_id == person_id))).first() is not None


async def cases_of_person(conn: AsyncConnection, person_id: uuid.UUID) -> list[uuid.UUID]:
    """Every case the person is or was a member of."""
    return list((await conn.execute(sa.select(members.c.case_id).where(members.c.person_id == person_id))).scalars().all())


async def members_not_erased(conn: AsyncConnection, case_id: uuid.UUID) -> int:
    """Members of the case (also former ones) who are not erased."""
    q = sa.select(sa.func.count()).select_from(members).where(
        members.c.case_id == case_id, members.c.person_id.not_in(sa.select(erased_persons.c.person_id)))
    return int((await conn.execute(q)).scalar_one())


async def shred_referral_notes(conn: AsyncConnection, person_id: uuid.UUID) -> int:
    result = await conn.execute(referrals.update().where(referrals.c.person_id == person_id, referrals.c.note.is_not(None)).values(note=None))
    return int(result.rowcount or 0)


async def goal_ids(conn: AsyncConnection, case_id: uuid.UUID, person_id: uuid.UUID | None) -> list[uuid.UUID]:
    """The case's goals of the person (None: the household's goals)."""
    who = goals.c.person_id.is_(None) if person_id is None else goals.c.person_id == person_id
    return list((await conn.execute(sa.select(goals.c.id).where(goals.c.case_id == case_id, who))).scalars().all())


async def shred_goals(conn: AsyncConnection, case_id: uuid.UUID, ids: list[uuid.UUID]) -> int:
    """Goal titles, the titles in their revisions and in the timeline's goal_set entries."""
    if not ids:
        return 0
    await conn.execute(goals.update().where(goals.c.id.in_(ids)).values(title=ERASED_TITLE))
    for row in (await conn.execute(sa.select(goal_revisions).where(goal_revisions.c.goal_id.in_(ids)))).all():
        snapshot = {**json.loads(row.snapshot), "title": None}
        await conn.execute(goal_revisions.update().where(goal_revisions.c.goal_id == row.goal_id, goal_revisions.c.revision == row.revision)
                           .values(snapshot=dumps(snapshot)))
    wanted = {str(i) for i in ids}
    await _rewrite_timeline(conn, case_id, ("goal_set",), lambda d: d.get("goal_id") in wanted, "title")
    return len(ids)


async def shred_case_texts(conn: AsyncConnection, case_id: uuid.UUID) -> int:
    """The case-level free texts: contact notes in the timeline and the resource check's answers."""
    await conn.execute(plans.update().where(plans.c.case_id == case_id).values(resource_check=None))
    return await _rewrite_timeline(conn, case_id, TEXT_NOTE_KINDS, lambda d: d.get("text") is not None, "text")


async def _rewrite_timeline(conn: AsyncConnection, case_id: uuid.UUID, kinds: tuple[str, ...], match: Any, key: str) -> int:
    q = sa.select(timeline.c.id, timeline.c.detail).where(timeline.c.case_id == case_id, timeline.c.kind.in_(kinds))
    n = 0
    for row in (await conn.execute(q)).all():
        detail = json.loads(row.detail)
        if match(detail):
            detail[key] = None
            await conn.execute(timeline.update().where(timeline.c.id == row.id).values(detail=dumps(detail)))
            n += 1
    return n


async def closed_before(conn: AsyncConnection, cutoff: datetime, limit: int) -> list[uuid.UUID]:
    """Persons not erased whose every case closed before `cutoff` (the retention sweep's candidates)."""
    open_or_recent = sa.select(members.c.person_id).join(cases, cases.c.id == members.c.case_id).where(
        sa.or_(cases.c.closed_at.is_(None), cases.c.closed_at >= cutoff))
    q = (sa.select(members.c.person_id).distinct().where(members.c.person_id.not_in(open_or_recent),
                                                          members.c.person_id.not_in(sa.select(erased_persons.c.person_id)))
         .order_by(members.c.person_id).limit(limit))
    return list((await conn.execute(q)).scalars().all())
