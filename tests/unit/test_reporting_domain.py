"""Reporting's pure rules: small-cell suppression, periods, the measures catalogue, KPI definitions,
gaps and duplicates, deterministic outputs."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting import render, reports
from services.reporting.domain import parse_period, previous_period, suppress
from services.reporting.models import ReportModel, Section, load_kpis, load_measures


def lines(table: list[list[int | None]]) -> list[list[int | None]]:
    return [list(r) for r in table] + [list(c) for c in zip(*table, strict=True)]


class TestSuppression:
    def test_a_group_of_three_persons_shows_no_cell_below_five_and_no_total_that_reveals_one(self) -> None:
        # 3 persons: 2 female asylum seekers, 1 male recognised refugee
        shown, hidden = suppress([[2, 0], [0, 1]], 5)
        visible = [v for row in shown for v in row if v is not None]
        assert all(v == 0 or v >= 5 for v in visible)
        assert shown[2][2] is None  # the grand total (3) is hidden too
        for line in lines(shown):
            assert sum(v is None for v in line) != 1

    def test_a_single_small_cell_gets_a_partner_in_its_row_and_column(self) -> None:
        shown, hidden = suppress([[3, 7], [10, 12]], 5)
        assert (0, 0) in hidden and len(hidden) >= 4
        for line in lines(shown):
            assert sum(v is None for v in line) != 1

    def test_large_counts_stay_visible(self) -> None:
        shown, hidden = suppress([[5, 9], [10, 12]], 5)
        assert hidden == set()
        assert shown[2] == [15, 21, 36]

    @settings(max_examples=300, deadline=None)
    @given(st.integers(1, 5).flatmap(lambda c: st.lists(st.lists(st.integers(0, 12), min_size=c, max_size=c), min_size=1, max_size=5)), st.integers(2, 6))
    def test_no_visible_small_cell_and_no_line_with_a_single_hidden_cell(self, matrix: list[list[int]], k: int) -> None:
        shown, hidden = suppress(matrix, k)
        full = [r + [sum(r)] for r in matrix]
        full.append([sum(c) for c in zip(*full, strict=True)])
        for i, row in enumerate(shown):
            for j, v in enumerate(row):
                assert v is None or v == full[i][j]
                assert v is None or v == 0 or v >= k
        for line in lines(shown):
            assert sum(v is None for v in line) != 1


class TestPeriods:
    def test_month_quarter_and_year(self) -> None:
        assert (parse_period("2026-10").start, parse_period("2026-10").end) == (date(2026, 10, 1), date(2026, 11, 1))
        q = parse_period("2026-Q4")
        assert (q.start, q.end, [m.key for m in q.months()]) == (date(2026, 10, 1), date(2027, 1, 1), ["2026-10", "2026-11", "2026-12"])
        assert parse_period("2026").end == date(2027, 1, 1)

    @pytest.mark.parametrize("bad", ["2026-13", "2026-Q5", "26", "2026/10", ""])
    def test_anything_else_is_rejected_with_a_reason(self, bad: str) -> None:
        with pytest.raises(ValueError, match="not a month"):
            parse_period(bad)

    def test_previous_complete_period(self) -> None:
        assert previous_period("month", date(2026, 1, 5)).key == "2025-12"
        assert previous_period("quarter", date(2026, 1, 8)).key == "2025-Q4"
        assert previous_period("quarter", date(2026, 7, 3)).key == "2026-Q2"


class TestCatalogue:
    def test_the_48_measures_of_000_section_7_with_their_totals(self) -> None:
        ms = load_measures()
        assert [m.number for m in ms] == list(range(1, 49))
        assert sum(m.municipal_concept_eur for m in ms) == 1_579_480
        assert sum(m.municipal_budget_eur for m in ms) == 1_115_500
        assert sum(m.third_party_eur for m in ms) == 4_236_092
        abra = ms[29]
        assert (abra.name, abra.funders, abra.office) == ("ABRA", ["Land NRW", "ESF"], "KJC")
        assert all(m.fields_of_action for m in ms)

    def test_every_kpi_a_measure_names_is_defined_and_its_source_events_exist(self) -> None:
        kpis = load_kpis()
        assert {k for m in load_measures() for k in m.kpis} <= set(kpis)
        assert "clearings_held" in load_measures()[29].kpis

    def test_gaps_and_duplicates(self) -> None:
        section = reports.gaps_section(load_measures())
        heat, gaps, dups = section.tables
        assert len(heat.rows) == 18 and len(heat.columns) == 7
        assert ["2 Bildung", "65+"] in gaps.rows
        assert all(r[3] >= reports.DUPLICATE_THRESHOLD for r in dups.rows)


class TestDeterministicOutputs:
    def test_the_same_model_renders_to_identical_bytes_in_every_format(self) -> None:
        t = reports._table_with_totals("t", ["a", "b"], ["female", "male"], [[3, 7], [10, 12]], 5, "status")
        model = ReportModel(
            report_id=uuid.uuid4(), kind="monthly_statistics", period="2026-10", title="x", tenant="hamm",
            generated_at=datetime(2026, 11, 4, 6, tzinfo=UTC), watermark="{}", suppression_threshold=5,
            sections=[Section(title="s", tables=[t]), reports.gaps_section(load_measures())],
        )
        for fmt in render.FORMATS:
            assert render.render(model, fmt) == render.render(model, fmt), fmt
        assert render.to_pdf(model).startswith(b"%PDF")
