"""The ABRA funder report through the real stack.

Intakes go through the front desk's HTTP API (intake -> casework -> reporting). Clearings, ABRA
coaching cases, referrals with placements and hardship decisions are published as the contract
events their producers (intake, casework, funding branches) will publish; once those branches are
merged these steps switch to the producers' HTTP endpoints. The test then generates the ESF report
(ESF funds ABRA, 000 §7 row 30) for the quarter and checks every KPI against what it created; the
PDF is rendered to PNG and the XLSX is read back."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from tests.support.eventually import eventually
from tests.support.events import publish_events
from tests.support.reporting_scenario import abra_quarter, quarter_start
from tests.support.stack import RunningStack, cli, intake_payload, person

pytestmark = pytest.mark.stack

ABRA_KPIS = ["clearings_held", "abra_families_in_coaching", "abra_individuals_in_coaching", "abra_placed_employment"]


async def figures(stack: RunningStack, period: str) -> dict[str, int]:
    async with stack.client("reporting", "reporting") as c:
        r = await c.get("/kpis", params={"period": period})
    assert r.status_code == 200, r.text
    return {k["name"]: k["value"] for k in r.json()["kpis"]}


class TestAbraFunderReport:
    async def test_esf_report_for_the_quarter_matches_what_the_test_created(self, stack: RunningStack) -> None:
        import openpyxl
        import pypdfium2 as pdfium

        now = datetime.now(UTC)
        period = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
        before = await figures(stack, period)
        intakes = []
        async with stack.client("intake", "frontdesk") as c:
            for i in range(5):
                r = await c.post("/intakes", json=intake_payload(person(given=f"Ana{i}"), person(given=f"Bo{i}", born="1985-02-03")))
                assert r.status_code == 201, r.text
                intakes.append(r.json()["intake_id"])
        events, expected = abra_quarter("hamm", quarter_start(now.date()), with_intakes=False)
        await publish_events(stack.redis_url, events)

        async def projected() -> dict[str, int]:
            got = await figures(stack, period)
            assert got["intakes_completed"] == before["intakes_completed"] + 5
            assert got["persons_at_intake"] == before["persons_at_intake"] + 10
            for k in ABRA_KPIS:
                assert got[k] == before[k] + expected[k], k
            return got

        got = await eventually(projected, timeout=30, interval=0.5)
        async with stack.client("reporting", "reporting") as c:
            r = await c.post("/reports", json={"kind": "funder", "funder": "esf", "period": period})
            assert r.status_code in (200, 201), r.text
            report = r.json()
            pdf = (await c.get(f"/reports/{report['report_id']}/files/pdf")).content
            xlsx = (await c.get(f"/reports/{report['report_id']}/files/xlsx")).content
            model = (await c.get(f"/reports/{report['report_id']}/files/json")).json()
            again = (await c.post(f"/reports/{report['report_id']}/regenerate")).json()
            explain = (await c.get("/kpis/clearings_held", params={"period": period, "explain": "true"})).json()
        table = model["sections"][1]["tables"][0]
        values = {row[0]: row[2] for row in table["rows"]}
        assert values == {k: got[k] for k in ABRA_KPIS}
        assert all(again["identical"].values()) and set(again["identical"]) == {"pdf", "xlsx", "csv", "json"}
        wb = openpyxl.load_workbook(io.BytesIO(xlsx))
        assert {r[0]: r[2] for r in wb[f"Kennzahlen {period}"].iter_rows(min_row=4, values_only=True)} == values
        page = pdfium.PdfDocument(pdf)[0]
        png = io.BytesIO()
        page.render(scale=1).to_pil().save(png, format="PNG")
        assert png.getvalue().startswith(b"\x89PNG") and "ABRA" in page.get_textpage().get_text_range()
        assert explain["explain"]["events"] == got["clearings_held"] and "ClearingCompleted" in explain["explain"]["query"]

    async def test_a_rebuild_from_the_streams_reproduces_the_figures(self, stack: RunningStack) -> None:
        now = datetime.now(UTC)
        period = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
        before = await figures(stack, period)
        result = cli(stack.data_dir, "reporting", "rebuild")
        assert "projections rebuilt from" in result.stdout, result.stdout + result.stderr
        assert await figures(stack, period) == before


class TestCatalogueApi:
    async def test_the_officer_edits_a_measure_and_bad_input_gets_422_naming_the_field(self, stack: RunningStack) -> None:
        async with stack.client("reporting", "reporting") as c:
            assert len((await c.get("/measures")).json()) == 48
            bad = await c.patch("/measures/30", json={"fields_of_action": [3, 19]})
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "fields_of_action"
            assert (await c.get("/measures/30")).json()["fields_of_action"] == [3, 4, 5]
            ok = await c.patch("/measures/30", json={"third_party_eur": 410_000})
            assert ok.status_code == 200 and ok.json()["edited_by"] == "reporting"
            svg = await c.get("/gaps/heatmap.svg")
            assert svg.status_code == 200 and b"<svg" in svg.content
        async with stack.client("reporting", "frontdesk") as c:
            assert (await c.patch("/measures/30", json={"third_party_eur": 1})).status_code == 403
