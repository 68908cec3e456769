"""The measures catalogue and the providers' figures in a real browser (issue 14): the provider KJC
(`provider2`) reports the Integration Point's figures for a quarter (a wrong value is refused at its
field, the error summary takes the focus), the reporting officer filters the catalogue, sees what is
missing, edits measure 23 (a money field refused first, then a field of action added) and generates
the Bund report, whose JSON carries the provider's figures under the strategic goals of the measure's
fields, the new one included. axe-core finds nothing on every new screen; the screens fit 320 px."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import expect

from services.reporting.domain_catalogue import goal_label
from tests.browser.test_web_browser import sign_in
from tests.support.browser import check_screen, staff_context
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack

QUARTER = "2024-Q2"  # no other test reports or generates for it


async def nav(page: Any, label: str) -> None:
    await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name=label, exact=True).click()


async def fits_320(page: Any) -> None:
    await page.set_viewport_size({"width": 320, "height": 800})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320
    await page.set_viewport_size({"width": 1280, "height": 900})


class TestCatalogueAndFiguresInTheBrowser:
    async def test_the_provider_reports_and_the_officer_edits_the_measure_and_finds_the_figures_in_the_funder_report(self, browser: Any,
                                                                                                                     stack: RunningStack) -> None:
        provider_ctx = await staff_context(browser)
        officer_ctx = await staff_context(browser)
        try:
            provider, officer = await provider_ctx.new_page(), await officer_ctx.new_page()
            # --- the provider: its own measures only, a wrong value stays at its field
            await sign_in(provider, stack, "provider2")
            await nav(provider, "Kennzahlen melden")
            await expect(provider.get_by_role("heading", name="Kennzahlen melden")).to_be_visible()
            await provider.goto(f"{stack.web_url}/kennzahlen-melden?quartal={QUARTER}")
            card = provider.get_by_role("region", name="Nr. 23 Integration Point")
            await expect(card).to_contain_text("noch nicht gemeldet")
            assert await provider.get_by_role("region", name=re.compile("Kleine Knirpse")).count() == 0  # Caritas, not KJC
            await check_screen(provider, "50-kennzahlen-melden")
            await fits_320(provider)
            await card.get_by_label("Teilnehmende (Personen)").fill("achtzehn")
            await card.get_by_label("Vermittlungen").fill("6")
            await card.get_by_label("Durchgeführte Termine und Veranstaltungen").fill("9")
            await card.get_by_role("button", name=re.compile("^Kennzahlen für")).click()
            summary = provider.locator(".error-summary")
            await expect(summary).to_be_focused()
            await expect(summary).to_contain_text("Teilnehmende (Personen): Bitte eine ganze Zahl angeben.")
            field = provider.get_by_role("region", name="Nr. 23 Integration Point").get_by_label("Teilnehmende (Personen)")
            await expect(field).to_have_attribute("aria-invalid", "true")
            await check_screen(provider, "51-kennzahlen-melden-fehler")
            await summary.get_by_role("link").first.click()
            await expect(field).to_be_focused()
            await field.fill("18")
            await provider.get_by_role("region", name="Nr. 23 Integration Point").get_by_role("button", name=re.compile("^Kennzahlen für")).click()
            await expect(provider.get_by_role("status")).to_contain_text("Maßnahme Nr. 23 für 2024-Q2 sind gemeldet (Version 1)")
            await expect(provider.get_by_role("region", name="Nr. 23 Integration Point")).to_contain_text("von provider2 (Version 1)")

            # --- the officer: catalogue filtered, missing figures, the measure edited
            await sign_in(officer, stack, "reporting")
            await nav(officer, "Maßnahmenkatalog")
            await officer.get_by_label("Fördergeber").select_option("Bund")
            await officer.get_by_label("Handlungsfeld").select_option("3")
            await officer.get_by_role("button", name="Filtern").click()
            rows = officer.get_by_role("row")
            await expect(rows.filter(has_text="Integration Point")).to_have_count(1)
            assert await rows.filter(has_text="Kleine Knirpse").count() == 0
            await officer.goto(f"{stack.web_url}/massnahmen?foerdergeber=Bund&handlungsfeld=3&quartal={QUARTER}")
            await expect(rows.filter(has_text="Integration Point")).to_contain_text("gemeldet (Version 1)")
            await expect(officer.locator("#fehlende-meldungen")).to_contain_text(f"fehlen die Kennzahlen für {QUARTER}")
            await check_screen(officer, "52-massnahmenkatalog")
            await fits_320(officer)
            await rows.filter(has_text="Integration Point").get_by_role("link", name="Integration Point").click()
            await expect(officer.get_by_role("heading", level=1)).to_have_text("Maßnahme 23: Integration Point")
            await check_screen(officer, "53-massnahme")
            await officer.get_by_label("Drittmittel (EUR p.a.)").fill("viel")
            await officer.get_by_role("group", name="Handlungsfelder").get_by_label("17 Transparenz/Kooperation").check()
            await officer.get_by_role("button", name="Änderungen speichern").click()
            summary = officer.locator(".error-summary")
            await expect(summary).to_be_focused()
            await expect(summary).to_contain_text("Drittmittel (EUR p.a.): Bitte eine ganze Zahl angeben.")
            await expect(officer.get_by_label("Drittmittel (EUR p.a.)")).to_have_attribute("aria-invalid", "true")
            assert await officer.get_by_role("group", name="Handlungsfelder").get_by_label("17 Transparenz/Kooperation").is_checked()
            await check_screen(officer, "54-massnahme-fehler")
            await fits_320(officer)
            await officer.get_by_label("Drittmittel (EUR p.a.)").fill("250000")
            await officer.get_by_role("button", name="Änderungen speichern").click()
            await expect(officer.get_by_role("status")).to_contain_text("Änderungen an Maßnahme Nr. 23 sind gespeichert")
            await expect(officer.locator("dl.facts")).to_contain_text("von reporting")
            await expect(officer.get_by_label("Drittmittel (EUR p.a.)")).to_have_value("250000")

            # --- the Bund report generated now carries the figures, also under the new field's goal 5
            await nav(officer, "Berichte")
            await officer.get_by_label("Berichtsart").select_option("funder")
            await officer.locator("#funder").select_option("bund")
            await officer.get_by_label("Zeitraum", exact=True).fill(QUARTER)
            await officer.get_by_role("button", name="Bericht erstellen").click()
            await expect(officer.get_by_role("status")).to_contain_text("Der Bericht ist erstellt.")
            row = officer.get_by_role("row").filter(has_text="Bericht an einen Fördergeber").filter(has_text=QUARTER).first
            async with officer.expect_download() as js:
                await row.get_by_role("link", name=re.compile("^JSON")).click()
            model = json.loads(open(await (await js.value).path(), "rb").read())
            table = next(t for s in model["sections"] for t in s["tables"] if t["title"].startswith("Von den Trägern gemeldete Kennzahlen"))
            ours = {(r[0], r[3]): r[4] for r in table["rows"] if r[1] == 23}
            assert {g for g, _ in ours} == {goal_label(1), goal_label(3), goal_label(5)}  # fields 3, 4 and the new 17
            assert ours[(goal_label(5), "Teilnehmende (Personen)")] == 18
            assert ours[(goal_label(1), "Vermittlungen")] == 6 and ours[(goal_label(3), "Durchgeführte Termine und Veranstaltungen")] == 9
            funded = next(t for s in model["sections"] for t in s["tables"] if t["title"] == "Maßnahmen")
            assert next(r for r in funded["rows"] if r[0] == 23)[5] == 250000
        finally:
            await provider_ctx.close()
            await officer_ctx.close()
