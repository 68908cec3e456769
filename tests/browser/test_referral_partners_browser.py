"""Referrals to partners in a real browser against the embedded stack (issue 14): a caseworker makes a
Kita referral on the case page and records the Kita's answer (the Kita has no account); the language
course provider signs in, sees its referrals and records its steps; the Integration Point advisor
opens a referral with the person's data-exchange consent and sees the handover (name, languages, the
caseworker's note), and one without it shows ids only. axe-core runs on every new screen."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_role_screens_browser import nav
from tests.browser.test_web_browser import sign_in
from tests.e2e.test_casework_scenarios import TODAY, intake_case, refugee
from tests.e2e.test_partner_referrals import _refer, _woman, adult_and_child, agreed_and_not
from tests.support.browser import check_screen
from tests.support.eventually import eventually
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


class TestKitaReferralInTheBrowser:
    async def test_the_caseworker_refers_a_child_to_a_kita_and_records_the_kitas_answer(self, page: Any, stack: RunningStack) -> None:
        case = await intake_case(stack, refugee("Karim", "1989-01-01"), refugee("Nour", "2023-04-04") | {"relation": "child"}, district="Mitte")
        case_id, (_, child) = case["case_id"], await adult_and_child(stack, case)
        async with stack.client("casework", "caseworker") as cw:
            r = await cw.post(f"/cases/{case_id}/consents", json={"person_id": child, "partner": "daycare", "purpose": "referral", "given_on": TODAY})
            assert r.status_code == 204, r.text
        await sign_in(page, stack, "caseworker")
        await page.goto(stack.web_url + f"/faelle/{case_id}")
        await page.locator("#person_id").select_option(child)
        await page.get_by_label("Partner", exact=True).select_option("daycare")
        await page.get_by_role("button", name="Überleitung anlegen").click()
        await expect(page.get_by_role("status")).to_have_text("Die Überleitung an Kita ist angelegt.")
        await page.get_by_role("link", name=f"Antwort erfassen für die Überleitung an Kita, Person {child[:8]}").click()
        await expect(page.get_by_role("heading", level=1, name="Überleitung an Kita")).to_be_visible()
        await check_screen(page, "60-kita-ueberleitung")

        await page.get_by_label("Platz angeboten (mit Aufnahmedatum)").check()  # without the start date
        await page.get_by_role("button", name="Antwort speichern").click()
        summary = page.get_by_role("alert")
        await expect(summary).to_contain_text("Bitte das Datum angeben")
        await expect(summary).to_be_focused()
        await expect(page.locator("#datum")).to_have_attribute("aria-invalid", "true")
        await check_screen(page, "61-kita-antwort-fehler")

        await page.get_by_label("auf der Warteliste").check()
        await page.get_by_role("button", name="Antwort speichern").click()
        await expect(page.get_by_role("status")).to_have_text("Die Antwort „auf der Warteliste“ ist erfasst.")
        await expect(page.locator("#letzte-antwort")).to_have_text("auf der Warteliste")
        start = (date.today() + timedelta(days=45)).isoformat()
        await page.get_by_label("Platz angeboten (mit Aufnahmedatum)").check()
        await page.locator("#datum").fill(start)
        await page.get_by_role("button", name="Antwort speichern").click()
        await expect(page.locator("#ueberleitung-stand")).to_have_text("abgeschlossen (Platz angeboten (mit Aufnahmedatum))")
        await check_screen(page, "62-kita-platz-angeboten")
        async with stack.client("casework", "caseworker") as cw:
            referral = (await cw.get(f"/cases/{case_id}/referrals")).json()[0]
        assert (referral["outcome"], referral["outcome_on"], referral["acknowledged_on"]) == ("place_offered", start, TODAY)


class TestLanguageCourseProviderInTheBrowser:
    async def test_the_provider_signs_in_sees_its_referrals_and_records_a_step(self, page: Any, stack: RunningStack) -> None:
        case = await intake_case(stack, refugee("Tarek", "1987-09-09"), district="Mitte")
        referral_id = await _refer(stack, case["case_id"], case["member_ids"][0], "language_course")
        await sign_in(page, stack, "sprachkurs")
        await nav(page, "Überleitungen an uns")
        link = page.get_by_role("link", name=f"Überleitung {referral_id[:8]}")
        await expect(link).to_be_visible()
        await check_screen(page, "63-partner-ueberleitungen")
        await link.click()
        await page.get_by_label("im Kurs angemeldet (mit Kursbeginn)").check()  # not acknowledged yet
        await page.locator("#datum").fill((date.today() + timedelta(days=7)).isoformat())
        await page.get_by_role("button", name="Antwort speichern").click()
        await expect(page.get_by_role("alert")).to_contain_text("Bitte zuerst den Eingang bestätigen.")
        await check_screen(page, "64-partner-schritt-fehler")
        await page.get_by_label("Eingang bestätigt").check()
        await page.get_by_role("button", name="Antwort speichern").click()
        await expect(page.get_by_role("status")).to_have_text("Der Schritt „Eingang bestätigt“ ist erfasst.")
        await page.get_by_label("Einstufungstest vereinbart").check()
        await page.locator("#datum").fill((date.today() + timedelta(days=3)).isoformat())
        await page.get_by_role("button", name="Antwort speichern").click()
        await expect(page.locator("#letzte-antwort")).to_have_text("Termin vergeben")
        await check_screen(page, "65-partner-ueberleitung")
        async with stack.client("casework", "caseworker") as cw:
            r = (await cw.get(f"/cases/{case['case_id']}/referrals")).json()[0]
        assert (r["latest_step"], r["appointment_on"]) == ("appointment_booked", (date.today() + timedelta(days=3)).isoformat())


class TestIntegrationPointHandoverInTheBrowser:
    async def test_with_consent_the_advisor_sees_name_languages_and_note_without_it_ids_only(self, page: Any, stack: RunningStack) -> None:
        agreed = [{"partner": "integration_point", "purpose": p, "given_on": "2026-11-02"} for p in ("referral", "data_exchange")]
        only_referral = [{"partner": "integration_point", "purpose": "referral", "given_on": "2026-11-02"}]
        case = await intake_case(stack, _woman("Salma", agreed), _woman("Rasha", only_referral) | {"relation": "partner"}, district="Mitte")
        case_id = case["case_id"]
        salma, rasha = await agreed_and_not(stack, case_id)
        async with stack.client("casework", "caseworker") as cw:
            with_consent = (await cw.post(f"/cases/{case_id}/referrals",
                                          json={"person_id": salma, "partner": "integration_point",
                                                "note": "Erzieherin, Anerkennung läuft"})).json()["referral_id"]
            without = (await cw.post(f"/cases/{case_id}/referrals",
                                     json={"person_id": rasha, "partner": "integration_point", "note": "Nur intern"})).json()["referral_id"]
        async with stack.client("intake", "ipadvisor") as ip:
            async def known() -> None:
                assert (await ip.get(f"/referrals/{with_consent}/person")).json()["consent"] is True

            await eventually(known, timeout=15)
        await sign_in(page, stack, "ipadvisor")
        await page.goto(stack.web_url + f"/ueberleitungen/{with_consent}")
        person = page.locator("#uebergabe-person")
        await expect(person).to_contain_text("Salma Haddad")
        await expect(page.locator("#uebergabe-sprachen")).to_have_text("Arabisch, Englisch (B1)")
        await expect(page.locator("#uebergabe-vermerk")).to_have_text("Erzieherin, Anerkennung läuft")
        await check_screen(page, "66-ip-uebergabe")
        await page.goto(stack.web_url + f"/ueberleitungen/{without}")
        await expect(page.locator("#uebergabe-ohne-einwilligung")).to_be_visible()
        await expect(page.locator("main")).not_to_contain_text("Rasha")
        await expect(page.locator("main")).not_to_contain_text("Nur intern")
        await expect(page.locator("main")).to_contain_text(rasha[:8])
        await check_screen(page, "67-ip-ohne-einwilligung")
