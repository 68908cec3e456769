"""Casework's tables, and the statements on cases, members, caseworkers, assignments and the timeline
(plans and reviews: store_plans; referrals and consents: store_referrals)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UTCDateTime, Uuid, add_kit_tables, utc_now
from services.kit.on_conflict import upsert

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

#: The persons intake erased (PersonErased), so a case's texts go when its last member is erased (store_erasure).
erased_persons = sa.Table(
    "erased_persons",
    metadata,
    sa.Column("person_id", Uuid, primary_key=True),
    sa.Column("erased_at", UTCDateTime, nullable=False),
    sa.Column("ground", sa.String(20), nullable=False),
)


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def as_list(text: str | None) -> list[str]:
    return list(json.loads(text or "[]"))


# --- the timeline (Laufzettel, 002 §4.1) ----------------------------------------------------------------


async def note(conn: AsyncConnection, case_id: uuid.UUID, kind: str, actor: str, /, key: str | None = None, **detail: Any) -> None:
    """Appends to the case's timeline (the Laufzettel, 002 §4.1). With `key`, at most once per key."""
    if key is not None and await timeline_key_seen(conn, key):
        return
    await conn.execute(timeline.insert(), dict(case_id=case_id, at=utc_now(), kind=kind, actor=actor, detail=dumps(detail), key=key))


async def timeline_key_seen(conn: AsyncConnection, key: str) -> bool:
    return (await conn.execute(_TIMELINE_KEY, {"b_key": key})).first() is not None


async def timeline_of(conn: AsyncConnection, case_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(timeline).where(timeline.c.case_id == case_id).order_by(timeline.c.id))).all())


# --- cases ----------------------------------------------------------------------------------------------


# statements of opening a case, built once (services/kit/db.py: why)
_CASE = sa.select(cases).where(cases.c.id == sa.bindparam("b_id"))
_TIMELINE_KEY = sa.select(timeline.c.id).where(timeline.c.key == sa.bindparam("b_key"))
_UPDATE_CASE = cases.update().where(cases.c.id == sa.bindparam("b_id"))
_CASEWORKERS = sa.select(caseworkers).order_by(caseworkers.c.username)
_TAKE_PLACE = (
    caseworkers.update()
    .where(caseworkers.c.username == sa.bindparam("b_username"), caseworkers.c.caseload < caseworkers.c.cap, caseworkers.c.on_leave.is_(False))
    .values(caseload=caseworkers.c.caseload + 1)
)


async def get_case(conn: AsyncConnection, case_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(_CASE, {"b_id": case_id})).first()


async def insert_case(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(cases.insert(), values)


async def update_case(conn: AsyncConnection, case_id: uuid.UUID, **values: Any) -> None:
    """Sets columns of one case (phase, caseworker, queued_at, first_contact_on, plan_version, closure, workflows_pending)."""
    await conn.execute(_UPDATE_CASE, {"b_id": case_id, **values})  # the SET columns are the parameters' names


async def pending_case_ids(conn: AsyncConnection) -> list[uuid.UUID]:
    """Cases committed whose workflows are still to start (the pending mark)."""
    return list((await conn.execute(sa.select(cases.c.id).where(cases.c.workflows_pending.is_(True)))).scalars().all())


def visible_to(username: str | None) -> sa.ColumnElement[bool]:
    """Cases a caseworker may see: their own caseload and the caseload of colleagues they substitute."""
    substituted = sa.select(caseworkers.c.username).where(caseworkers.c.substitute == username, caseworkers.c.on_leave.is_(True))
    return sa.or_(cases.c.caseworker == username, cases.c.caseworker.in_(substituted))


async def case_visible(conn: AsyncConnection, case_id: uuid.UUID, username: str) -> bool:
    return (await conn.execute(sa.select(cases.c.id).where(cases.c.id == case_id, visible_to(username)))).first() is not None


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


async def open_cases_visible_to(conn: AsyncConnection, username: str, limit: int = 500) -> list[sa.Row]:
    """The caller's open cases (own and substituted), oldest first (the work list)."""
    q = sa.select(cases).where(cases.c.closed_at.is_(None), visible_to(username)).order_by(cases.c.opened_at).limit(limit)
    return list((await conn.execute(q)).all())


async def open_case_ids_of(conn: AsyncConnection, caseworker: str) -> list[uuid.UUID]:
    return list((await conn.execute(sa.select(cases.c.id).where(cases.c.caseworker == caseworker, cases.c.closed_at.is_(None)))).scalars().all())


async def oldest_queued(conn: AsyncConnection, districts: list[str], limit: int = 1) -> list[sa.Row]:
    q = (
        sa.select(cases)
        .where(cases.c.queued_at.is_not(None), cases.c.caseworker.is_(None), cases.c.closed_at.is_(None), cases.c.district.in_(districts))
        .order_by(cases.c.queued_at, cases.c.id)
        .limit(limit)
    )
    return list((await conn.execute(q)).all())


# --- members --------------------------------------------------------------------------------------------


async def member_ids(conn: AsyncConnection, case_id: uuid.UUID, active_only: bool = True) -> list[uuid.UUID]:
    q = sa.select(members.c.person_id).where(members.c.case_id == case_id)
    if active_only:
        q = q.where(members.c.active.is_(True))
    return [r.person_id for r in (await conn.execute(q.order_by(members.c.person_id))).all()]


async def get_member(conn: AsyncConnection, case_id: uuid.UUID, person_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(members).where(members.c.case_id == case_id, members.c.person_id == person_id))).first()


