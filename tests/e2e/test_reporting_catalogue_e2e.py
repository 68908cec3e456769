"""The measures catalogue and the providers' figures through the real stack (issue 14): a provider
account (`provider1`, Caritas) reports figures for its own measures only, bad figures get 422 at each
key and change nothing, a correction is a new version and audited; the reporting officer sees what is
missing, adds a funder to a measure, and the funder reports generated afterwards carry the figures,
grouped by strategic goal (000 §6.1), with counts of persons below 5 suppressed, in JSON, CSV, XLSX
and PDF. The stack is shared by the session: this file uses quarters of 2024 no other test uses."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import sqlalchemy as sa

from services.reporting.domain_catalogue import goal_label, goals_of_fields
from tests.support.stack import RunningStack
from tests.support.web import csrf_of, sign_in, web_client

pytestmark = pytest.mark.stack

QUARTER = "2024-Q3"


async def call(stack: RunningStack, user: str, method: str, path: str, body: Any = None, expect: int = 200, **kw: Any) -> Any:
    async with stack.client("reporting", user, timeout=60) as c:
        r = await c.request(method, path, json=body, **kw)
    assert r.status_code == expect, f"{method} {path} as {user}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def audit_rows(stack: RunningStack, record_type: str) -> list[Any]:
    from services.kit.db import Database
    from services.reporting import store

    db = Database(f"sqlite+aiosqlite:///{stack.data_dir / 'reporting.db'}")
    try:
        async with db.read() as conn:
            a = store.kit.audit
            return list((await conn.execute(sa.select(a).where(a.c.record_type == record_type))).all())
    finally:
        await db.dispose()


class TestProviderFigures:
    async def test_a_provider_reports_its_measures_figures_and_the_funder_reports_carry_them(self, stack: RunningStack) -> None:
        import openpyxl
        import pypdfium2 as pdfium

        # the provider sees its own measures only (Caritas: 1, 6 "Diakonie & Caritas", 31), all missing
        mine = await call(stack, "provider1", "GET", "/figures", params={"period": QUARTER})
        assert mine["provider"] == "Caritas"
        assert [m["number"] for m in mine["measures"]] == [1, 6, 31] and mine["missing"] == 3
        assert mine["measures"][1]["figures"] == ["participants", "families_reached", "sessions_held"]

        # another provider's measure: refused; bad figures: 422 at each key, nothing stored
        await call(stack, "provider1", "PUT", f"/measures/30/figures/{QUARTER}", {"values": {"participants": 10}}, expect=403)
        bad = await call(stack, "provider1", "PUT", f"/measures/6/figures/{QUARTER}", {"values": {"participants": -1, "sessions_held": "elf", "smiles": 2}},
                         expect=422)
        assert {tuple(d["loc"]) for d in bad["detail"]} == {("body", "values", k) for k in ("participants", "sessions_held", "smiles", "families_reached")}
        future = await call(stack, "provider1", "PUT", "/measures/6/figures/2099-Q1",
                            {"values": {"participants": 1, "families_reached": 1, "sessions_held": 1}}, expect=422)
        assert future["detail"][0]["loc"] == ["path", "period"]
        assert await call(stack, "provider1", "GET", f"/measures/6/figures/{QUARTER}") == []

        # reported, repeated (no change), corrected (version 2); every version kept
        values = {"participants": 23, "families_reached": 9, "sessions_held": 11}
        first = await call(stack, "provider1", "PUT", f"/measures/6/figures/{QUARTER}", {"values": values})
        assert (first["changed"], first["version"], first["values"]) == (True, 1, values)
        again = await call(stack, "provider1", "PUT", f"/measures/6/figures/{QUARTER}", {"values": values})
        assert (again["changed"], again["version"]) == (False, 1)
        fixed = await call(stack, "provider1", "PUT", f"/measures/6/figures/{QUARTER}", {"values": {**values, "participants": 24}})
        assert (fixed["version"], fixed["values"]["participants"]) == (2, 24)
        history = await call(stack, "provider1", "GET", f"/measures/6/figures/{QUARTER}")
        assert [(h["version"], h["key"], h["value"]) for h in history] == [
            (1, "families_reached", 9), (1, "participants", 23), (1, "sessions_held", 11), (2, "participants", 24)]
        assert {r.record_id for r in await audit_rows(stack, "measure_figures") if r.actor == "provider1"} >= {f"6:{QUARTER}:v1", f"6:{QUARTER}:v2"}
        await call(stack, "provider2", "GET", f"/measures/6/figures/{QUARTER}", expect=403)

        # the officer sees who is missing, and makes Stiftung Mercator a funder of measure 31
        status = await call(stack, "reporting", "GET", "/figures", params={"period": QUARTER})
        by_number = {m["number"]: m for m in status["measures"]}
        assert len(by_number) == len([m for m in await call(stack, "reporting", "GET", "/measures") if m["figures"]])
        assert by_number[6]["missing"] is False and by_number[1]["missing"] is True and by_number[30]["missing"] is True
        m31 = await call(stack, "reporting", "GET", "/measures/31")
        edited = await call(stack, "reporting", "PATCH", "/measures/31", {"funders": [*m31["funders"], "Stiftung Mercator"]})
        assert "Stiftung Mercator" in edited["funders"] and edited["edited_by"] == "reporting"
        assert edited["goals"] == goals_of_fields(edited["fields_of_action"])
        await call(stack, "provider1", "PUT", f"/measures/31/figures/{QUARTER}", {"values": {"participants": 3, "volunteers_active": 12, "sessions_held": 4}})

        # reports generated now: Land NRW pays measure 6, Stiftung Mercator now measure 31
        nrw = await self.report(stack, "land_nrw")
        rows = self.figure_rows(nrw["json"])
        assert [r[:5] for r in rows if r[1] == 6] == [
            [goal_label(1), 6, "Niederschwellige Spielgruppen", "Teilnehmende (Personen)", 24],  # fields 2 and 5: goal 1 only
            [goal_label(1), 6, "Niederschwellige Spielgruppen", "Erreichte Familien", 9],
            [goal_label(1), 6, "Niederschwellige Spielgruppen", "Durchgeführte Termine und Veranstaltungen", 11],
        ]
        assert any(r[4] == "nicht gemeldet" for r in rows)  # other Land NRW measures have not reported
        mercator = await self.report(stack, "mercator")
        table = self.figure_table(mercator["json"])
        mine31 = [(i, r) for i, r in enumerate(table["rows"]) if r[1] == 31]
        goals = {r[0] for _, r in mine31}
        assert goals == {goal_label(g) for g in m31["goals"]} and len(goals) >= 2  # a measure in several goals appears under each
        for i, r in mine31:
            if r[3] == "Teilnehmende (Personen)":
                assert r[4] is None and [i, 4] in table["suppressed"]  # 3 persons: suppressed
            elif r[3] == "Durchgeführte Termine und Veranstaltungen":
                assert r[4] == 4  # sessions are not persons: shown
            else:
                assert r[4] == 12
        assert "Maßnahmen nach strategischen Zielen" in [t["title"] for s in mercator["json"]["sections"] for t in s["tables"]]

        # the same figures in CSV, XLSX and PDF
        lines = list(csv.reader(io.StringIO(mercator["csv"].decode()), delimiter=";"))
        ours = [ln for ln in lines if len(ln) > 4 and ln[1] == "31" and ln[3] == "Durchgeführte Termine und Veranstaltungen"]
        assert ours and all(ln[4] == "4" for ln in ours)
        assert all(ln[4] == "•" for ln in lines if len(ln) > 4 and ln[1] == "31" and ln[3] == "Teilnehmende (Personen)")
        wb = openpyxl.load_workbook(io.BytesIO(nrw["xlsx"]))
        sheet = next(ws for ws in wb.worksheets if str(ws["A2"].value).startswith("Von den Trägern"))
        assert [goal_label(1), 6, "Niederschwellige Spielgruppen", "Teilnehmende (Personen)",
                24] in [list(r[:5]) for r in sheet.iter_rows(min_row=4, values_only=True)]
        doc = pdfium.PdfDocument(nrw["pdf"])
        text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        assert "Von den Trägern gemeldete Kennzahlen" in text and "Gesellschaftliche Teilhabe" in text and "Niederschwellige" in text

    async def report(self, stack: RunningStack, funder: str) -> dict[str, Any]:
        created = await call(stack, "reporting", "POST", "/reports", {"kind": "funder", "funder": funder, "period": QUARTER}, expect=201)
        out: dict[str, Any] = {}
        async with stack.client("reporting", "reporting", timeout=60) as c:
            for fmt in ("json", "csv", "xlsx", "pdf"):
                r = await c.get(f"/reports/{created['report_id']}/files/{fmt}")
                assert r.status_code == 200
                out[fmt] = r.json() if fmt == "json" else r.content
        return out

    @staticmethod
    def figure_table(model: dict[str, Any]) -> dict[str, Any]:
        return next(t for s in model["sections"] for t in s["tables"] if t["title"].startswith("Von den Trägern gemeldete Kennzahlen"))

    def figure_rows(self, model: dict[str, Any]) -> list[list[Any]]:
        return self.figure_table(model)["rows"]


class TestCatalogueEdits:
    async def test_the_officer_adds_a_measure_and_bad_input_names_every_field(self, stack: RunningStack) -> None:
        bad = await call(stack, "reporting", "POST", "/measures", {
            "name": "", "office": "52", "municipal_concept_eur": -5, "municipal_budget_eur": 0, "third_party_eur": 0,
            "fields_of_action": [19], "figures": ["smiles"],
        }, expect=422)
        assert {d["loc"][1] for d in bad["detail"]} >= {"name", "municipal_concept_eur", "fields_of_action", "figures"}
        before = await call(stack, "reporting", "GET", "/measures")
        added = await call(stack, "reporting", "POST", "/measures", {
            "name": "Sprachcafé im Quartier", "office": "52", "provider": "Caritas", "municipal_concept_eur": 4000, "municipal_budget_eur": 0,
            "third_party_eur": 2500, "funders": ["Land NRW"], "fields_of_action": [1, 5], "age_groups": ["25-44"], "figures": ["participants"],
        }, expect=201)
        assert added["number"] == max(m["number"] for m in before) + 1 and added["goals"] == [1] and added["edited_by"] == "reporting"
        assert added["number"] in [m["number"] for m in await call(stack, "reporting", "GET", "/measures", params={"office": "52", "field_of_action": 5})]
        assert added["number"] not in [m["number"] for m in await call(stack, "reporting", "GET", "/measures", params={"funder": "Bund"})]
        assert any(r.action == "create" and r.record_id == str(added["number"]) for r in await audit_rows(stack, "measure"))
        await call(stack, "provider1", "POST", "/measures", {"name": "x"}, expect=403)
        await call(stack, "provider1", "GET", "/measures", expect=403)


class TestProviderScreenOverHttp:
    async def test_a_wrong_figure_stays_at_its_field_and_a_right_one_is_reported(self, stack: RunningStack) -> None:
        quarter = "2024-Q1"
        async with web_client(stack) as c:
            await sign_in(stack, c, "provider1")
            page = await c.get("/kennzahlen-melden", params={"quartal": quarter})
            assert page.status_code == 200 and "Nr. 1 Kleine Knirpse" in page.text and "ABRA" not in page.text
            bad = await c.post("/kennzahlen-melden/1", data={"csrf_token": csrf_of(page.text), "quartal": quarter,
                                                             "m1-participants": "zwölf", "m1-families_reached": "-2", "m1-sessions_held": "3"})
            assert bad.status_code == 422
            assert 'id="m1-participants-fehler">Bitte eine ganze Zahl angeben.' in bad.text
            assert 'id="m1-families_reached-fehler">Die Zahl darf nicht negativ sein.' in bad.text
            assert 'href="#m1-participants"' in bad.text and 'value="zwölf"' in bad.text
            ok = await c.post("/kennzahlen-melden/1", data={"csrf_token": csrf_of(page.text), "quartal": quarter,
                                                            "m1-participants": "12", "m1-families_reached": "7", "m1-sessions_held": "3"})
            assert ok.status_code == 303
            done = await c.get(ok.headers["location"])
            assert "Version 1" in done.text
            other = await c.post("/kennzahlen-melden/30", data={"csrf_token": csrf_of(page.text), "quartal": quarter, "m30-participants": "5"})
            assert other.status_code == 403
        status = await call(stack, "reporting", "GET", "/figures", params={"period": quarter})
        assert next(m for m in status["measures"] if m["number"] == 1)["values"] == {"participants": 12, "families_reached": 7, "sessions_held": 3}
