"""Casework's tables and queries."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UTCDateTime, Uuid, add_kit_tables, utc_now

metadata = sa.MetaData()
kit = add_kit_tables(metadata)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("household_id", Uuid, nullable=False, index=True),
    sa.Column("intake_id", Uuid, nullable=True, unique=True),
    sa.Column("programme", sa.String(64), nullable=False),
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("phase", sa.String(40), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("clearing_id", Uuid, nullable=True),
    sa.Column("caseworker", sa.String(200), nullable=True, index=True),
    sa.Column("queued_at", UTCDateTime, nullable=True),
    sa.Column("close_reason", sa.String(40), nullable=True),
    sa.Column("first_contact_on", sa.Date, nullable=True),
    sa.Column("plan_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("languages", sa.Text, nullable=False, server_default="[]"),
    sa.Column("workflows_pending", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("clearing_id", name="uq_cases_clearing_id"),
)

reviews_due = sa.Table(
    "reviews_due",
    metadata,
    sa.Column("case_id", Uuid, sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("cycle", sa.Integer, primary_key=True),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("completed_on", sa.Date, nullable=True),
    sa.Column("results", sa.Text, nullable=True),
    sa.Column("escalated", sa.Boolean, nullable=False, server_default=sa.false()),
)

members = sa.Table(
    "case_members",
    metadata,
    sa.Column("case_id", Uuid, sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("person_id", Uuid, primary_key=True, index=True),
    sa.Column("adult", sa.Boolean, nullable=False),
    sa.Column("employable", sa.Boolean, nullable=False),
    sa.Column("residence_status", sa.String(40), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("person_id", Uuid, primary_key=True),
    sa.Column("partner", sa.String(40), primary_key=True),
    sa.Column("purpose", sa.String(40), primary_key=True),
    sa.Column("given_on", sa.Date, nullable=False),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=True),
    sa.Column("withdrawn_at", UTCDateTime, nullable=True),
)

caseworkers = sa.Table(
    "caseworkers",
    metadata,
    sa.Column("username", sa.String(200), primary_key=True),
    sa.Column("districts", sa.Text, nullable=False),
    sa.Column("languages", sa.Text, nullable=False),
    sa.Column("fte", sa.Float, nullable=False),
    sa.Column("cap", sa.Integer, nullable=False),
    sa.Column("caseload", sa.Integer, nullable=False, server_default="0"),
    sa.Column("on_leave", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("substitute", sa.String(200), nullable=True),
)

assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", Uuid, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("caseworker", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
)

goals = sa.Table(
    "goals",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("case_id", Uuid, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("person_id", Uuid, nullable=True),
    sa.Column("field_of_action", sa.Integer, nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("target_date", sa.Date, nullable=False),
    sa.Column("responsible", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
)

goal_revisions = sa.Table(
    "goal_revisions",
    metadata,
    sa.Column("goal_id", Uuid, sa.ForeignKey("goals.id"), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("snapshot", sa.Text, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("case_id", Uuid, sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("resource_check", sa.Text, nullable=True),
    sa.Column("agreed_on", sa.Date, nullable=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
)

referrals = sa.Table(
    "referrals",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("case_id", Uuid, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("person_id", Uuid, nullable=False, index=True),
    sa.Column("partner", sa.String(40), nullable=False),
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("made_on", sa.Date, nullable=False),
    sa.Column("made_at", UTCDateTime, nullable=False),
    sa.Column("acknowledged_on", sa.Date, nullable=True),
    sa.Column("appointment_on", sa.Date, nullable=True),
    sa.Column("measure", sa.String(40), nullable=True),
    sa.Column("outcome", sa.String(40), nullable=True),
    sa.Column("handed_over_from", sa.String(40), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("latest_step", sa.String(40), nullable=True),  # the partner's last recorded step
    sa.Column("outcome_on", sa.Date, nullable=True),  # start of the place or course the partner gave
)

timeline = sa.Table(
    "timeline",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", Uuid, sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("key", sa.String(200), nullable=True, unique=True),
    sa.Index("ix_timeline_case", "case_id", "id"),
)


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


async def note(conn: AsyncConnection, case_id: uuid.UUID, kind: str, actor: str, /, key: str | None = None, **detail: Any) -> None:
    """Appends to the case's timeline (the Laufzettel, 002 §4.1). With `key`, at most once per key."""
    if key is not None:
        seen = (await conn.execute(sa.select(timeline.c.id).where(timeline.c.key == key))).first()
        if seen is not None:
            return
    await conn.execute(timeline.insert().values(case_id=case_id, at=utc_now(), kind=kind, actor=actor, detail=dumps(detail), key=key))


async def get_case(conn: AsyncConnection, case_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(cases).where(cases.c.id == case_id))).first()


async def case_for_intake(conn: AsyncConnection, intake_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(cases).where(cases.c.intake_id == intake_id))).first()


async def member_ids(conn: AsyncConnection, case_id: uuid.UUID, active_only: bool = True) -> list[uuid.UUID]:
    q = sa.select(members.c.person_id).where(members.c.case_id == case_id)
    if active_only:
        q = q.where(members.c.active.is_(True))
    return [r.person_id for r in (await conn.execute(q.order_by(members.c.person_id))).all()]


