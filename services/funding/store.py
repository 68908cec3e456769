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
    sa.Index("ix_measure_applicant", "applicant"),
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
