"""Funding's tables, and its statements on budgets, the case projection, hardship applications and the
steering group (the discretionary fund's measures: `store_measures.py`; the mail outbox: `store_mail.py`;
the ledger: `ledger.py`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UTCDateTime, Uuid, add_kit_tables
from services.kit.on_conflict import upsert

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


async def active_members(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(sa.select(steering_members.c.username).where(steering_members.c.active.is_(True)).order_by(steering_members.c.username))
    return [r.username for r in rows]


async def get_budget(conn: AsyncConnection, fund: str, year: int) -> sa.Row | None:
    return (await conn.execute(sa.select(budgets).where(budgets.c.fund == fund, budgets.c.fiscal_year == year))).first()


async def ensure_budget(conn: AsyncConnection, fund: str, year: int, cents: int, now: object) -> None:
    """A fund's budget for the year unless one is set already (an existing budget is never overwritten)."""
    values = {"fund": fund, "fiscal_year": year, "amount_cents": cents, "committed_cents": 0, "set_by": "default", "set_at": now}
    await upsert(conn, budgets, values, keys=["fund", "fiscal_year"], only_insert=True)


# --- the case projection (casework's events) -----------------------------------------------------------


async def get_case(conn: AsyncConnection, case_id: uuid.UUID) -> sa.Row | None:
    """A case as funding knows it: its members, responsible caseworker and whether it is closed."""
    return (await conn.execute(sa.select(case_members).where(case_members.c.case_id == case_id))).first()


async def case_opened(conn: AsyncConnection, case_id: uuid.UUID, member_ids: list[str]) -> None:
    await upsert(conn, case_members, {"case_id": case_id, "member_ids": member_ids}, keys=["case_id"])


async def update_case(conn: AsyncConnection, case_id: uuid.UUID, **values: object) -> None:
    """Sets the case's caseworker or closed mark; a case not heard of yet is added first (events may come in any order)."""
    await upsert(conn, case_members, {"case_id": case_id, "member_ids": []}, keys=["case_id"], only_insert=True)
    await conn.execute(case_members.update().where(case_members.c.case_id == case_id).values(**values))


# --- hardship applications --------------------------------------------------------------------------


async def insert_hardship(conn: AsyncConnection, application_id: uuid.UUID, cmd: Any, applicant: str, year: int, required: int,
                          status: str, reason: str | None, office: str | None, now: datetime) -> None:
    """Stores an application (`cmd`: the HardshipApply request) with its screening's status, reason and office."""
    await conn.execute(
        hardship.insert().values(
            id=application_id, case_id=cmd.case_id, person_id=cmd.person_id, applicant=applicant, amount_cents=cmd.amount_cents,
            purpose=cmd.purpose, purpose_category=cmd.purpose_category, justification=cmd.justification,
            period_start=cmd.period_start, period_end=cmd.period_end, criteria=cmd.criteria.model_dump(mode="json"),
            fiscal_year=year, deciders_required=required, status=status, reason=reason, responsible_office=office,
            deciders=[], applied_at=now, decided_at=now if status != "pending" else None,
        )
    )


async def update_hardship(conn: AsyncConnection, application_id: uuid.UUID, **values: object) -> None:
    await conn.execute(hardship.update().where(hardship.c.id == application_id).values(**values))


async def decision_of(conn: AsyncConnection, application_id: uuid.UUID, decider: str) -> sa.Row | None:
    """The decision this decider recorded on the application, if any."""
    d = hardship_decisions
    return (await conn.execute(sa.select(d).where(d.c.application_id == application_id, d.c.decider == decider))).first()


async def count_approvals(conn: AsyncConnection, application_id: uuid.UUID) -> int:
    d = hardship_decisions
    q = sa.select(sa.func.count()).select_from(d).where(d.c.application_id == application_id, d.c.decision == "approve")
    return int((await conn.execute(q)).scalar_one())


async def insert_decision(conn: AsyncConnection, application_id: uuid.UUID, decider: str, decision: str, reason: str | None, at: datetime) -> None:
    await conn.execute(hardship_decisions.insert().values(application_id=application_id, decider=decider, decision=decision, reason=reason, at=at))


# --- the steering group: members, rounds, minutes ------------------------------------------------------------


async def members(conn: AsyncConnection) -> list[sa.Row]:
    """The member register, active or not, by user name."""
    return list((await conn.execute(sa.select(steering_members).order_by(steering_members.c.username))).all())


async def set_member(conn: AsyncConnection, username: str, active: bool, since: datetime) -> None:
    await upsert(conn, steering_members, {"username": username, "active": active, "since": since}, keys=["username"])


async def seed_members(conn: AsyncConnection, usernames: list[str], since: datetime) -> None:
    """The register's first members, once: nothing happens when it has any member."""
    if (await conn.execute(sa.select(steering_members.c.username).limit(1))).first():
        return
    for username in usernames:
        await conn.execute(steering_members.insert().values(username=username, active=True, since=since))


async def insert_round(conn: AsyncConnection, round_id: uuid.UUID, year: int, created_by: str, now: datetime) -> None:
    await conn.execute(rounds.insert().values(id=round_id, fiscal_year=year, created_by=created_by, status="open", meeting_no=1, created_at=now))


async def round_recorded(conn: AsyncConnection, round_id: uuid.UUID) -> bool:
    return (await conn.execute(sa.select(rounds.c.id).where(rounds.c.id == round_id))).first() is not None


async def advance_round(conn: AsyncConnection, round_id: uuid.UUID, next_meeting_no: int, still_open: bool) -> None:
    await conn.execute(rounds.update().where(rounds.c.id == round_id).values(meeting_no=next_meeting_no, status="open" if still_open else "closed"))


async def get_minutes(conn: AsyncConnection, round_id: uuid.UUID, meeting_no: int) -> sa.Row | None:
    return (await conn.execute(sa.select(minutes).where(minutes.c.round_id == round_id, minutes.c.meeting_no == meeting_no))).first()


async def insert_minutes(conn: AsyncConnection, round_id: uuid.UUID, meeting_no: int, document: dict[str, Any], text: str, at: datetime) -> None:
    await conn.execute(minutes.insert().values(round_id=round_id, meeting_no=meeting_no, document=document, text=text, recorded_at=at))
