"""Service runtimes on a real database, without HTTP or Temporal, and contract events published the
way a producer's outbox relay does, for the benchmarks and the tests (tests/support/funding.py,
tests/support/events.py and the reporting integration tests import these: bench may not import tests,
see the import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.contracts import Event
from services.funding import store as funding_store
from services.funding.domain import Fund, HardshipStatus
from services.funding.schemas import HardshipApply, HardshipCriteria
from services.funding.settings import FundingSettings
from services.kit.db import Database, utc_now
from services.kit.outbox import Outbox, event_headers
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings
from services.reporting import handlers as reporting_handlers
from services.reporting import store as reporting_store
from services.reporting.runtime import ReportingRuntime
from services.reporting.settings import ReportingSettings

# ---- events --------------------------------------------------------------------------------------


async def publish_events(redis_url: str, events: Iterable[Event]) -> int:
    """Publishes each event to its stream (`<producer>.<event>.v<N>`) with the relay's body and headers;
    returns how many."""
    broker = RedisBroker(redis_url)
    await broker.connect()
    count = 0
    try:
        for event in events:
            await broker.publish(event.model_dump_json().encode(), stream=event.stream, headers=event_headers(event))
            count += 1
    finally:
        await broker.stop()
    return count


# ---- funding -------------------------------------------------------------------------------------


async def funding_runtime(url: str) -> Runtime:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(funding_store.metadata.create_all)
    return Runtime("funding", PlatformSettings(), FundingSettings(), db, funding_store.kit, Outbox(db, funding_store.kit), None, None)  # type: ignore[arg-type]


async def given_budget(rt: Runtime, fund: Fund, year: int, cents: int) -> None:
    async with rt.db.begin() as conn:
        await conn.execute(funding_store.budgets.insert().values(fund=fund.value, fiscal_year=year, amount_cents=cents, committed_cents=0, set_by="test",
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
        await funding_store.insert_hardship(conn, application_id, hardship_request(amount_cents), applicant, year, required, HardshipStatus.PENDING,
                                            None, None, utc_now())
    return application_id


# ---- reporting -----------------------------------------------------------------------------------


async def reporting_runtime(redis_url: str, db_url: str, **settings: object) -> ReportingRuntime:
    """Reporting's runtime on a fresh database with the KPI catalogue loaded, its broker on `redis_url`."""
    db = Database(db_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(reporting_store.metadata.create_all)
    platform = PlatformSettings(redis_url=redis_url, tenant="hamm")
    rt = ReportingRuntime("reporting", platform, ReportingSettings(**settings), db, reporting_store.kit, Outbox(db, reporting_store.kit),
                          RedisBroker(redis_url), Redis.from_url(redis_url))
    await reporting_handlers.load_catalogue(rt)
    return rt
