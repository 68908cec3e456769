"""The staff web application in a real browser (Debian's Chromium, headless) against the embedded
stack: keyboard sign-in, role start pages, work list, operator console; axe-core on every main screen
(WCAG 2.1 A/AA, BITV 2.0) and a screenshot of each in test-artifacts/screens/."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import expect

from tests.support.browser import check_screen
from tests.support.eventually import eventually
from tests.support.stack import RunningStack, intake_payload
from tests.support.web import dead_letter_for, raise_test_alert

pytestmark = pytest.mark.stack


async def sign_in(page: Any, stack: RunningStack, user: str) -> None:
    await page.goto(stack.web_url + "/anmelden")
    await page.get_by_label("Benutzername").fill(user)
    await page.get_by_label("Passwort").fill(stack.password(user))
    await page.get_by_role("button", name="Anmelden").click()
    await page.wait_for_url(stack.web_url + "/")


class TestSignInInTheBrowser:
    async def test_the_sign_in_page_works_with_the_keyboard_alone(self, page: Any, stack: RunningStack) -> None:
        await page.goto(stack.web_url + "/anmelden")
        await check_screen(page, "01-anmelden")
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent.trim()") == "Zum Inhalt springen"
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "inhalt"
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "username"
        await page.keyboard.type("frontdesk")
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "password"
        await page.keyboard.type(stack.password("frontdesk"))
        await page.keyboard.press("Enter")
        await page.wait_for_url(stack.web_url + "/")
        assert await page.get_by_role("heading", level=2, name="Bürgeramt").is_visible()
        await check_screen(page, "02-start-buergeramt")

    async def test_a_wrong_password_is_announced_and_tied_to_its_field(self, page: Any, stack: RunningStack) -> None:
        await page.goto(stack.web_url + "/anmelden")
        await page.get_by_label("Benutzername").fill("frontdesk")
        await page.get_by_label("Passwort").fill("falsch")
        await page.get_by_role("button", name="Anmelden").click()
        field = page.get_by_label("Passwort")
        assert await field.get_attribute("aria-invalid") == "true"
        described = await field.get_attribute("aria-describedby")
        assert await page.locator(f"#{described}").inner_text() == "Benutzername oder Passwort ist falsch."
        assert await page.get_by_role("alert").is_visible()
        await check_screen(page, "03-anmelden-fehler")

    async def test_signing_out_returns_to_the_sign_in_page(self, page: Any, stack: RunningStack) -> None:
        await sign_in(page, stack, "abra")
        await page.get_by_role("button", name="Abmelden").click()
        await page.wait_for_url(stack.web_url + "/anmelden?abgemeldet=1")
        await page.goto(stack.web_url + "/")
        assert page.url.startswith(stack.web_url + "/anmelden")


class TestRoleStartPages:
    @pytest.mark.parametrize(
        ("user", "section", "link"),
        [
            ("caseworker", "Integrationskoordination", "Meine Fälle"),
            ("fundmanager", "Geschäftsführung Integrationskonzept", "Härtefallanträge"),
            ("reporting", "Berichtswesen", "Kennzahlen"),
            ("operator", "Betrieb (IT)", "Hängende Vorgänge"),
        ],
    )
    async def test_each_role_starts_on_its_own_page(self, page: Any, stack: RunningStack, user: str, section: str, link: str) -> None:
        await sign_in(page, stack, user)
        assert await page.get_by_role("heading", level=2, name=section).is_visible()
        assert await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name=link).is_visible()
        await check_screen(page, f"04-start-{user}")

    async def test_a_screen_of_another_role_is_refused(self, page: Any, stack: RunningStack) -> None:
        await sign_in(page, stack, "frontdesk")
        response = await page.goto(stack.web_url + "/betrieb/fehlerwarteschlange")
        assert response.status == 403
        assert await page.get_by_role("heading", level=1, name="Keine Berechtigung").is_visible()
        await check_screen(page, "05-keine-berechtigung")

    async def test_every_screen_in_the_navigation_is_built(self, page: Any, stack: RunningStack) -> None:
        await sign_in(page, stack, "fundmanager")
        navigation = page.get_by_role("navigation", name="Hauptnavigation")
        await expect(navigation.get_by_role("link", name="Verfügungsfonds-Runde", exact=True)).to_be_visible()
        assert "folgt" not in await navigation.inner_text()


class TestWorkListInTheBrowser:
    async def test_a_caseworker_sees_an_escalation_and_marks_it_done(self, page: Any, stack: RunningStack) -> None:
        subject = await raise_test_alert(stack, "casework", "caseworker", kind="escalation")
        await sign_in(page, stack, "caseworker")
        await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Arbeitsliste").click()
        row = page.get_by_role("row").filter(has_text=subject)
        assert await row.is_visible()
        await check_screen(page, "07-arbeitsliste")
        await row.get_by_role("button", name="erledigt").click()
        assert await page.get_by_role("status").filter(has_text="erledigt").is_visible()
        assert await page.get_by_role("row").filter(has_text=subject).count() == 0


class TestOperatorConsoleInTheBrowser:
    async def test_the_operator_finds_the_trace_of_an_intake(self, page: Any, stack: RunningStack) -> None:
        async with stack.client("intake", "frontdesk") as api:
            r = await api.post("/intakes", json=intake_payload())
        assert r.status_code == 201, r.text
        intake_id = r.json()["intake_id"]
        await sign_in(page, stack, "operator")
        await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Ablaufverfolgung").click()
        await check_screen(page, "08-ablaufverfolgung")

        async def shown() -> None:
            await page.get_by_label("Vorgangs-ID").fill(intake_id)
            await page.get_by_role("button", name="Ablauf anzeigen").click()
            await page.wait_for_load_state()
            assert await page.locator("ul.tree li").filter(has_text="intake.intake-completed.v1 process").count() >= 1
            # spans are exported as they end: the request's own span may arrive after its children
            root = page.locator("ul.tree > li").first
            assert "POST /intakes" in await root.locator(".span-name").first.inner_text()

        await eventually(shown, timeout=30, interval=0.5)
        await check_screen(page, "09-ablauf-baum")

    async def test_the_operator_sees_dead_letters_and_replays_one(self, page: Any, stack: RunningStack) -> None:
        _, event_id = await dead_letter_for(stack, "intake")
        await sign_in(page, stack, "operator")
        await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Fehlerwarteschlange").click()
        row = page.get_by_role("row").filter(has_text=event_id)
        assert await row.is_visible()
        await check_screen(page, "10-fehlerwarteschlange")
        await row.get_by_role("button", name="erneut einspielen").click()
        assert await page.get_by_role("status").filter(has_text="erneut eingespielt").is_visible()
        assert await page.get_by_role("row").filter(has_text=event_id).count() == 0

    async def test_the_operator_sees_a_stuck_workflow_and_what_it_waits_for(self, page: Any, stack: RunningStack) -> None:
        client = await stack.temporal()  # a workflow casework's worker cannot run: its task fails again and again
        handle = await client.start_workflow("WebTestNotRegistered", id=f"web-test-stuck-{uuid.uuid4()}", task_queue="casework")
        try:
            await sign_in(page, stack, "operator")
            await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Hängende Vorgänge").click()
            assert await page.get_by_role("heading", level=1, name="Hängende Vorgänge").is_visible()
            await page.get_by_label("Nur hängende Vorgänge zeigen").check()

            async def stuck() -> None:
                await page.get_by_role("button", name="Anzeigen").click()
                await page.wait_for_load_state()
                row = page.get_by_role("row").filter(has_text=handle.id)
                assert await row.count() == 1
                assert "Worker scheitert an der Workflow-Aufgabe" in await row.inner_text()

            await eventually(stuck, timeout=30, interval=0.5)
            assert await page.get_by_text("antwortet nicht").count() == 0
            await check_screen(page, "11-haengende-vorgaenge")
        finally:
            await handle.terminate("test done")


class TestAccessibilityStatement:
    async def test_the_statement_is_reachable_from_every_page(self, page: Any, stack: RunningStack) -> None:
        await page.goto(stack.web_url + "/anmelden")
        await page.get_by_role("contentinfo").get_by_role("link", name="Erklärung zur Barrierefreiheit").click()
        assert await page.get_by_role("heading", level=1, name="Erklärung zur Barrierefreiheit").is_visible()
        await check_screen(page, "12-barrierefreiheit")


class TestTheAccessibilityCheckItself:
    async def test_axe_reports_an_unlabelled_field_and_missing_language(self, page: Any) -> None:
        from tests.support.browser import axe_violations

        await page.set_content("<html><head><title>x</title></head><body><main><input type='text'></main></body></html>")
        ids = {v["id"] for v in await axe_violations(page)}
        assert {"label", "html-has-lang"} <= ids
