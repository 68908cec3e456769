"""Staff alerts: reminders and escalations that a workflow or handler raises for a role (and optionally
one named staff member), shown in work lists until someone resolves them.

Every service keeps its own alerts (kit table `alerts`) and serves them at `GET /alerts`. An alert is
keyed by a business key (e.g. `clearing-reminder-day10-<clearing id>`), so raising it twice, e.g. when
an activity is retried after a crash, keeps one alert. Messages carry ids and dates, never personal data.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.auth import Principal, Role, current_principal
from services.kit.db import KitTables, utc_now
from services.kit.errors import Forbidden, NotFound
from services.kit.on_conflict import upsert
from services.kit.runtime_dep import KitRuntimeDep


class Alert(BaseModel):
    id: uuid.UUID
    key: str
    kind: str
    role: str
    assignee: str | None
    subject_type: str
    subject_id: str
    message: str
    due_at: datetime | None
    raised_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


async def raise_alert(
    conn: AsyncConnection,
    tables: KitTables,
    *,
    key: str,
    kind: str,
    role: str,
    subject_type: str,
    subject_id: object,
    message: str,
    assignee: str | None = None,
    due_at: datetime | None = None,
) -> bool:
    """Raises the alert once per key; returns False if it had been raised before."""
    before = (await conn.execute(sa.select(tables.alerts.c.id).where(tables.alerts.c.key == key))).first()
    if before is not None:
        return False
    await upsert(
        conn,
        tables.alerts,
        dict(
            id=uuid.uuid4(), key=key, kind=kind, role=role, assignee=assignee, subject_type=subject_type,
            subject_id=str(subject_id), message=message, due_at=due_at, raised_at=utc_now(),
        ),
        keys=("key",),
        only_insert=True,
    )
    return True


async def resolve_alerts(conn: AsyncConnection, tables: KitTables, *, subject_id: object, by: str, kinds: tuple[str, ...] = ()) -> int:
    """Resolves the open alerts of a subject (all kinds, or only `kinds`); returns how many."""
    params: dict[str, object] = {"b_subject": str(subject_id), "b_at": utc_now(), "b_by": by}
    if kinds:
        params["b_kinds"] = list(kinds)
    result = await conn.execute(_resolving(tables.alerts, bool(kinds)), params)
    return result.rowcount or 0


@functools.cache
def _resolving(t: sa.Table, of_kinds: bool) -> sa.Update:
    """The update of `resolve_alerts`, built once (bind parameters; kit db.py on why)."""
    cond = sa.and_(t.c.subject_id == sa.bindparam("b_subject"), t.c.resolved_at.is_(None))
    if of_kinds:
        cond = sa.and_(cond, t.c.kind.in_(sa.bindparam("b_kinds", expanding=True)))
    return t.update().where(cond).values(resolved_at=sa.bindparam("b_at"), resolved_by=sa.bindparam("b_by"))


async def list_alerts(
    conn: AsyncConnection, tables: KitTables, *, roles: frozenset[str] | None, assignee: str | None = None,
    open_only: bool = True, subject_id: str | None = None, limit: int = 500,
) -> list[Alert]:
    t = tables.alerts
    q = sa.select(t).order_by(t.c.raised_at, t.c.key).limit(limit)
    if roles is not None:
        q = q.where(t.c.role.in_(roles))
    if assignee is not None:
        q = q.where(sa.or_(t.c.assignee.is_(None), t.c.assignee == assignee))
    if open_only:
        q = q.where(t.c.resolved_at.is_(None))
    if subject_id is not None:
        q = q.where(t.c.subject_id == subject_id)
    return [Alert.model_validate(dict(r._mapping)) for r in (await conn.execute(q)).all()]


def alerts_router() -> APIRouter:
    """`GET /alerts` (a caller sees the alerts addressed to their roles; operators see all) and
    `POST /alerts/{id}/resolve`."""
    router = APIRouter(tags=["alerts"])

    @router.get("/alerts", response_model=list[Alert], summary="Open reminders and escalations for my roles")
    async def get_alerts(
        rt: KitRuntimeDep,
        principal: Annotated[Principal, Depends(current_principal)],
        include_resolved: bool = False,
        subject_id: Annotated[str | None, Query(max_length=100)] = None,
        mine: bool = False,
    ) -> list[Alert]:
        roles = None if principal.has(Role.OPERATOR.value) else frozenset(principal.roles)
        async with rt.db.read() as conn:
            return await list_alerts(
                conn, rt.tables, roles=roles, assignee=principal.username if mine else None,
                open_only=not include_resolved, subject_id=subject_id,
            )

    @router.post("/alerts/{alert_id}/resolve", response_model=Alert, summary="Mark an alert as dealt with")
    async def resolve(rt: KitRuntimeDep, alert_id: uuid.UUID, principal: Annotated[Principal, Depends(current_principal)]) -> Alert:
        t = rt.tables.alerts
        async with rt.db.begin() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == alert_id))).first()
            if row is None:
                raise NotFound(f"alert {alert_id} not found")
            if not (principal.has(row.role) or principal.has(Role.OPERATOR.value)):
                raise Forbidden(f"alert is addressed to role {row.role}")
            if row.resolved_at is None:
                await conn.execute(t.update().where(t.c.id == alert_id).values(resolved_at=utc_now(), resolved_by=principal.username))
            row = (await conn.execute(sa.select(t).where(t.c.id == alert_id))).one()
        return Alert.model_validate(dict(row._mapping))

    return router
