"""Benchmark: reporting projections catching up on 100,000 events from real Redis streams into a fresh
SQLite database, two ways: the rebuild (`ankommen reporting rebuild`, batched) and the live consumers
(the service's own FastStream subscriptions with inbox, as after an outage); then generating the
quarterly KPI report and a funder report (all four formats) over 10,000 cases.

Run: .venv/bin/python -m bench.reporting_projection [--events 100000] [--cases 10000]
Prints events/s to catch up and report generation times. Not run by the test suite."""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from bench.support import reporting_runtime
from deploy.embedded import redis_server
from services.contracts.events import CaseClosed, CaseOpened, ClearingCompleted, ReferralMade, ReferralStepRecorded, ReviewCompleted
from services.contracts.vocab import Partner, Purpose
from services.kit.outbox import event_headers
from services.reporting import handlers_reports
from services.reporting.rebuild import rebuild

DISTRICTS = ["Westen", "Mitte", "Herringen", "Bockum-Hövel", "Heessen", "Uentrop", "Rhynern", "Pelkum"]


def events(n_events: int, n_cases: int, start: datetime) -> list:
    rnd = random.Random(6)
    out = []
    cases = [(uuid.uuid4(), rnd.choice(DISTRICTS), rnd.choice(["ABRA", "Soziales Fallmanagement"])) for _ in range(n_cases)]
    for case, district, prog in cases:
        out.append(CaseOpened(tenant="hamm", correlation_id=case, occurred_at=start + timedelta(minutes=rnd.randrange(60 * 24 * 80)), case_id=case,
                              household_id=uuid.uuid4(), programme=prog, district=district, member_ids=[uuid.uuid4() for _ in range(rnd.randint(1, 5))]))
    while len(out) < n_events:
        case, district, prog = rnd.choice(cases)
        at = start + timedelta(minutes=rnd.randrange(60 * 24 * 88))
        kind = rnd.random()
        if kind < 0.3:
            ref = uuid.uuid4()
            out.append(ReferralMade(tenant="hamm", correlation_id=ref, occurred_at=at, referral_id=ref, case_id=case, person_id=uuid.uuid4(),
                                    partner=Partner.INTEGRATION_POINT, purpose=Purpose.REFERRAL, programme=prog, district=district))
        elif kind < 0.6:
            out.append(ReferralStepRecorded(tenant="hamm", correlation_id=case, occurred_at=at, referral_id=uuid.uuid4(), case_id=case, person_id=uuid.uuid4(),
                                            partner=Partner.INTEGRATION_POINT, step=rnd.choice(["profiled", "measure_offered", "placed_employment"]),
                                            working_days_since_referral=5))
        elif kind < 0.8:
            out.append(ReviewCompleted(tenant="hamm", correlation_id=case, occurred_at=at, case_id=case, cycle=1, achieved=rnd.randint(0, 3), partly=1,
                                       not_achieved=0, dropped=0, days_overdue=0))
        elif kind < 0.95:
            c = uuid.uuid4()
            out.append(ClearingCompleted(tenant="hamm", correlation_id=c, occurred_at=at, clearing_id=c, intake_id=uuid.uuid4(), household_id=uuid.uuid4(),
                                         person_id=uuid.uuid4(), district=district, completed_at=at, days_after_move_in=4, long_term_coaching=False))
        else:
            out.append(CaseClosed(tenant="hamm", correlation_id=case, occurred_at=at, case_id=case, programme=prog, district=district, reason="goals_achieved"))
    return out[:n_events]


async def live_catch_up(url: str, db_path: Path, expected: int) -> None:
    """The live path: reporting's subscriptions (one consumer group per stream, inbox per event,
    the service's concurrency) drain the backlog the streams hold."""
    from services.kit.broker import Consumers, make_broker
    from services.kit.settings import PlatformSettings
    from services.reporting.consumers import subscriptions

    rt = await reporting_runtime(url, f"sqlite+aiosqlite:///{db_path}")
    platform = PlatformSettings(redis_url=url, tenant="hamm")
    broker = make_broker(platform, None)
    consumers = Consumers("reporting-live", platform, rt.outbox, broker)
    for sub in subscriptions(rt):
        consumers.add(sub)
    await consumers.ensure_groups(rt.redis)
    t0 = time.perf_counter()
    await broker.start()
    last, stalled = 0, time.perf_counter()
    while consumers.handled + consumers.duplicates < expected:
        await asyncio.sleep(0.25)  # a benchmark's progress poll, not a test
        done = consumers.handled + consumers.duplicates
        if done != last:
            last, stalled = done, time.perf_counter()
        elif time.perf_counter() - stalled > 60:
            break
    took = time.perf_counter() - t0
    await broker.stop()
    print(f"live consumers: {consumers.handled:,} of {expected:,} events in {took:.1f} s = {consumers.handled / took:,.0f} events/s "
          f"({len(subscriptions(rt))} streams, {consumers.failures} failures)")
    await rt.redis.aclose()
    await rt.db.dispose()


async def main(n_events: int, n_cases: int, live: bool = True) -> None:
    with redis_server() as url, tempfile.TemporaryDirectory() as tmp:
        evs = events(n_events, n_cases, datetime(2026, 7, 1, tzinfo=UTC))
        redis = Redis.from_url(url)
        t0 = time.perf_counter()
        broker = RedisBroker(url)
        await broker.connect()
        for e in evs:  # the kit's wire format, as the outbox relay publishes
            await broker.publish(e.model_dump_json().encode(), stream=e.stream, headers=event_headers(e))
        await broker.stop()
        publish_s = time.perf_counter() - t0
        rt = await reporting_runtime(url, f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        t0 = time.perf_counter()
        result = await rebuild(rt.db, rt.redis, "Europe/Berlin")
        catch_up = time.perf_counter() - t0
        print(f"published {len(evs):,} events in {publish_s:.1f} s")
        print(f"rebuild: projections caught up on {result.events:,} events in {catch_up:.1f} s = {result.events / catch_up:,.0f} events/s (SQLite, batched)")
        if live:
            await live_catch_up(url, Path(tmp) / "live.db", len(evs))
        for kind, funder in (("im_kpi_quarterly", None), ("funder", "council_committee"), ("funder", "esf")):
            t0 = time.perf_counter()
            await handlers_reports.generate_report(rt, kind, funder, "2026-Q3", "bench")
            print(f"{kind}{' ' + funder if funder else ''} 2026-Q3 over {n_cases:,} cases: "
                  f"generated (PDF, XLSX, CSV, JSON) in {time.perf_counter() - t0:.2f} s")
        await rt.redis.aclose()
        await rt.db.dispose()
        await redis.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--no-live", action="store_true", help="skip the live consumers' catch-up")
    a = p.parse_args()
    asyncio.run(main(a.events, a.cases, live=not a.no_live))
