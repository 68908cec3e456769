"""Funding's mail outbox statements: e-mails to the organisations, queued in the transaction of the change
that causes them and leased by the relay (`mail.py`)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.funding.store import mail_outbox
from services.kit.on_conflict import upsert


async def enqueue_mail(conn: AsyncConnection, *, key: str, kind: str, application_id: uuid.UUID, recipient: str, subject: str, body: str, now: object) -> None:
    """Queues a mail once per key (a retried step queues nothing twice)."""
    await upsert(conn, mail_outbox, {
        "id": uuid.uuid4(), "key": key, "kind": kind, "application_id": application_id, "recipient": recipient,
        "subject": subject, "body": body, "created_at": now, "attempts": 0, "next_attempt_at": now,
    }, keys=["key"], only_insert=True)


async def claim_mail(conn: AsyncConnection, now: object, lease_until: object) -> sa.Row | None:
    """Takes the next due, unsent mail for `lease_until` (another replica skips it meanwhile)."""
    m = mail_outbox
    due = sa.and_(m.c.sent_at.is_(None), m.c.next_attempt_at <= now, sa.or_(m.c.lease_until.is_(None), m.c.lease_until < now))
    row = (await conn.execute(sa.select(m).where(due).order_by(m.c.next_attempt_at).limit(1))).first()
    if row is None:
        return None
    result = await conn.execute(m.update().where(m.c.id == row.id, due).values(lease_until=lease_until, attempts=m.c.attempts + 1))
    return row if result.rowcount == 1 else None


async def mark_mail_sent(conn: AsyncConnection, mail_id: uuid.UUID, at: object) -> None:
    await conn.execute(mail_outbox.update().where(mail_outbox.c.id == mail_id).values(sent_at=at, lease_until=None, last_error=None))


async def mark_mail_failed(conn: AsyncConnection, mail_id: uuid.UUID, next_attempt_at: object, error: str) -> None:
    values = {"next_attempt_at": next_attempt_at, "lease_until": None, "last_error": error[:200]}
    await conn.execute(mail_outbox.update().where(mail_outbox.c.id == mail_id).values(**values))


async def mails_of(conn: AsyncConnection, application_id: uuid.UUID) -> list[sa.Row]:
    q = sa.select(mail_outbox.c.kind, mail_outbox.c.key, mail_outbox.c.created_at, mail_outbox.c.sent_at, mail_outbox.c.attempts).where(
        mail_outbox.c.application_id == application_id).order_by(mail_outbox.c.created_at)
    return list((await conn.execute(q)).all())
