"""The providers' figures against a real database (SQLite and PostgreSQL): a submission is stored as
a version, a repeated one changes nothing, a correction is the next version with the earlier kept,
each change is audited, bad figures store nothing, another provider's measure is refused; the funder
report generated afterwards carries the current figures; measures edited before figures existed get
the data file's figures at start."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from bench.support import reporting_runtime as make_runtime
from services.kit.auth import Principal
from services.kit.db import utc_now
from services.kit.errors import Forbidden, Invalid
from services.kit.service import Runtime
from services.reporting import handlers, handlers_reports, store
from services.reporting.domain_catalogue import goal_label
from services.reporting.models import ReportModel, load_measures

CARITAS = Principal("provider1", frozenset({"measure_provider"}), claims={"provider": "Caritas"})
KJC = Principal("provider2", frozenset({"measure_provider"}), claims={"provider": "KJC"})
OFFICER = Principal("reporting", frozenset({"reporting_officer"}))
Q = "2026-Q1"


@pytest.fixture
async def rt(redis_url: str, database_url: str) -> AsyncIterator[Runtime]:
    runtime = await make_runtime(redis_url, database_url)
    yield runtime
    await runtime.redis.aclose()
    await runtime.db.dispose()


async def audited(rt: Runtime) -> list[str]:
    async with rt.db.read() as conn:
        a = store.kit.audit
        return [r.record_id for r in (await conn.execute(sa.select(a).where(a.c.record_type == "measure_figures").order_by(a.c.id))).all()]


class TestVersions:
    async def test_report_repeat_correct_and_refuse(self, rt: Runtime) -> None:
        values = {"participants": 23, "families_reached": 9, "sessions_held": 11}
        first = await handlers.submit_figures(rt, CARITAS, 6, Q, values)
        assert (first["changed"], first["version"], first["values"]) == (True, 1, values)
        assert (await handlers.submit_figures(rt, CARITAS, 6, Q, values))["changed"] is False
        fixed = await handlers.submit_figures(rt, CARITAS, 6, Q, {**values, "participants": 24})
        assert (fixed["version"], fixed["values"]["participants"], fixed["submitted_by"]) == (2, 24, "provider1")
        async with rt.db.read() as conn:
            history = [(r.version, r.key, r.value) for r in await store.figure_history(conn, 6, Q)]
        assert history == [(1, "families_reached", 9), (1, "participants", 23), (1, "sessions_held", 11), (2, "participants", 24)]
        assert await audited(rt) == [f"6:{Q}:v1", f"6:{Q}:v2"]

        with pytest.raises(Invalid) as bad:
            await handlers.submit_figures(rt, CARITAS, 6, Q, {**values, "participants": -3})
        assert bad.value.context["errors"] == [("values.participants", "must not be negative")]
        with pytest.raises(Forbidden):
            await handlers.submit_figures(rt, KJC, 6, Q, values)
        with pytest.raises(Invalid) as future:
            await handlers.submit_figures(rt, CARITAS, 6, "2099-Q1", values)
        assert future.value.field == "period"
        officer = await handlers.submit_figures(rt, OFFICER, 5, Q, {"participants": 40, "families_reached": 30, "sessions_held": 60})  # "diverse Träger"
        assert officer["version"] == 1
        async with rt.db.read() as conn:
            current = await store.current_figures(conn, Q)
        assert current[6]["values"]["participants"] == 24 and set(current) == {5, 6}

    async def test_the_funder_report_generated_afterwards_carries_the_current_figures(self, rt: Runtime) -> None:
        await handlers.submit_figures(rt, CARITAS, 6, Q, {"participants": 4, "families_reached": 12, "sessions_held": 2})
        report_id, _ = await handlers_reports.generate_report(rt, "funder", "land_nrw", Q, "test")
        async with rt.db.read() as conn:
            raw = (await conn.execute(sa.select(store.reports.c.model).where(store.reports.c.report_id == report_id))).scalar_one()
        model = ReportModel.model_validate_json(raw)
        table = next(t for s in model.sections for t in s.tables if t.title.startswith("Von den Trägern"))
        six = [(i, r) for i, r in enumerate(table.rows) if r[1] == 6]
        assert [r[4] for _, r in six] == [None, 12, 2] and all(r[0] == goal_label(1) for _, r in six)
        assert (six[0][0], 4) in table.suppressed  # 4 persons: suppressed


class TestCatalogueAtStart:
    async def test_a_measure_edited_before_figures_existed_gets_the_files_figures_and_keeps_its_edit(self, rt: Runtime) -> None:
        async with rt.db.begin() as conn:
            row = await store.measure_row(conn, 30)
            old = {k: v for k, v in row.data.items() if k != "figures"}
            await store.update_measure(conn, 30, {**old, "third_party_eur": 410_000}, "reporting", utc_now())
        await handlers.load_catalogue(rt)
        async with rt.db.read() as conn:
            m = await handlers.read_measure(conn, 30)
        assert m.third_party_eur == 410_000 and m.edited_by == "reporting"
        assert m.figures == load_measures()[29].figures and m.figures
