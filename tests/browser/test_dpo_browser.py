"""The data protection officer's screens in a real browser against the embedded stack: from the
navigation to "Datenschutz", a search of all services' audit logs by staff member, the CSV export, and
the access request (Art. 15 DSGVO) of a person; axe-core on each screen, each saved as a screenshot."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_web_browser import sign_in
from tests.support.browser import check_screen, staff_context
from tests.support.stack import RunningStack, intake_payload, person

pytestmark = pytest.mark.stack


class TestTheDataProtectionOfficersScreens:
    async def test_search_export_and_access_request(self, browser: Any, stack: RunningStack) -> None:
        async with stack.client("intake", "frontdesk") as c:
            created = (await c.post("/intakes", json=intake_payload(person("Datenschutzprobe", "Browser", "1979-06-01")))).json()
        context = await staff_context(browser)
        page = await context.new_page()
        try:
            await sign_in(page, stack, "dpo")
            await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Datenschutz", exact=True).click()
            await page.get_by_label("Mitarbeitende (Benutzername)").fill("frontdesk")
            await page.get_by_role("button", name="Protokoll durchsuchen").click()
            await expect(page.get_by_role("heading", name=re.compile(r"^\d+ Eintr"))).to_be_visible()
            await expect(page.get_by_text(created["intake_id"]).first).to_be_visible()
            await check_screen(page, "60-datenschutz-protokoll")
            async with page.expect_download() as download:
                await page.get_by_role("link", name="Als CSV exportieren").click()
            assert (await download.value).suggested_filename == "zugriffsprotokoll.csv"

            await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Auskunft nach Art. 15 DSGVO").click()
            await page.get_by_label("Person (Personen-ID)").fill(created["person_ids"][0])
            await page.get_by_role("button", name="Auskunft zusammenstellen").click()
            await expect(page.get_by_text("Datenschutzprobe").first).to_be_visible()
            await check_screen(page, "61-datenschutz-auskunft")
        finally:
            await context.close()
