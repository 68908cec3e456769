"""The team lead's caseworker register in a real browser against the embedded stack: a caseworker is
added (a word for the FTE refused by the form, a language that is no ISO code refused by casework at
its field), their districts and FTE changed (the cap follows 190 x FTE), a leave with a substitute
recorded and ended; each change is seen in the register. axe-core runs on every screen.

The caseworker serves only districts no other test uses, so no other test's case goes to them."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_web_browser import sign_in
from tests.support.browser import check_screen
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


async def flash(page: Any, text: str) -> None:
    await expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


class TestTheTeamLeadsRegister:
    async def test_adds_a_caseworker_changes_districts_and_fte_and_records_a_leave(self, page: Any, stack: RunningStack) -> None:
        name = f"fk-{uuid.uuid4().hex[:6]}"
        first, second = f"Nord-{name}", f"Sued-{name}"
        await sign_in(page, stack, "teamlead")
        await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Fachkräfte und Fallzahlen").click()
        await expect(page.get_by_role("heading", level=1, name="Fachkräfte und Fallzahlen")).to_be_visible()
        await expect(page.locator("#fk-caseworker2")).to_contain_text("0,5")  # the seeded half-time caseworker
        await check_screen(page, "60-fachkraefte")

        await page.get_by_label("Benutzername der Fachkraft").fill(name)
        await page.get_by_label("Sozialräume").fill(first)
        await page.get_by_label("Sprachen").fill("de, arabisch")
        fte = page.get_by_label("Stellenanteil (VZÄ)")
        await fte.fill("halbe")
        await page.get_by_role("button", name="Fachkraft hinzufügen").click()
        await expect(fte).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#neu-fte-fehler")).to_contain_text("Bitte eine Zahl angeben")
        summary = page.get_by_role("alert")
        await expect(summary).to_contain_text("Die Fachkraft wurde nicht hinzugefügt")
        await expect(summary).to_be_focused()
        await check_screen(page, "61-fachkraft-hinzufuegen-fehler")

        await fte.fill("0,5")
        await page.get_by_role("button", name="Fachkraft hinzufügen").click()  # casework refuses "arabisch"
        languages = page.get_by_label("Sprachen")
        await expect(languages).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#neu-languages-fehler")).to_contain_text("zweistellige Sprachcodes")
        await expect(page.locator(f"#fk-{name}")).to_have_count(0)  # nothing added
        await languages.fill("de, ar")
        await page.get_by_role("button", name="Fachkraft hinzufügen").click()
        await flash(page, f"{name} ist im Register (Obergrenze 95 Fälle).")
        row = page.locator(f"#fk-{name}")
        await expect(row).to_contain_text(first)
        await expect(row).to_contain_text("de, ar")
        await expect(row.locator("td").nth(4)).to_have_text("95")  # the target of 1:190 at half time

        # the caseworker's page: districts and FTE
        await row.get_by_role("link", name=re.compile(r"^bearbeiten")).click()
        await expect(page.get_by_role("heading", level=1, name=f"Fachkraft {name}")).to_be_visible()
        await check_screen(page, "62-fachkraft-bearbeiten")
        form_fte = page.get_by_label("Stellenanteil (VZÄ)")
        await form_fte.fill("2")
        await page.get_by_role("button", name="Änderung speichern").click()
        await expect(form_fte).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#sd-fte-fehler")).to_contain_text("höchstens bei 1,5")
        await check_screen(page, "63-fachkraft-bearbeiten-fehler")
        await page.get_by_role("textbox", name="Sozialräume").fill(f"{first}, {second}")
        await form_fte.fill("1")
        await page.get_by_role("button", name="Änderung speichern").click()
        await flash(page, f"{name}: Sozialräume {first}, {second}, Stellenanteil 1, Obergrenze 190 Fälle.")
        await expect(page.locator("#fachkraft-stand")).to_contain_text("0 von 190 Fällen")

        # a leave with a substitute, then its end
        await page.get_by_label("Vertretung").select_option("caseworker")
        await page.get_by_role("button", name="Abwesenheit beginnen").click()
        await flash(page, f"Abwesenheit von {name} erfasst, Vertretung: caseworker.")
        await expect(page.locator("#fachkraft-stand")).to_contain_text("abwesend, Vertretung: caseworker")
        await check_screen(page, "64-fachkraft-abwesend")
        await page.get_by_role("link", name="Zurück zu Fachkräfte und Fallzahlen").click()
        await expect(page.locator(f"#fk-{name}")).to_contain_text("abwesend, Vertretung: caseworker")
        await expect(page.locator(f"#fk-{name}")).to_contain_text(f"{first}, {second}")
        await page.locator(f"#fk-{name}").get_by_role("link").click()
        await page.get_by_role("button", name="Abwesenheit beenden").click()
        await flash(page, f"{name} ist wieder anwesend.")

        # at 320 px the page does not scroll sideways (the table scrolls in its own box)
        await page.set_viewport_size({"width": 320, "height": 800})
        await page.goto(stack.web_url + "/team/fachkraefte")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 320

    async def test_a_caseworker_is_refused_the_register(self, page: Any, stack: RunningStack) -> None:
        await sign_in(page, stack, "caseworker")
        await expect(page.get_by_role("link", name="Fachkräfte und Fallzahlen")).to_have_count(0)
        response = await page.goto(stack.web_url + "/team/fachkraefte")
        assert response is not None and response.status == 403
