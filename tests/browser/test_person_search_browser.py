"""The front desk finds a known person ("Personen suchen": the Latin spelling finds the Cyrillic record)
and, entering the same person again in a new intake interview, is warned before a second household is
created and goes to the known household instead. axe-core runs on the search screen (empty, with the
error summary, with results, at 320 px) and on the review step with the warning."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from anyascii import anyascii
from playwright.async_api import expect

from tests.browser.test_role_screens_browser import add_person, nav
from tests.browser.test_web_browser import sign_in
from tests.support.browser import check_screen, staff_context
from tests.support.stack import RunningStack, intake_payload, person

pytestmark = pytest.mark.stack


class TestPersonSearchInTheBrowser:
    async def test_the_front_desk_finds_a_known_person_and_is_warned_when_entering_them_again(self, browser: Any, stack: RunningStack) -> None:
        family = "Петров" + "".join(random.choices("бвгдклмнпрст", k=6))
        latin = anyascii(family)
        async with stack.client("intake", "frontdesk") as c:
            r = await c.post("/intakes", json=intake_payload(person("Иван", family, "1985-03-01", "BG", sex="male")))
            assert r.status_code == 201, r.text
            known = r.json()["intake_id"]
        ctx = await staff_context(browser)
        try:
            page = await ctx.new_page()
            await sign_in(page, stack, "frontdesk")
            await nav(page, "Personen suchen")
            await expect(page.get_by_role("heading", level=1, name="Personen suchen")).to_be_visible()
            await check_screen(page, "60-personen-suchen")

            await page.get_by_role("button", name="Suchen").click()
            summary = page.get_by_role("alert").filter(has_text="Die Suche braucht andere Angaben")
            await expect(summary).to_be_focused()
            await expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
            await check_screen(page, "61-personen-suchen-fehler")

            await page.get_by_label("Name", exact=True).fill(f"Ivan {latin}")
            await page.get_by_label("Geburtsdatum").fill("1985-03-01")
            await page.get_by_role("button", name="Suchen").click()
            row = page.get_by_role("table", name=re.compile("Treffer")).get_by_role("row").filter(has_text=f"Иван {family}")
            await expect(row).to_have_count(1)
            await expect(row.get_by_role("cell", name="01.03.1985")).to_have_count(1)
            await expect(row.locator(f'a[href="/haushalt/{known}"]')).to_have_count(1)
            await check_screen(page, "62-personen-suchen-treffer")
            await page.set_viewport_size({"width": 320, "height": 800})
            await check_screen(page, "63-personen-suchen-320px")
            await page.set_viewport_size({"width": 1280, "height": 900})

            await nav(page, "Erstgespräch beginnen")
            await page.get_by_label("Sozialraum").select_option("Westen")
            await page.get_by_role("button", name="Speichern und weiter").click()
            await page.wait_for_url(re.compile(r".*/erstgespraech/[0-9a-f-]+/personen$"))
            await add_person(page, "Ivan", latin, "1985-03-01", "male", "head")
            await page.get_by_role("link", name="4. Prüfen und abschließen").click()
            warning = page.get_by_role("region", name=re.compile("^Schon bekannt\\? 1 Haushalt"))
            await expect(warning).to_be_visible()
            await expect(warning.get_by_role("listitem").filter(
                has_text=f"Иван {family}, geboren am 01.03.1985 – ähnlich wie Person 1 (Ivan {latin})")).to_have_count(1)
            await expect(page.get_by_role("button", name="Erstgespräch abschließen")).to_have_count(0)
            await check_screen(page, "64-erstgespraech-schon-bekannt")

            await warning.get_by_role("link", name=re.compile("^Bekannten Haushalt öffnen")).click()
            await page.wait_for_url(re.compile(rf".*/haushalt/{known}$"))
        finally:
            await ctx.close()
