"""The newcomer's letters in a real browser (issue 14): the clerk opens the summary, the newcomer picks
Arabic, the summary and the ABRA invitation turn right to left, and a refused reminder address is shown
at its field with an error summary; axe-core finds no WCAG 2.1 A/AA violation on the summary and the
invitation in German and in Arabic, and the Arabic invitation fits a 320 px screen."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_web_browser import sign_in
from tests.e2e.test_web import romanian_with_appointment
from tests.support.browser import check_screen
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


async def pick(page: Any, language_label: str) -> None:
    await page.get_by_label("Sprache für die Familie").select_option(label=language_label)
    await page.get_by_role("button", name="Sprache wählen").click()


class TestTheLettersInTheBrowser:
    async def test_german_then_arabic_summary_and_invitation_without_axe_violations(self, page: Any, stack: RunningStack) -> None:
        tag = uuid.uuid4().hex[:6]
        created, _ = await romanian_with_appointment(stack, "Ștefan", f"Bălănescu{tag}")
        intake_id = created["intake_id"]
        await sign_in(page, stack, "frontdesk")
        await page.goto(f"{stack.web_url}/haushalt/{intake_id}")
        await page.get_by_role("link", name="Zusammenfassung für die Familie drucken").click()
        await expect(page.get_by_role("heading", level=1, name="Willkommen in Hamm – Ihre nächsten Schritte")).to_be_visible()
        assert await page.locator("html").get_attribute("lang") == "de"
        await check_screen(page, "40-zusammenfassung-de")

        await pick(page, "العربية (Arabisch)")
        await expect(page.get_by_role("heading", level=1, name="مرحبًا بك في Hamm – خطواتك القادمة")).to_be_visible()
        html = page.locator("html")
        assert (await html.get_attribute("lang"), await html.get_attribute("dir")) == ("ar", "rtl")
        assert await page.locator("h1").evaluate("e => getComputedStyle(e).direction") == "rtl"
        await check_screen(page, "41-zusammenfassung-ar")

        await page.goto(f"{stack.web_url}/haushalt/{intake_id}/abra-einladung")
        await expect(page.get_by_role("heading", level=1, name="دعوة إلى مقابلة لدى ABRA")).to_be_visible()
        await check_screen(page, "42-einladung-ar")

        # an address without consent is refused at its field; the error summary takes the focus
        await page.get_by_label("E-Mail-Adresse").fill(f"stefan.{tag}@example.org")
        await page.get_by_role("button", name="Speichern").click()
        summary = page.get_by_role("alert").filter(has_text="Die Erinnerung konnte nicht gespeichert werden")
        await expect(summary).to_be_visible()
        await expect(summary).to_be_focused()
        consent = page.get_by_label("Die Person willigt ein, per E-Mail an ihren Termin erinnert zu werden.")
        await expect(consent).to_have_attribute("aria-invalid", "true")
        await check_screen(page, "43-einladung-fehler")
        await consent.check()
        await page.get_by_role("button", name="Speichern").click()
        await expect(page.get_by_role("status").filter(has_text="Erinnerung per E-Mail gespeichert.")).to_be_visible()
        assert "ستصلك رسالة تذكير بالبريد الإلكتروني" in await page.locator("main").inner_text()

        await page.set_viewport_size({"width": 320, "height": 800})
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= 320
        await check_screen(page, "44-einladung-ar-320px")
        await page.set_viewport_size({"width": 1280, "height": 900})

        await pick(page, "Deutsch")
        await expect(page.get_by_role("heading", level=1, name="Einladung zum Gespräch bei ABRA")).to_be_visible()
        assert (await html.get_attribute("lang"), await html.get_attribute("dir")) == ("de", "ltr")
        await check_screen(page, "45-einladung-de")
