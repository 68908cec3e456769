"""Reporting against real Redis and a real database: contract events published in the kit's wire
format are projected (rebuild from the streams), KPIs match what the test created, a rebuild yields
the same figures, the ESF funder report (ABRA) renders to PDF/XLSX/CSV/JSON and is frozen."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from bench.support import reporting_runtime as make_runtime
from services.kit.service import Runtime
from services.reporting import handlers_reports, store, store_kpis
from services.reporting.consumers import projected_events
from services.reporting.domain import parse_period
from services.reporting.models import load_kpis
from services.reporting.rebuild import rebuild
from tests.support.events import publish_events
from tests.support.reporting_scenario import abra_quarter, arrivals

TZ = "Europe/Berlin"
Q3 = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.fixture
async def rt(redis_url: str, database_url: str) -> AsyncIterator[Runtime]:
    redis = Redis.from_url(redis_url)
    await redis.delete(*[cls.stream for cls in projected_events()])
    await redis.aclose()
    runtime = await make_runtime(redis_url, database_url)
    yield runtime
    await runtime.redis.aclose()
    await runtime.db.dispose()


async def figures(rt: Runtime, period: str) -> dict[str, int]:
    async with rt.db.read() as conn:
        return {k.name: (await store_kpis.kpi_value(conn, k, parse_period(period), TZ))[""] for k in load_kpis().values()}


class TestProjectionsFromTheStreams:
    async def test_kpis_match_the_events_and_a_rebuild_reproduces_them(self, rt: Runtime, redis_url: str) -> None:
        events, expected = abra_quarter("hamm", Q3)
        arr, _ = arrivals("hamm", "2026-08")
        await publish_events(redis_url, [*events, *arr, events[0]])  # one event published twice (outbox re-publish)
        first = await rebuild(rt.db, rt.redis, TZ)
        assert (first.events, first.duplicates) == (len(events) + len(arr), 1)
        got = await figures(rt, "2026-Q3")
        assert {k: got[k] for k in expected} == expected
        assert got["arrivals"] == 11
        again = await rebuild(rt.db, rt.redis, TZ)
        assert again.events == first.events
        assert await figures(rt, "2026-Q3") == got
        async with rt.db.read() as conn:
            marks = await store.current_watermark(conn)
        assert sum(marks.values()) == first.events

    async def test_explain_shows_query_event_count_and_window(self, rt: Runtime, redis_url: str) -> None:
        events, _ = abra_quarter("hamm", Q3)
        await publish_events(redis_url, events)
        await rebuild(rt.db, rt.redis, TZ)
        async with rt.db.read() as conn:
            how = await store_kpis.kpi_explain(conn, load_kpis()["clearings_held"], parse_period("2026-Q3"), TZ, rt.db.dialect)
        assert how["events"] == 7
        assert "facts" in how["query"] and "ClearingCompleted" in how["query"]
        assert how["window"]["from"] == "2026-06-30T22:00:00+00:00" and how["window"]["to"] == "2026-09-30T22:00:00+00:00"


class TestFunderReport:
    async def test_the_esf_report_for_abra_reads_back_from_xlsx_and_renders_as_pdf_and_is_frozen(self, rt: Runtime, redis_url: str, tmp_path: Path) -> None:
        import openpyxl
        import pypdfium2 as pdfium

        events, expected = abra_quarter("hamm", Q3)
        await publish_events(redis_url, events)
        await rebuild(rt.db, rt.redis, TZ)
        report_id, created = await handlers_reports.generate_report(rt, "funder", "esf", "2026-Q3", "test")
        assert created
        assert (await handlers_reports.generate_report(rt, "funder", "esf", "2026-Q3", "test")) == (report_id, False)
        async with rt.db.read() as conn:
            files = dict((await conn.execute(sa.select(store.report_files.c.format,
                                                       store.report_files.c.content).where(store.report_files.c.report_id == report_id))).all())
            outbox = (await conn.execute(sa.select(store.kit.outbox.c.event_type))).scalars().all()
        assert outbox == ["ReportGenerated"]
        model = json.loads(files["json"])
        kpi_rows = {r[0]: r[2] for r in model["sections"][1]["tables"][0]["rows"]}
        abra_kpis = ["clearings_held", "abra_families_in_coaching", "abra_individuals_in_coaching", "abra_placed_employment"]
        assert kpi_rows == {k: expected[k] for k in abra_kpis}
        wb = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
        sheet = wb["Kennzahlen 2026-Q3"]
        read_back = {r[0]: r[2] for r in sheet.iter_rows(min_row=4, values_only=True)}
        assert read_back == kpi_rows
        pdf = pdfium.PdfDocument(files["pdf"])
        image = pdf[0].render(scale=1).to_pil()
        assert image.size[0] > 500 and len(set(image.convert("L").getdata())) > 2  # a page with content
        (tmp_path / "page1.png").write_bytes(b"")
        image.save(tmp_path / "page1.png")
        text = pdf[0].get_textpage().get_text_range()
        assert "ABRA" in text and "Clearing" in text
        from services.reporting import render
        from services.reporting.models import ReportModel

        async with rt.db.read() as conn:
            frozen = ReportModel.model_validate_json(
                (await conn.execute(sa.select(store.reports.c.model).where(store.reports.c.report_id == report_id))).scalar_one())
        for fmt in render.FORMATS:
            assert render.render(frozen, fmt) == files[fmt], fmt


class TestSuppressionInReports:
    async def test_monthly_statistics_over_three_persons_show_no_cell_below_five(self, rt: Runtime, redis_url: str) -> None:
        from services.contracts.events import ArrivalRecorded
        from services.contracts.vocab import AgeGroup, ResidenceStatus, Sex

        three = [
            ArrivalRecorded(tenant="hamm", correlation_id=(r := uuid.uuid4()), record_id=r, month="2026-05", district="Westen", nationality=nat,
                            residence_status=st, sex=sx, age_group=AgeGroup.AGE_25_44)
            for nat, st,
            sx in (("SY", ResidenceStatus.ASYLUM_SEEKER, Sex.FEMALE), ("SY", ResidenceStatus.ASYLUM_SEEKER, Sex.FEMALE),
                   ("AF", ResidenceStatus.TOLERATED, Sex.MALE))
        ]
        await publish_events(redis_url, three)
        await rebuild(rt.db, rt.redis, TZ)
        report_id, _ = await handlers_reports.generate_report(rt, "monthly_statistics", None, "2026-05", "test")
        async with rt.db.read() as conn:
            model = json.loads((await conn.execute(sa.select(store.reports.c.model).where(store.reports.c.report_id == report_id))).scalar_one())
        tables = [t for s in model["sections"] for t in s["tables"]]
        numbers = [v for t in tables for row in t["rows"] for v in row[1:] if isinstance(v, int)]
        assert numbers and all(v == 0 or v >= 5 for v in numbers)
        for t in tables:
            if t["totals"]:
                body = [row[1:] for row in t["rows"]]
                for line in [*body, *map(list, zip(*body, strict=False))]:
                    if len(line) < 2:
                        continue  # a one-column table: its only constraint is the column with its total
                    assert sum(v is None for v in line) != 1, t["title"]
