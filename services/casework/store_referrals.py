"""Casework's statements on referrals (DOMAIN.md flow 4) and the consent register (SGB X §67b)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casework.store import consents, referrals, timeline
from services.kit.db import utc_now
from services.kit.on_conflict import upsert

# --- consents -------------------------------------------------------------------------------------------


async def consent(conn: AsyncConnection, person_id: uuid.UUID, partner: str, purpose: str) -> sa.Row | None:
    """The register's entry of one consent, given or withdrawn."""
    c = consents.c
    return (await conn.execute(sa.select(consents).where(c.person_id == person_id, c.partner == partner, c.purpose == purpose))).first()


async def active_consent(conn: AsyncConnection, person_id: uuid.UUID, partner: str, purpose: str) -> sa.Row | None:
    c = consents.c
    q = sa.select(consents).where(c.person_id == person_id, c.partner == partner, c.purpose == purpose, c.withdrawn_at.is_(None))
    return (await conn.execute(q)).first()


async def active_consents_of(conn: AsyncConnection, person_id: uuid.UUID) -> set[tuple[str, str]]:
    """The person's consents that are not withdrawn, as (partner, purpose)."""
    rows = await conn.execute(sa.select(consents.c.partner, consents.c.purpose).where(consents.c.person_id == person_id, consents.c.withdrawn_at.is_(None)))
    return {(r.partner, r.purpose) for r in rows}


async def consents_of(conn: AsyncConnection, person_ids: list[uuid.UUID]) -> list[sa.Row]:
    c = consents.c
    return list((await conn.execute(sa.select(consents).where(c.person_id.in_(person_ids)).order_by(c.person_id, c.partner, c.purpose))).all())


async def save_consent(
    conn: AsyncConnection, person_id: uuid.UUID, partner: str, purpose: str, given_on: date, *, source: str, recorded_by: str | None,
    only_insert: bool = False,
) -> None:
    """Records a given consent (again active); `only_insert` keeps an entry that is already there (the intake's import)."""
    values = dict(person_id=person_id, partner=partner, purpose=purpose, given_on=given_on, source=source, recorded_by=recorded_by, withdrawn_at=None)
    await upsert(conn, consents, values, keys=("person_id", "partner", "purpose"), only_insert=only_insert)


async def withdraw_consents(conn: AsyncConnection, person_id: uuid.UUID, partner: str, purpose: str | None) -> list[str]:
    """Ends the person's active consents for the partner (one purpose, or every one); returns the purposes ended."""
    c = consents.c
    cond = sa.and_(c.person_id == person_id, c.partner == partner, c.withdrawn_at.is_(None))
    if purpose is not None:
        cond = sa.and_(cond, c.purpose == purpose)
    ended = list((await conn.execute(sa.select(c.purpose).where(cond))).scalars().all())
    result = await conn.execute(consents.update().where(cond).values(withdrawn_at=utc_now()))
    return ended if result.rowcount else []


# --- referrals ------------------------------------------------------------------------------------------


async def get_referral(conn: AsyncConnection, referral_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(referrals).where(referrals.c.id == referral_id))).first()


async def insert_referral(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(referrals.insert().values(**values))


async def update_referral(conn: AsyncConnection, referral_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(referrals.update().where(referrals.c.id == referral_id).values(**values))


async def open_referral_to(conn: AsyncConnection, person_id: uuid.UUID, partner: str) -> sa.Row | None:
    r = referrals.c
    return (await conn.execute(sa.select(referrals.c.id).where(r.person_id == person_id, r.partner == partner, r.status == "open"))).first()


async def open_referrals(conn: AsyncConnection) -> list[sa.Row]:
    return list((await conn.execute(sa.select(referrals).where(referrals.c.status == "open"))).all())


async def open_referrals_of_case(conn: AsyncConnection, case_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(referrals).where(referrals.c.case_id == case_id, referrals.c.status == "open"))).all())


async def open_referrals_of_person(conn: AsyncConnection, person_id: uuid.UUID, partner: str, purpose: str | None = None) -> list[sa.Row]:
    """The person's open referrals to the partner (for one purpose, or every one)."""
    r = referrals.c
    q = sa.select(referrals).where(r.person_id == person_id, r.partner == partner, r.status == "open")
    if purpose is not None:
        q = q.where(r.purpose == purpose)
    return list((await conn.execute(q)).all())


async def referrals_of_case(conn: AsyncConnection, case_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(referrals).where(referrals.c.case_id == case_id).order_by(referrals.c.made_at))).all())


async def referral_ids_closed_with_case(conn: AsyncConnection, case_id: uuid.UUID) -> list[uuid.UUID]:
    q = sa.select(referrals.c.id).where(referrals.c.case_id == case_id, referrals.c.outcome == "case_closed")
    return list((await conn.execute(q)).scalars().all())


async def referrals_waiting(conn: AsyncConnection, case_ids: list[uuid.UUID]) -> list[sa.Row]:
    """Open referrals of these cases without an appointment yet, oldest first (the work list)."""
    r = referrals.c
    q = sa.select(referrals).where(r.case_id.in_(case_ids), r.status == "open", r.appointment_on.is_(None)).order_by(r.made_at)
    return list((await conn.execute(q)).all())


async def partner_referrals(conn: AsyncConnection, partners: list[str], status: str, limit: int) -> list[sa.Row]:
    """A partner's referrals in one status, oldest first (the partner screen and the Integration Point)."""
    q = sa.select(referrals).where(referrals.c.partner.in_(partners), referrals.c.status == status).order_by(referrals.c.made_at).limit(limit)
    return list((await conn.execute(q)).all())


async def referral_history(conn: AsyncConnection, case_id: uuid.UUID, referral_id: uuid.UUID) -> list[tuple[datetime, str, dict[str, Any]]]:
    """The referral's entries of the case timeline (steps, handover), oldest first."""
    rows = await conn.execute(
        sa.select(timeline).where(timeline.c.case_id == case_id, timeline.c.kind.in_(("referral_step", "referral_handed_over"))).order_by(timeline.c.id)
    )
    out = []
    for r in rows:
        detail = json.loads(r.detail or "{}")
        if detail.get("referral_id") == str(referral_id):
            out.append((r.at, r.kind, detail))
    return out
