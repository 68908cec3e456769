"""The front desk records registrations of residence on the household's result page (issue 14): one small
form per person ("Anmeldung erfolgt am"), a date before moving in shown at its field with a focused error
summary, then recorded; a person whose ABRA clearing is pending gets no form. axe-core on every state,
also at 320 px width."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_web_browser import sign_in
from tests.support.browser import check_screen, staff_context
from tests.support.intake import registration, today
from tests.support.stack import RunningStack, intake_payload, person

pytestmark = pytest.mark.stack


class TestRegistrationInTheBrowser:
    async def test_the_front_desk_records_a_registration_after_correcting_a_date_before_moving_in(self, browser: Any, stack: RunningStack) -> None:
        moved = today() - timedelta(days=3)
        payload = intake_payload(
            person("Karim", "Nasser", "1986-06-06", move_in_date=moved.isoformat()),
            person("Dana", "Nasser", "1988-07-07", relation="partner", move_in_date=moved.isoformat()),
            person("Lucian", "Pop", "1990-01-01", "RO", sex="male", relation="other", move_in_date=moved.isoformat()),
        )
        async with stack.client("intake", "frontdesk") as c:
            r = await c.post("/intakes", json=payload)
        assert r.status_code == 201, r.text
        created = r.json()
        karim, _, lucian = created["person_ids"]
        ctx = await staff_context(browser)
        try:
            page = await ctx.new_page()
            await sign_in(page, stack, "frontdesk")
            await page.goto(f"{stack.web_url}/haushalt/{created['intake_id']}")
            karim_form = page.get_by_role("group", name="Karim Nasser")
            await expect(karim_form.get_by_label("Anmeldung erfolgt am")).to_have_value(today().isoformat())
            await expect(page.get_by_role("group", name="Dana Nasser")).to_have_count(1)
            await expect(page.get_by_role("group", name="Lucian Pop")).to_have_count(0)
            await expect(page.locator(f"#anmeldung-gesperrt-{lucian}")).to_contain_text("erst nach dem abgeschlossenen ABRA-Clearing")
            await check_screen(page, "40-anmeldung-erfassen")

            await karim_form.get_by_label("Anmeldung erfolgt am").fill((moved - timedelta(days=1)).isoformat())
            await karim_form.get_by_role("button", name="Anmeldung speichern").click()
            summary = page.get_by_role("alert")
            await expect(summary).to_contain_text("Die Anmeldung wurde nicht erfasst")
            await expect(summary).to_be_focused()
            field = page.get_by_role("group", name="Karim Nasser").get_by_label("Anmeldung erfolgt am")
            await expect(field).to_have_attribute("aria-invalid", "true")
            await expect(page.locator(f"#anmeldung-{karim}-fehler")).to_have_text(f"Das Datum liegt vor dem Zuzug am {moved:%d.%m.%Y}.")
            assert (await registration(stack, created["household_id"]))[karim]["registered_on"] is None
            await check_screen(page, "41-anmeldung-fehler")

            await field.fill(today().isoformat())
            await page.get_by_role("group", name="Karim Nasser").get_by_role("button", name="Anmeldung speichern").click()
            await expect(page.get_by_role("status").filter(has_text=f"Die Anmeldung am {today():%d.%m.%Y} ist erfasst.")).to_be_visible()
            await expect(page.locator(f"#anmeldung-erfolgt-{karim}")).to_contain_text(f"Anmeldung erfolgt am {today():%d.%m.%Y}")
            await expect(page.get_by_role("row").filter(has_text="Karim Nasser")).to_contain_text(f"Anmeldung erfolgt am {today():%d.%m.%Y}.")
            await expect(page.get_by_role("group", name="Karim Nasser")).to_have_count(0)
            assert (await registration(stack, created["household_id"]))[karim]["registered_on"] == today().isoformat()
            await check_screen(page, "42-anmeldung-erfasst")
            await page.set_viewport_size({"width": 320, "height": 800})
            await check_screen(page, "43-anmeldung-320px")
        finally:
            await ctx.close()
