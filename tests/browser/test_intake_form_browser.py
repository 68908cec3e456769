"""The front desk's interview form in a real browser (issue 14): a wrong value is named at its field at
once with the error summary focused; the person form in groups with lists of German names; consents
for the whole household; at 320 px width nothing overflows and the persons' actions stay on screen;
buttons use the text's font. axe-core on every screen."""

from __future__ import annotations

import random
import re
import string
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_role_screens_browser import add_person, nav
from tests.browser.test_web_browser import sign_in
from tests.support.browser import check_screen
from tests.support.intake import today
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


async def overflows(page: Any) -> bool:
    return await page.evaluate("() => document.documentElement.scrollWidth > document.documentElement.clientWidth")


class TestInterviewFormInTheBrowser:
    async def test_household_step_names_a_wrong_postcode_at_once(self, page: Any, stack: RunningStack) -> None:
        await sign_in(page, stack, "frontdesk")
        await nav(page, "Erstgespräch beginnen")
        await page.get_by_label("Postleitzahl").fill("59A")
        await page.get_by_role("button", name="Speichern und weiter").click()
        summary = page.get_by_role("alert")
        await expect(summary).to_be_focused()
        await expect(summary).to_contain_text("Die Postleitzahl hat 5 Ziffern.")
        await expect(page.get_by_label("Postleitzahl")).to_have_attribute("aria-invalid", "true")
        await expect(page.get_by_label("Sozialraum")).to_have_attribute("aria-invalid", "true")
        await check_screen(page, "40-erstgespraech-haushalt-fehler")
        await summary.get_by_role("link", name="Die Postleitzahl hat 5 Ziffern.").click()
        await expect(page.get_by_label("Postleitzahl")).to_be_focused()
        await page.get_by_label("Postleitzahl").fill("59065")
        await page.get_by_label("Sozialraum").select_option("Heessen")
        await page.get_by_role("button", name="Speichern und weiter").click()
        await page.wait_for_url(re.compile(r".*/erstgespraech/[0-9a-f-]+/personen$"))

    async def test_person_form_groups_lists_and_narrow_screens(self, page: Any, stack: RunningStack) -> None:
        await sign_in(page, stack, "frontdesk")
        await nav(page, "Erstgespräch beginnen")
        await page.get_by_label("Sozialraum").select_option("Mitte")
        await page.get_by_role("button", name="Speichern und weiter").click()
        await page.wait_for_url(re.compile(r".*/personen$"))
        await page.get_by_role("link", name="Person hinzufügen").click()
        for legend in ("Angaben zur Person", "Sprache", "Bildung", "Arbeit", "Aufenthalt und Anmeldung"):
            await expect(page.get_by_role("group", name=legend)).to_be_visible()
        personal = page.get_by_role("group", name="Angaben zur Person")
        await expect(personal.get_by_label("Staatsangehörigkeit").locator("option", has_text="Rumänien")).to_have_count(1)
        for question in ("Kann lesen und schreiben", "Erwerbsfähig", "Meldet den Wohnsitz hier an"):
            await expect(page.get_by_label(question)).to_have_value("")  # nothing answered in advance
        await check_screen(page, "41-erstgespraech-person")
        await page.get_by_role("link", name="Abbrechen").click()

        family = "Ionescu-" + "".join(random.choices(string.ascii_lowercase, k=6)).capitalize()
        await add_person(page, "Mihaela", family, "1988-05-05", "female", "head")
        await add_person(page, "Andrei", family, f"{today().year - 3}-02-02", "male", "child", child=True, small=True)
        await page.set_viewport_size({"width": 320, "height": 800})
        await page.reload()
        assert not await overflows(page)
        row = page.get_by_role("row").filter(has_text=f"Andrei {family}")
        remove = row.get_by_role("button", name=re.compile("^entfernen"))
        box = await remove.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
        await check_screen(page, "42-erstgespraech-personen-320px")
        fonts = await page.evaluate("() => [getComputedStyle(document.body).fontFamily, getComputedStyle(document.querySelector('main button')).fontFamily]")
        assert fonts[0] == fonts[1]

        await page.get_by_role("link", name="Weiter zu den Einwilligungen").click()
        assert not await overflows(page)
        household = page.get_by_role("group", name="Für den ganzen Haushalt (2 Personen)")
        await household.get_by_label("Soziales Fallmanagement – Beratung").check()
        await expect(page.get_by_text("Für Minderjährige willigen die Sorgeberechtigten ein")).to_be_visible()
        await check_screen(page, "43-erstgespraech-einwilligungen-320px")
        await page.get_by_role("button", name="Speichern und weiter").click()
        await page.wait_for_url(re.compile(r".*/pruefen$"))
        assert not await overflows(page)
        main = page.locator("main")
        await expect(main).to_contain_text("Bulgarien")
        await expect(main).to_contain_text("Bulgarisch")
        assert (await main.inner_text()).count("Soziales Fallmanagement – Beratung") == 2
        await check_screen(page, "44-erstgespraech-pruefen-320px")
