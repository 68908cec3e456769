"""The caseworker's daily records on the case page in a real browser against the embedded stack: first
contact (a date in the future refused by casework, shown at the field), a goal (missing title shown at
the field), adjusting it on the goal page (the revision listed with who and what), the integration
agreement (casework's 422 for a missing agreement at the checkbox), a consent and the referral that
needs it, a withdrawal, and the closure through its confirmation page (cancelled once); moving the goal
to another field of action and to the whole household; a team lead reassigns a case. axe-core runs on every screen.

The cases are opened in Bockum-Hövel, which only caseworker4 serves and no other test uses, so the
reassignment and the closure change no other test's cases."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from services.contracts.workdays import city_today
from tests.browser.test_web_browser import sign_in
from tests.e2e.test_casework_scenarios import intake_case, refugee
from tests.support.browser import check_screen, staff_context
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack
DISTRICT = "Bockum-Hövel"
TODAY = city_today()


async def new_case(stack: RunningStack) -> tuple[str, str]:
    """A family case (adult and child) for caseworker4; returns (case, the adult's person id)."""
    case = await intake_case(stack, refugee("Samir", "1987-04-04"), refugee("Dana", "2017-02-02"), district=DISTRICT)
    assert case["caseworker"] == "caseworker4", case
    adult = None
    async with stack.client("casework", "caseworker4") as cw:
        for member in case["member_ids"]:  # without consent: the adult is refused for the consent, the child as not employable
            r = await cw.post(f"/cases/{case['case_id']}/referrals", json={"person_id": member, "partner": "integration_point"})
            assert r.status_code == 422, r.text
            if "Einwilligung" in r.text:
                adult = member
    assert adult is not None
    return case["case_id"], adult


async def flash(page: Any, text: str) -> None:
    await expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


class TestTheCaseworkersDay:
    async def test_first_contact_goal_revision_agreement_consent_referral_and_closure(self, page: Any, stack: RunningStack) -> None:
        case_id, adult = await new_case(stack)
        await sign_in(page, stack, "caseworker4")
        await page.goto(stack.web_url + f"/faelle/{case_id}")
        await expect(page.get_by_role("heading", level=2, name="Erstkontakt erfassen")).to_be_visible()
        await expect(page.get_by_role("heading", name="Fall neu zuweisen")).to_have_count(0)  # team leads only
        await check_screen(page, "42-fallseite-einstieg")

        # first contact: a date in the future is casework's 422, shown at the date field
        contact_on = page.get_by_label("Datum des Erstkontakts")
        await contact_on.fill((TODAY + timedelta(days=5)).isoformat())
        await page.get_by_role("button", name="Erstkontakt speichern").click()
        await expect(contact_on).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#ek-contact_on-fehler")).to_contain_text("Zukunft")
        await expect(page.get_by_role("alert")).to_contain_text("Der Erstkontakt wurde nicht erfasst")
        await check_screen(page, "43-erstkontakt-fehler")
        await contact_on.fill(TODAY.isoformat())
        await page.get_by_label("Starterpaket übergeben").check()
        await page.get_by_role("button", name="Erstkontakt speichern").click()
        await flash(page, "Der Erstkontakt ist erfasst.")
        await expect(page.get_by_role("heading", name="Erstkontakt erfassen")).to_have_count(0)
        await expect(page.locator("#fall-phase")).to_have_text("Integrationsplanung")

        # a goal: all 18 fields of action; the title missing is named at its field
        field = page.get_by_label("Handlungsfeld")
        assert await field.locator("option").count() == 19  # "Bitte wählen" and the 18 fields of action
        await field.select_option("3")
        await page.get_by_label("Zieldatum").fill("2027-09-30")
        await page.get_by_label("Verantwortlich").select_option("client")
        await page.get_by_role("button", name="Ziel hinzufügen").click()
        title = page.get_by_label("Titel")
        await expect(title).to_have_attribute("aria-invalid", "true")
        await expect(title).to_have_attribute("aria-describedby", "zn-title-fehler")
        await expect(page.get_by_label("Handlungsfeld")).to_have_value("3")  # the other answers are kept
        await check_screen(page, "44-ziel-fehler")
        await title.fill("Arbeitsaufnahme")
        await page.locator("#zn-person_id").select_option(adult)
        await page.get_by_role("button", name="Ziel hinzufügen").click()
        await flash(page, "Das Ziel ist hinzugefügt.")
        row = page.get_by_role("row").filter(has_text="Arbeitsaufnahme")
        await expect(row).to_contain_text("Klient/in")

        # adjust it on the goal page: the change is a new revision, listed with who and what
        await row.get_by_role("link", name=re.compile(r"^anpassen\W+Arbeitsaufnahme$")).click()
        await expect(page.get_by_role("heading", level=1, name="Ziel anpassen: Arbeitsaufnahme")).to_be_visible()
        await expect(page.get_by_label("Handlungsfeld")).to_have_value("3")
        await expect(page.get_by_label("Betroffene Person")).to_have_value(adult)
        await page.get_by_label("Titel").fill("Arbeitsaufnahme in Teilzeit")
        await page.get_by_label("Verantwortlich").select_option("partner")
        await page.get_by_role("button", name="Änderung speichern").click()
        await flash(page, "Das Ziel ist angepasst (Revision 2).")
        newest = page.locator("#revisionen-tabelle tbody tr").first
        await expect(newest).to_contain_text("caseworker4")
        await expect(newest).to_contain_text("Titel: Arbeitsaufnahme → Arbeitsaufnahme in Teilzeit")
        await expect(newest).to_contain_text("Verantwortlich: Klient/in → Partner")
        await expect(page.locator("#revisionen-tabelle tbody tr")).to_have_count(2)
        await check_screen(page, "45-ziel-anpassen")
        await page.get_by_label("Titel").fill("")
        await page.get_by_role("button", name="Änderung speichern").click()
        await expect(page.get_by_label("Titel")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#revisionen-tabelle tbody tr")).to_have_count(2)
        # the field of action (German names, all 18) and the person change too: a new revision
        await page.get_by_label("Titel").fill("Arbeitsaufnahme in Teilzeit")
        field = page.get_by_label("Handlungsfeld")
        assert await field.locator("option").count() == 19
        await field.select_option(label="8 Kulturelles Engagement")
        await page.get_by_label("Betroffene Person").select_option("")
        await page.get_by_role("button", name="Änderung speichern").click()
        await flash(page, "Das Ziel ist angepasst (Revision 3).")
        newest = page.locator("#revisionen-tabelle tbody tr").first
        await expect(newest).to_contain_text("Handlungsfeld: 3 Arbeit → 8 Kulturelles Engagement")
        await expect(newest).to_contain_text("Person: Person ")
        await expect(newest).to_contain_text("→ ganzer Haushalt")
        await expect(page.locator("#revisionen-tabelle tbody tr")).to_have_count(3)
        await page.get_by_label("Handlungsfeld").select_option("3")
        await page.get_by_label("Betroffene Person").select_option(adult)
        await page.get_by_role("button", name="Änderung speichern").click()
        await flash(page, "Das Ziel ist angepasst (Revision 4).")
        await expect(page.locator("#revisionen-tabelle tbody tr").first).to_contain_text("Handlungsfeld: 8 Kulturelles Engagement → 3 Arbeit")
        await page.get_by_role("link", name=f"Zurück zum Fall {case_id[:8]}").click()

        # the integration agreement: without the client's agreement casework refuses it at that checkbox
        await page.get_by_label("Von der Fachkraft vereinbart").check()
        await page.get_by_role("button", name="Integrationsvereinbarung speichern").click()
        client = page.get_by_label("Von der Klientin / dem Klienten vereinbart")
        await expect(client).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#iv-agreed_by_client-fehler")).to_contain_text("zustimmen")
        await expect(page.get_by_label("Von der Fachkraft vereinbart")).to_be_checked()
        await client.check()
        await page.get_by_role("button", name="Integrationsvereinbarung speichern").click()
        await flash(page, "Die Integrationsvereinbarung ist erfasst.")
        await expect(page.locator("#fall-phase")).to_have_text("Integration in die Regelsysteme")
        await expect(page.get_by_role("heading", level=2, name="Integrationsplan (Version 1)")).to_be_visible()

        # a consent for the Integration Point, then the referral that needs it
        consent = page.locator("#ew-person_id")
        await consent.select_option(adult)
        await page.locator("#ew-partner").select_option("integration_point")
        await expect(page.locator("#ew-purpose")).to_have_value("referral")
        await page.get_by_role("button", name="Einwilligung speichern").click()
        await flash(page, "Die Einwilligung für Integration Point ist erfasst.")
        await expect(page.get_by_role("table", name="Dokumentierte Einwilligungen der Personen dieses Falls")).to_contain_text("wirksam")
        await page.locator("#person_id").select_option(adult)
        await page.locator("#partner").select_option("integration_point")
        await page.get_by_role("button", name="Überleitung anlegen").click()
        await flash(page, "Die Überleitung an Integration Point ist angelegt.")
        await check_screen(page, "46-fallseite-integration")

        # a second consent, withdrawn again
        await consent.select_option(adult)
        await page.locator("#ew-partner").select_option("language_course")
        await page.get_by_role("button", name="Einwilligung speichern").click()
        await flash(page, "Die Einwilligung für Sprachkursträger ist erfasst.")
        await page.get_by_role("button", name=re.compile(r"^Widerruf erfassen\W+Person \d.*Sprachkursträger")).click()
        await flash(page, "Der Widerruf der Einwilligung für Sprachkursträger ist erfasst.")
        await expect(page.get_by_role("row").filter(has_text="Sprachkursträger").filter(has_text="Überleitung")).to_contain_text("widerrufen am")

        async with stack.client("casework", "caseworker4") as cw:
            referrals = (await cw.get(f"/cases/{case_id}/referrals")).json()
            goal = (await cw.get(f"/cases/{case_id}/plan")).json()["goals"][0]
            consents = {(c["partner"], c["withdrawn_at"] is None) for c in (await cw.get(f"/cases/{case_id}/consents")).json()}
        assert [(r["partner"], r["person_id"], r["status"]) for r in referrals] == [("integration_point", adult, "open")]
        assert (goal["title"], goal["responsible"], goal["revision"], goal["person_id"], goal["field_of_action"]) == ("Arbeitsaufnahme in Teilzeit", "partner",
                                                                                                                      4, adult, 3)
        assert {("integration_point", True), ("language_course", False)} <= consents

        # closing: the reason is required (at its field), then a confirmation page; cancelled once, then confirmed
        await page.get_by_role("button", name="Fall abschließen …").click()
        await expect(page.get_by_label("Grund des Abschlusses")).to_have_attribute("aria-invalid", "true")
        await expect(page.get_by_label("Grund des Abschlusses")).to_have_attribute("aria-describedby", "fa-reason-fehler")
        await page.get_by_label("Grund des Abschlusses").select_option("no_contact")
        await page.get_by_role("button", name="Fall abschließen …").click()
        heading = page.get_by_role("heading", level=1, name="Fall wirklich abschließen?")
        await expect(heading).to_be_focused()  # focus order starts at the question
        await expect(page.locator("#bestaetigen-fall")).to_have_text(f"Fall {case_id[:8]}")
        await expect(page.locator("#bestaetigen-grund")).to_have_text("kein Kontakt mehr")
        await expect(page.locator("#bestaetigen-ueberleitungen")).to_have_text("1 offene Überleitung (Integration Point) wird beendet.")
        await expect(page.get_by_text("Die Überprüfungen des Integrationsplans enden")).to_be_visible()
        await check_screen(page, "47a-fall-abschliessen-bestaetigen")
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Fall abschließen", exact=True)).to_be_focused()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Abbrechen")).to_be_focused()
        await page.keyboard.press("Enter")  # cancel: back on the case page, still open
        await expect(page).to_have_url(re.compile(rf"/faelle/{case_id}\??$"))
        await expect(page.locator("#fall-phase")).to_have_text("Integration in die Regelsysteme")
        async with stack.client("casework", "caseworker4") as cw:
            assert (await cw.get(f"/cases/{case_id}")).json()["phase"] != "closed"
        await page.get_by_label("Grund des Abschlusses").select_option("moved_away")
        await page.get_by_role("button", name="Fall abschließen …").click()
        await expect(page.locator("#bestaetigen-grund")).to_have_text("verzogen")
        await page.get_by_role("button", name="Fall abschließen", exact=True).click()
        await flash(page, "Der Fall ist abgeschlossen.")
        await expect(page.locator("#fall-phase")).to_have_text("abgeschlossen")
        await expect(page.locator("#abschluss-stand")).to_contain_text("verzogen")
        await expect(page.get_by_role("button", name="Ziel hinzufügen")).to_have_count(0)
        await check_screen(page, "47-fall-abgeschlossen")
        async with stack.client("casework", "caseworker4") as cw:
            closed = (await cw.get(f"/cases/{case_id}")).json()
        assert (closed["phase"], closed["close_reason"]) == ("closed", "moved_away")


