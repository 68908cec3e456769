"""Casework's real activities on a real database, for workflow tests on a Temporal server."""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa

from services.casework import store
from services.casework.domain import Phase
from services.casework.settings import CaseworkSettings
from services.contracts.events import IntakeCompleted, PersonProfile
from services.contracts.vocab import AgeGroup, Prospect, ResidenceStatus, Route, Sex
from services.kit.db import Database, utc_now
from services.kit.outbox import Outbox
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings


def runtime(db: Database, temporal=None, **settings) -> Runtime:  # type: ignore[no-untyped-def]
    outbox = Outbox(db, store.kit)
    rt = Runtime("casework", PlatformSettings(), CaseworkSettings(**settings), db, store.kit, outbox, None, None)  # type: ignore[arg-type]
    rt.temporal = temporal
    return rt


async def open_case(db: Database, caseworker: str | None = "caseworker") -> uuid.UUID:
    case_id = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(
            store.cases.insert().values(
                id=case_id, household_id=uuid.uuid4(), programme="Soziales Fallmanagement", district="Westen",
                phase=Phase.ENTRY, opened_at=utc_now(), caseworker=caseworker,
            )
        )
    return case_id


async def events(db: Database, event_type: str) -> list[dict]:
    import json

    async with db.read() as conn:
        rows = (await conn.execute(sa.select(store.kit.outbox.c.payload).where(store.kit.outbox.c.event_type == event_type)
                                   .order_by(store.kit.outbox.c.seq))).all()
    return [json.loads(r.payload) for r in rows]


async def alerts(db: Database, kind: str) -> list[sa.Row]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(store.kit.alerts).where(store.kit.alerts.c.kind == kind))).all())


def intake(district: str = "Westen") -> IntakeCompleted:
    """A completed intake of one employable adult routed to casework."""
    intake_id = uuid.uuid4()
    person = PersonProfile(
        person_id=uuid.uuid4(), adult=True, age_group=AgeGroup.AGE_25_44, sex=Sex.FEMALE, residence_status=ResidenceStatus.RECOGNISED_REFUGEE,
        prospect=Prospect.GOOD, employable=True, routes=[Route.CASEWORK], german_level="A1", languages=["ar"],
    )
    return IntakeCompleted(tenant="hamm", correlation_id=intake_id, intake_id=intake_id, household_id=uuid.uuid4(), district=district,
                           move_in_date=date.today(), persons=[person])
