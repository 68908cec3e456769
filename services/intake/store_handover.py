"""Queries of casework's referrals and consents as intake follows them for the Integration Point's handover
(DOMAIN.md flow 4; handlers_handover.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.store import partner_consents, referral_handovers


async def record_referral(conn: AsyncConnection, referral_id: uuid.UUID, *, at: datetime, person_id: uuid.UUID | None = None,
                          partner: str | None = None, made: bool = False, handed_to: str | None = None, closed: bool = False) -> None:
    """Follows a referral's events in any order: a close stays closed, a handover's partner is kept
    against a later-arriving ReferralMade, the person is filled in when first known."""
    t = referral_handovers
    row = (await conn.execute(sa.select(t).where(t.c.referral_id == referral_id))).first()
    if row is None:
        await conn.execute(t.insert().values(referral_id=referral_id, person_id=person_id, partner=handed_to or partner, open=not closed, updated_at=at))
        return
    values: dict = {"updated_at": at}
    if person_id is not None and row.person_id is None:
        values["person_id"] = person_id
    if handed_to is not None:
        values["partner"] = handed_to
    elif made and row.partner is None:
        values["partner"] = partner
    if closed:
        values["open"] = False
    await conn.execute(t.update().where(t.c.referral_id == referral_id).values(**values))


async def record_consent_state(conn: AsyncConnection, person_id: uuid.UUID, partner: str, purpose: str, given_on: date, withdrawn: bool, at: datetime) -> None:
    """Keeps the newest announced state of one consent (an older event arriving late changes nothing)."""
    t = partner_consents
    key = (t.c.person_id == person_id, t.c.partner == partner, t.c.purpose == purpose)
    row = (await conn.execute(sa.select(t.c.changed_at).where(*key))).first()
    if row is None:
        await conn.execute(t.insert().values(person_id=person_id, partner=partner, purpose=purpose, given_on=given_on, withdrawn=withdrawn, changed_at=at))
    elif row.changed_at <= at:
        await conn.execute(t.update().where(*key).values(given_on=given_on, withdrawn=withdrawn, changed_at=at))


async def handover_referral(conn: AsyncConnection, referral_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(referral_handovers).where(referral_handovers.c.referral_id == referral_id))).first()


async def active_partner_consents(conn: AsyncConnection, person_id: uuid.UUID) -> set[tuple[str, str]]:
    t = partner_consents
    rows = await conn.execute(sa.select(t.c.partner, t.c.purpose).where(t.c.person_id == person_id, t.c.withdrawn.is_(False)))
    return {(r.partner, r.purpose) for r in rows}
