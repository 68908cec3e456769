"""Funding's tables and queries."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UTCDateTime, Uuid, add_kit_tables

metadata = sa.MetaData()
kit = add_kit_tables(metadata)

budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("fund", sa.String(32), primary_key=True),
    sa.Column("fiscal_year", sa.Integer, primary_key=True),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("set_by", sa.String(200), nullable=False),
    sa.Column("set_at", UTCDateTime, nullable=False),
    # running balance of the ledger (reserved + paid - returned); moved only by a conditional UPDATE in
    # the same transaction as the ledger entry, so available = amount - committed never goes negative
    sa.Column("committed_cents", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("amount_cents >= 0", name="ck_budget_not_negative"),
    sa.CheckConstraint("committed_cents >= 0 AND committed_cents <= amount_cents", name="ck_budget_committed_within"),
)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fund", sa.String(32), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("application_id", Uuid, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.CheckConstraint("amount_cents > 0", name="ck_ledger_positive"),
    sa.Index("ix_ledger_fund_year", "fund", "fiscal_year"),
    sa.Index("ix_ledger_application", "application_id"),
)

case_members = sa.Table(
    "case_projection",
    metadata,
    sa.Column("case_id", Uuid, primary_key=True),
    sa.Column("caseworker", sa.String(200), nullable=True),
    sa.Column("member_ids", sa.JSON, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
)

hardship = sa.Table(
    "hardship_applications",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("case_id", Uuid, nullable=False),
    sa.Column("person_id", Uuid, nullable=False),
    sa.Column("applicant", sa.String(200), nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("purpose_category", sa.String(50), nullable=False),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("criteria", sa.JSON, nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("deciders_required", sa.Integer, nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("reason", sa.String(100), nullable=True),
    sa.Column("responsible_office", sa.String(200), nullable=True),
    sa.Column("deciders", sa.JSON, nullable=False),
    sa.Column("payment_ordered_by", sa.String(200), nullable=True),
    sa.Column("disbursed_by", sa.String(200), nullable=True),
    sa.Column("escalated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("applied_at", UTCDateTime, nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Index("ix_hardship_applicant", "applicant"),
)

hardship_decisions = sa.Table(
    "hardship_decisions",
    metadata,
    sa.Column("application_id", Uuid, primary_key=True),
    sa.Column("decider", sa.String(200), primary_key=True),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(100), nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
)

measures = sa.Table(
    "measure_applications",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("applicant", sa.String(200), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("provider", sa.String(300), nullable=False),
    sa.Column("organisation_kind", sa.String(40), nullable=False),
    sa.Column("fields_of_action", sa.JSON, nullable=False),
    sa.Column("target_group", sa.String(300), nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("budget_lines", sa.JSON, nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("over_limit_justification", sa.Text, nullable=True),
    sa.Column("flagged_over_limit", sa.Boolean, nullable=False),
    sa.Column("guidelines", sa.JSON, nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("round_id", Uuid, nullable=True),
    sa.Column("meeting_no", sa.Integer, nullable=True),
    sa.Column("paid_cents", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("proof_due_on", sa.Date, nullable=True),
    sa.Column("spent_cents", sa.BigInteger, nullable=True),
    sa.Column("returned_cents", sa.BigInteger, nullable=True),
    sa.Column("receipts", sa.Integer, nullable=True),
    sa.Column("proof_report", sa.Text, nullable=True),
    sa.Column("proof_received_at", UTCDateTime, nullable=True),
    sa.Column("applied_at", UTCDateTime, nullable=False),
    # the applicant portal (issue 14): area, contact for e-mails, drawdowns, the reviewed proof of use
    sa.Column("area", sa.String(40), nullable=True),
    sa.Column("contact_email", sa.String(254), nullable=True),
    sa.Column("drawdowns_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("proof_items", sa.JSON, nullable=True),
    sa.Column("proof_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("proof_draft", sa.JSON, nullable=True),  # the submission the workflow has not taken yet (texts stay out of Temporal)
    sa.Column("review_draft", sa.String(2000), nullable=True),  # the rework reason the workflow has not applied yet
    sa.Column("rework_reason", sa.String(2000), nullable=True),
    sa.Column("reviewed_by", sa.String(200), nullable=True),
    sa.Column("released_cents", sa.BigInteger, nullable=True),
    sa.Column("days_late", sa.Integer, nullable=True),  # of the first submission, by the workflow's clock
    sa.Index("ix_measure_applicant", "applicant"),
)

receipts = sa.Table(
    "measure_receipts",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("application_id", Uuid, nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("media_type", sa.String(40), nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("uploaded_by", sa.String(200), nullable=False),
    sa.Column("uploaded_at", UTCDateTime, nullable=False),
    sa.Column("proof_version", sa.Integer, nullable=True),
    sa.Index("ix_receipts_application", "application_id"),
)

drawdowns = sa.Table(
    "measure_drawdowns",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("application_id", Uuid, nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("paid_by", sa.String(200), nullable=True),
    sa.Column("paid_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("amount_cents > 0", name="ck_drawdown_positive"),
    sa.Index("ix_drawdowns_application", "application_id"),
)

#: E-mails to organisations, written in the transaction of the change that causes them and handed to
#: the SMTP relay afterwards (mail outbox). `key` makes enqueueing idempotent (a retried activity
#: queues nothing twice); the Message-ID is derived from `id`, so a receiver drops a resend.
mail_outbox = sa.Table(
    "mail_outbox",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("application_id", Uuid, nullable=False),
    sa.Column("recipient", sa.String(254), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.Index("ix_mail_outbox_due", "sent_at", "next_attempt_at"),
)

steering_members = sa.Table(
    "steering_members",
    metadata,
    sa.Column("username", sa.String(200), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("since", UTCDateTime, nullable=False),
)

rounds = sa.Table(
    "fund_rounds",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("meeting_no", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

minutes = sa.Table(
    "meeting_minutes",
    metadata,
    sa.Column("round_id", Uuid, primary_key=True),
    sa.Column("meeting_no", sa.Integer, primary_key=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)


async def get_hardship(conn: AsyncConnection, application_id: uuid.UUID, *, lock: bool = False) -> sa.Row | None:
    q = sa.select(hardship).where(hardship.c.id == application_id)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return (await conn.execute(q)).first()


def hardship_visible_to(username: str) -> sa.ColumnElement[bool]:
    """The SQL form of domain.may_see_hardship: applications one made, and those of a case now one's own."""
    own_cases = sa.select(case_members.c.case_id).where(case_members.c.caseworker == username)
    return sa.or_(hardship.c.applicant == username, hardship.c.case_id.in_(own_cases))