async def get_member(conn: AsyncConnection, case_id: uuid.UUID, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(members).where(members.c.case_id == case_id, members.c.person_id == person_id))).first()


def visible_to(username: str | None) -> sa.ColumnElement[bool]:
    """Cases a caseworker may see: their own caseload and the caseload of colleagues they substitute."""
    substituted = sa.select(caseworkers.c.username).where(caseworkers.c.substitute == username, caseworkers.c.on_leave.is_(True))
    return sa.or_(cases.c.caseworker == username, cases.c.caseworker.in_(substituted))


async def list_cases(
    conn: AsyncConnection, *, intake_id: uuid.UUID | None, limit: int, offset: int, visible_for: str | None = None, open_only: bool = False,
    household_id: uuid.UUID | None = None,
) -> tuple[list[sa.Row], int]:
    where: list[Any] = [cases.c.intake_id == intake_id] if intake_id else []
    if household_id:
        where.append(cases.c.household_id == household_id)
    if visible_for is not None:
        where.append(visible_to(visible_for))
    if open_only:
        where.append(cases.c.closed_at.is_(None))
    rows = (await conn.execute(sa.select(cases).where(*where).order_by(cases.c.opened_at, cases.c.id).limit(limit).offset(offset))).all()
    total = (await conn.execute(sa.select(sa.func.count()).select_from(cases).where(*where))).scalar_one()
    return list(rows), int(total)


async def get_caseworker(conn: AsyncConnection, username: str) -> sa.Row | None:
    return (await conn.execute(sa.select(caseworkers).where(caseworkers.c.username == username))).first()


async def insert_caseworker(conn: AsyncConnection, *, username: str, districts: list[str], languages: list[str], fte: float, cap: int) -> None:
    await conn.execute(caseworkers.insert().values(username=username, districts=json.dumps(districts), languages=json.dumps(languages),
                                                   fte=fte, cap=cap, caseload=0, on_leave=False, substitute=None))


async def all_caseworkers(conn: AsyncConnection) -> list[sa.Row]:
    return list((await conn.execute(sa.select(caseworkers).order_by(caseworkers.c.username))).all())


async def take_place(conn: AsyncConnection, username: str) -> bool:
    """Claims one place in a caseworker's caseload: a conditional increment, so two transactions
    cannot both take the last place (PostgreSQL re-checks the condition on the locked row; SQLite
    serialises writers)."""
    result = await conn.execute(
        caseworkers.update()
        .where(caseworkers.c.username == username, caseworkers.c.caseload < caseworkers.c.cap, caseworkers.c.on_leave.is_(False))
        .values(caseload=caseworkers.c.caseload + 1)
    )
    return result.rowcount == 1


async def free_place(conn: AsyncConnection, username: str) -> None:
    await conn.execute(
        caseworkers.update().where(caseworkers.c.username == username, caseworkers.c.caseload > 0).values(caseload=caseworkers.c.caseload - 1)
    )


async def oldest_queued(conn: AsyncConnection, districts: list[str], limit: int = 1) -> list[sa.Row]:
    q = (
        sa.select(cases)
        .where(cases.c.queued_at.is_not(None), cases.c.caseworker.is_(None), cases.c.closed_at.is_(None), cases.c.district.in_(districts))
        .order_by(cases.c.queued_at, cases.c.id)
        .limit(limit)
    )
    return list((await conn.execute(q)).all())


async def active_consent(conn: AsyncConnection, person_id: uuid.UUID, partner: str, purpose: str) -> sa.Row | None:
    return (
        await conn.execute(
            sa.select(consents).where(
                consents.c.person_id == person_id, consents.c.partner == partner, consents.c.purpose == purpose, consents.c.withdrawn_at.is_(None)
            )
        )
    ).first()


async def get_referral(conn: AsyncConnection, referral_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(referrals).where(referrals.c.id == referral_id))).first()


async def case_goals(conn: AsyncConnection, case_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(goals).where(goals.c.case_id == case_id).order_by(goals.c.field_of_action, goals.c.id))).all())


async def timeline_of(conn: AsyncConnection, case_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(timeline).where(timeline.c.case_id == case_id).order_by(timeline.c.id))).all())


def as_list(text: str | None) -> list[str]:
    return list(json.loads(text or "[]"))


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def partner_referrals(conn: AsyncConnection, partners: list[str], status: str, limit: int) -> list[sa.Row]:
    """A partner's referrals in one status, oldest first (the partner screen and the Integration Point)."""
    q = sa.select(referrals).where(referrals.c.partner.in_(partners), referrals.c.status == status).order_by(referrals.c.made_at).limit(limit)
    return list((await conn.execute(q)).all())


async def active_consents_of(conn: AsyncConnection, person_id: uuid.UUID) -> set[tuple[str, str]]:
    """The person's consents that are not withdrawn, as (partner, purpose)."""
    rows = await conn.execute(sa.select(consents.c.partner, consents.c.purpose).where(consents.c.person_id == person_id, consents.c.withdrawn_at.is_(None)))
    return {(r.partner, r.purpose) for r in rows}


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
