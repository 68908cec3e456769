"""A household comes back the next day to a different clerk (issue: team drafts): clerk A starts the
intake interview, clerk B finds it under "Offene Erstgespräche im Team" with who started it, resumes
and completes it; A then sees it among the completed ones. axe-core runs on the list."""

from __future__ import annotations

import random
import re
import string
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_role_screens_browser import add_person, nav
from tests.browser.test_web_browser import sign_in
from tests.support.browser import check_screen, staff_context
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


class TestTeamDraftsInTheBrowser:
    async def test_a_colleague_resumes_and_completes_a_draft(self, browser: Any, stack: RunningStack) -> None:
        a_ctx = await staff_context(browser)
        b_ctx = await staff_context(browser)
        try:
            a, b = await a_ctx.new_page(), await b_ctx.new_page()
            family = "Petrov-" + "".join(random.choices(string.ascii_lowercase, k=6)).capitalize()
            await sign_in(a, stack, "frontdesk")
            await nav(a, "Erstgespräch beginnen")
            await a.get_by_label("Sozialraum").select_option("Westen")
            await a.get_by_label("Straße").fill("Nordstraße")
            await a.get_by_label("Hausnummer").fill("3")
            await a.get_by_label("Postleitzahl").fill("59065")
            await a.get_by_role("button", name="Speichern und weiter").click()
            await a.wait_for_url(re.compile(r".*/erstgespraech/[0-9a-f-]+/personen$"))
            await add_person(a, "Stefan", family, "1980-02-02", "male", "head")
            await nav(a, "Erstgespräche fortsetzen")
            own = a.get_by_role("table", name="Ihre offenen Erstgespräche")
            await expect(own.get_by_role("row").filter(has_text=f"Stefan {family}")).to_have_count(1)

            await sign_in(b, stack, "frontdesk2")
            await nav(b, "Erstgespräche fortsetzen")
            team = b.get_by_role("table", name="Offene Erstgespräche im Team")
            row = team.get_by_role("row").filter(has_text=f"Stefan {family}")
            await expect(row).to_have_count(1)
            await expect(row.get_by_role("cell", name="frontdesk", exact=True)).to_have_count(1)
            await expect(b.get_by_role("table", name="Ihre offenen Erstgespräche").get_by_role("row").filter(has_text=family)).to_have_count(0)
            await check_screen(b, "27-erstgespraeche-team")

            await row.get_by_role("link", name=re.compile("^fortsetzen")).click()
            await b.wait_for_url(re.compile(r".*/erstgespraech/[0-9a-f-]+/personen$"))
            await b.get_by_role("link", name="4. Prüfen und abschließen").click()
            await b.get_by_role("button", name="Erstgespräch abschließen").click()
            await b.wait_for_url(re.compile(r".*/haushalt/[0-9a-f-]+$"))
            intake_id = b.url.rsplit("/", 1)[1]

            await a.reload()
            # other tests of the session may have left own drafts open: only this household's row must be gone
            await expect(a.get_by_role("table", name="Ihre offenen Erstgespräche").get_by_role("row").filter(has_text=family)).to_have_count(0)
            done = a.get_by_role("table", name=re.compile("abgeschlossene Erstgespräche")).get_by_role("row").filter(has_text="von frontdesk2")
            await expect(done.locator(f'a[href="/haushalt/{intake_id}"]')).to_have_count(1)
            await check_screen(a, "28-erstgespraeche-abgeschlossen")
        finally:
            await a_ctx.close()
            await b_ctx.close()