async def list_hardship(conn: AsyncConnection, *, visible_to: str | None, status: str | None = None,
                        case_id: uuid.UUID | None = None) -> list[sa.Row]:
    """Applications, oldest first; `visible_to` a caseworker's user name (None: all, for fund managers)."""
    q = sa.select(hardship).order_by(hardship.c.applied_at)
    if visible_to is not None:
        q = q.where(hardship_visible_to(visible_to))
    if status:
        q = q.where(hardship.c.status == status)
    if case_id is not None:
        q = q.where(hardship.c.case_id == case_id)
    return list((await conn.execute(q)).all())


async def case_caseworker(conn: AsyncConnection, case_id: uuid.UUID) -> str | None:
    """The caseworker responsible for a case as funding last heard from casework (CaseAssigned)."""
    return (await conn.execute(sa.select(case_members.c.caseworker).where(case_members.c.case_id == case_id))).scalar_one_or_none()


async def get_measure(conn: AsyncConnection, application_id: uuid.UUID, *, lock: bool = False) -> sa.Row | None:
    q = sa.select(measures).where(measures.c.id == application_id)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return (await conn.execute(q)).first()


async def active_members(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(sa.select(steering_members.c.username).where(steering_members.c.active.is_(True)).order_by(steering_members.c.username))
    return [r.username for r in rows]


# --- discretionary fund: the applicant portal ------------------------------------------------------


async def list_measures(conn: AsyncConnection, applicant: str | None = None) -> list[sa.Row]:
    """Every application, or one organisation's own (never another's)."""
    q = sa.select(measures).order_by(measures.c.applied_at)
    if applicant is not None:
        q = q.where(measures.c.applicant == applicant)
    return list((await conn.execute(q)).all())


async def update_measure(conn: AsyncConnection, application_id: uuid.UUID, **values: object) -> None:
    await conn.execute(measures.update().where(measures.c.id == application_id).values(**values))


async def receipts_of(conn: AsyncConnection, application_id: uuid.UUID) -> list[sa.Row]:
    cols = [c for c in receipts.c if c.name != "content"]
    return list((await conn.execute(sa.select(*cols).where(receipts.c.application_id == application_id).order_by(receipts.c.uploaded_at))).all())


async def receipts_total(conn: AsyncConnection, application_id: uuid.UUID) -> int:
    q = sa.select(sa.func.coalesce(sa.func.sum(receipts.c.size_bytes), 0)).where(receipts.c.application_id == application_id)
    return int((await conn.execute(q)).scalar_one())


async def receipt_by_hash(conn: AsyncConnection, application_id: uuid.UUID, sha256: str) -> sa.Row | None:
    cols = [c for c in receipts.c if c.name != "content"]
    return (await conn.execute(sa.select(*cols).where(receipts.c.application_id == application_id, receipts.c.sha256 == sha256))).first()


async def insert_receipt(conn: AsyncConnection, **values: object) -> None:
    await conn.execute(receipts.insert().values(**values))


async def get_receipt(conn: AsyncConnection, application_id: uuid.UUID, receipt_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(receipts).where(receipts.c.id == receipt_id, receipts.c.application_id == application_id))).first()


