"""Helpers for funding tests: a funding runtime on a real database, given hardship applications, and
casework's contract events published into real Redis in the kit's wire format."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from services.funding import store
from services.funding.domain import Fund, HardshipStatus
from services.funding.schemas import HardshipApply, HardshipCriteria
from services.funding.settings import FundingSettings
from services.kit.db import Database, utc_now
from services.kit.outbox import Outbox
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings


async def funding_runtime(url: str) -> Runtime:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(store.metadata.create_all)
    return Runtime("funding", PlatformSettings(), FundingSettings(), db, store.kit, Outbox(db, store.kit), None, None)  # type: ignore[arg-type]


async def given_budget(rt: Runtime, fund: Fund, year: int, cents: int) -> None:
    async with rt.db.begin() as conn:
        await conn.execute(store.budgets.insert().values(fund=fund.value, fiscal_year=year, amount_cents=cents, committed_cents=0, set_by="test",
                                                         set_at=utc_now()))


def hardship_request(amount_cents: int, **criteria: Any) -> HardshipApply:
    today = date.today()
    return HardshipApply(
        case_id=uuid.uuid4(), person_id=uuid.uuid4(), amount_cents=amount_cents, purpose="Schulbedarf", purpose_category="school_supplies",
        justification="kurzfristiger Bedarf", period_start=today, period_end=today + timedelta(days=60),
        criteria=HardshipCriteria(**{"legal_entitlement_elsewhere": False, "caused_by_authority_error": False, "undermines_self_reliance": False, **criteria}),
    )


async def given_hardship(rt: Runtime, amount_cents: int, year: int, *, applicant: str = "caseworker", required: int = 1) -> uuid.UUID:
    """A pending hardship application (as if applied through the API)."""
    application_id = uuid.uuid4()
    async with rt.db.begin() as conn:
        await store.insert_hardship(conn, application_id, hardship_request(amount_cents), applicant, year, required, HardshipStatus.PENDING,
                                    None, None, utc_now())
    return application_id