async def members_of(conn: AsyncConnection, case_id: uuid.UUID) -> dict[uuid.UUID, sa.Row]:
    """Every member of the case (also inactive ones), by person id."""
    return {r.person_id: r for r in (await conn.execute(sa.select(members).where(members.c.case_id == case_id))).all()}


async def save_member(conn: AsyncConnection, case_id: uuid.UUID, person_id: uuid.UUID, *, adult: bool, employable: bool, residence_status: str) -> None:
    """Adds the member or updates their details (active again)."""
    values = dict(case_id=case_id, person_id=person_id, adult=adult, employable=employable, residence_status=residence_status, active=True)
    await upsert(conn, members, values, keys=("case_id", "person_id"))


async def deactivate_members(conn: AsyncConnection, case_id: uuid.UUID, person_ids: list[uuid.UUID]) -> None:
    await conn.execute(members.update().where(members.c.case_id == case_id, members.c.person_id.in_(person_ids)).values(active=False))


# --- caseworkers and assignments --------------------------------------------------------------------------


async def get_caseworker(conn: AsyncConnection, username: str) -> sa.Row | None:
    return (await conn.execute(sa.select(caseworkers).where(caseworkers.c.username == username))).first()


async def insert_caseworker(conn: AsyncConnection, *, username: str, districts: list[str], languages: list[str], fte: float, cap: int) -> None:
    await conn.execute(caseworkers.insert().values(username=username, districts=json.dumps(districts), languages=json.dumps(languages),
                                                   fte=fte, cap=cap, caseload=0, on_leave=False, substitute=None))


async def seed_caseworker(conn: AsyncConnection, *, username: str, districts: list[str], languages: list[str], fte: float, cap: int) -> None:
    """Inserts a register entry from the data file unless the user name is there (the team lead's changes stay)."""
    values = dict(username=username, districts=json.dumps(districts), languages=json.dumps(languages), fte=fte, cap=cap, caseload=0,
                  on_leave=False, substitute=None)
    await upsert(conn, caseworkers, values, keys=("username",), only_insert=True)


async def update_caseworker(conn: AsyncConnection, username: str, **values: Any) -> None:
    """Sets register columns of one caseworker (districts/languages as lists, fte, cap, on_leave, substitute)."""
    for name in ("districts", "languages"):
        if name in values:
            values[name] = json.dumps(values[name])
    await conn.execute(caseworkers.update().where(caseworkers.c.username == username).values(**values))


async def all_caseworkers(conn: AsyncConnection) -> list[sa.Row]:
    return list((await conn.execute(_CASEWORKERS)).all())


async def take_place(conn: AsyncConnection, username: str) -> bool:
    """Claims one place in a caseworker's caseload: a conditional increment, so two transactions
    cannot both take the last place (PostgreSQL re-checks the condition on the locked row; SQLite
    serialises writers)."""
    result = await conn.execute(_TAKE_PLACE, {"b_username": username})
    return result.rowcount == 1


async def free_place(conn: AsyncConnection, username: str) -> None:
    await conn.execute(
        caseworkers.update().where(caseworkers.c.username == username, caseworkers.c.caseload > 0).values(caseload=caseworkers.c.caseload - 1)
    )


async def add_assignment(conn: AsyncConnection, case_id: uuid.UUID, caseworker: str, reason: str, by: str) -> None:
    await conn.execute(assignments.insert(), dict(case_id=case_id, caseworker=caseworker, reason=reason, at=utc_now(), by=by))


async def assignments_of(conn: AsyncConnection, case_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(assignments).where(assignments.c.case_id == case_id).order_by(assignments.c.id))).all())