async def attach_receipts(conn: AsyncConnection, application_id: uuid.UUID, receipt_ids: list[uuid.UUID], version: int) -> None:
    """Receipts first submitted with this version of the proof of use keep that version."""
    await conn.execute(receipts.update().where(
        receipts.c.application_id == application_id, receipts.c.id.in_(receipt_ids), receipts.c.proof_version.is_(None)).values(proof_version=version))


async def count_receipts(conn: AsyncConnection, application_id: uuid.UUID) -> int:
    return int((await conn.execute(sa.select(sa.func.count()).select_from(receipts).where(receipts.c.application_id == application_id))).scalar_one())


async def drawdowns_of(conn: AsyncConnection, application_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(drawdowns).where(drawdowns.c.application_id == application_id).order_by(drawdowns.c.requested_at))).all())


async def drawn_cents(conn: AsyncConnection, application_id: uuid.UUID) -> int:
    """Every drawdown requested or paid so far."""
    q = sa.select(sa.func.coalesce(sa.func.sum(drawdowns.c.amount_cents), 0)).where(drawdowns.c.application_id == application_id)
    return int((await conn.execute(q)).scalar_one())


async def insert_drawdown(conn: AsyncConnection, **values: object) -> None:
    await conn.execute(drawdowns.insert().values(**values))


async def get_drawdown(conn: AsyncConnection, application_id: uuid.UUID, drawdown_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(drawdowns).where(drawdowns.c.id == drawdown_id, drawdowns.c.application_id == application_id))).first()


async def mark_drawdown_paid(conn: AsyncConnection, drawdown_id: uuid.UUID, by: str, at: object) -> bool:
    """Only a requested drawdown is paid (once): False if it was paid already."""
    result = await conn.execute(drawdowns.update().where(drawdowns.c.id == drawdown_id, drawdowns.c.status == "requested").values(status="paid", paid_by=by, paid_at=at))
    return result.rowcount == 1


async def open_drawdowns(conn: AsyncConnection) -> list[sa.Row]:
    q = (sa.select(drawdowns, measures.c.title, measures.c.provider, measures.c.fiscal_year)
         .join(measures, measures.c.id == drawdowns.c.application_id).where(drawdowns.c.status == "requested").order_by(drawdowns.c.requested_at))
    return list((await conn.execute(q)).all())


async def paid_drawdowns(conn: AsyncConnection, limit: int) -> list[sa.Row]:
    q = (sa.select(drawdowns, measures.c.title, measures.c.provider, measures.c.fiscal_year)
         .join(measures, measures.c.id == drawdowns.c.application_id).where(drawdowns.c.status == "paid")
         .order_by(drawdowns.c.paid_at.desc()).limit(limit))
    return list((await conn.execute(q)).all())


# --- mail outbox ----------------------------------------------------------------------------------------


async def enqueue_mail(conn: AsyncConnection, *, key: str, kind: str, application_id: uuid.UUID, recipient: str, subject: str, body: str, now: object) -> None:
    """Queues a mail once per key (a retried step queues nothing twice)."""
    from services.kit.db import upsert

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
    await conn.execute(mail_outbox.update().where(mail_outbox.c.id == mail_id).values(next_attempt_at=next_attempt_at, lease_until=None, last_error=error[:200]))


async def mails_of(conn: AsyncConnection, application_id: uuid.UUID) -> list[sa.Row]:
    q = sa.select(mail_outbox.c.kind, mail_outbox.c.key, mail_outbox.c.created_at, mail_outbox.c.sent_at, mail_outbox.c.attempts).where(
        mail_outbox.c.application_id == application_id).order_by(mail_outbox.c.created_at)
    return list((await conn.execute(q)).all())