class TestTeamLeadReassigns:
    async def test_a_team_lead_moves_a_case_to_a_caseworker_with_room(self, browser: Any, stack: RunningStack) -> None:
        case_id, _ = await new_case(stack)
        lead_ctx = await staff_context(browser)
        old_ctx = await staff_context(browser)
        try:
            page = await lead_ctx.new_page()
            await sign_in(page, stack, "teamlead")
            await page.goto(stack.web_url + f"/faelle/{case_id}")
            await expect(page.get_by_role("heading", level=2, name="Fall neu zuweisen")).to_be_visible()
            select = page.get_by_label("Neue Fachkraft")
            await expect(select.locator("option", has_text="caseworker4")).to_have_count(0)  # the current one is not offered
            await expect(select.locator("option[value=caseworker]")).to_contain_text("von 190 Fällen")
            await page.get_by_role("button", name="Fall neu zuweisen").click()
            await expect(select).to_have_attribute("aria-invalid", "true")
            await check_screen(page, "48-fall-neu-zuweisen")
            await select.select_option("caseworker")
            await page.get_by_role("button", name="Fall neu zuweisen").click()
            await flash(page, "Der Fall ist caseworker zugewiesen.")
            await expect(page.get_by_text("Zurzeit zuständig: caseworker.")).to_be_visible()
            async with stack.client("casework", "teamlead") as lead:
                history = (await lead.get(f"/cases/{case_id}/assignments")).json()
            assert [(h["caseworker"], h["reason"]) for h in history] == [("caseworker4", "initial"), ("caseworker", "reassignment")]
            assert history[-1]["by"] == "teamlead"

            # the former caseworker no longer sees the case, and a caseworker cannot reassign (403 from the web app)
            old = await old_ctx.new_page()
            await sign_in(old, stack, "caseworker4")
            response = await old.goto(stack.web_url + f"/faelle/{case_id}")
            assert response.status == 403
            await expect(old.get_by_role("heading", level=1, name="Kein Zugriff auf diesen Fall")).to_be_visible()
        finally:
            await lead_ctx.close()
            await old_ctx.close()
