"""The discretionary fund's applicant portal in a real browser against the embedded stack (issue 14):
an organisation applies with the guidelines in view (the error summary first), calls off a drawdown
that the payment officer pays, submits the proof of use with itemised spending and a receipt (a
program disguised as a PDF is refused at the receipts field); the fund manager asks for rework with
a reason, the organisation sees it and resubmits, the fund manager accepts and reclaims the unspent
rest, and the budget takes it back. axe-core runs on every new screen."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_role_screens_browser import nav
from tests.browser.test_web_browser import sign_in
from tests.e2e.test_funding_discretionary import call, discretionary, present, vote
from tests.support.browser import check_screen, staff_context
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def steering_approves(stack: RunningStack, app: str) -> None:
    round_id = (await call(stack, "fundmanager", "POST", "/rounds", {"application_ids": [app]})).json()["round_id"]
    for m in ("steering1", "steering2", "steering3", "steering4"):
        await present(stack, round_id, m)
        assert (await vote(stack, round_id, m, app, "yes")).status_code == 200
    assert (await call(stack, "fundmanager", "POST", f"/rounds/{round_id}/close-meeting")).json()["decided"] == {app: "approved"}


async def submit_proof(page: Any, amount: str, file: dict[str, Any] | None) -> None:
    await page.locator("#item_purpose_0").fill("Honorar Kursleitung")
    await page.locator("#item_amount_0").fill(amount)
    await page.locator("#item_date_0").fill(date.today().isoformat())
    await page.locator("#report").fill("Zehn Termine mit je zwölf Eltern.")
    if file is not None:
        await page.locator("#neue-belege").set_input_files(files=[file])
    await page.get_by_role("button", name="Verwendungsnachweis einreichen").click()


class TestApplicantPortalInTheBrowser:
    async def test_an_organisation_applies_and_proves_the_use_and_the_fund_manager_reviews_and_reclaims(self, browser: Any, stack: RunningStack) -> None:
        title = f"Elterncafé {uuid.uuid4().hex[:6]}"
        org_ctx, fm_ctx, po_ctx = await staff_context(browser), await staff_context(browser), await staff_context(browser)
        try:
            org = await org_ctx.new_page()
            await sign_in(org, stack, "org1")
            await nav(org, "Meine Anträge")
            await expect(org.get_by_role("heading", level=1, name="Meine Anträge an den Verfügungsfonds")).to_be_visible()
            await check_screen(org, "60-meine-antraege")
            await org.get_by_role("link", name="Neuen Antrag stellen").click()
            await expect(org.get_by_role("region", name="Richtlinien des Verfügungsfonds")).to_contain_text("höchstens 5.000 €")
            await check_screen(org, "61-antrag-stellen")

            # incomplete: the error summary is focused and names the fields
            await org.locator("#title").fill(title)
            await org.get_by_role("button", name="Antrag einreichen").click()
            summary = org.get_by_role("alert")
            await expect(summary).to_contain_text("Der Antrag wurde noch nicht eingereicht")
            await expect(summary).to_be_focused()
            await expect(org.locator("#contact_email")).to_have_attribute("aria-invalid", "true")
            await check_screen(org, "62-antrag-fehler")

            await org.locator("#provider").fill("Förderverein Hans-Tilkowski-Schule e.V.")
            await org.get_by_label("Art der Organisation").select_option("initiative")
            await org.get_by_label("Bereich").select_option("school_projects")
            await org.locator("#target_group").fill("geflüchtete Eltern")
            await org.locator("#period_start").fill(date.today().isoformat())
            await org.locator("#period_end").fill((date.today() + timedelta(days=60)).isoformat())
            await org.locator("#hf-1").check()
            await org.locator("#line_item_0").fill("Honorar Kursleitung")
            await org.locator("#line_amount_0").fill("3.500,00")
            await org.locator("#line_item_1").fill("Material")
            await org.locator("#line_amount_1").fill("500")
            await org.locator("#drawdowns_requested").check()
            await org.locator("#refugees_target_group").check()
            await org.locator("#new_approach").fill("Elterncafé vor dem Deutschkurs in der Schule")
            await org.locator("#lasting_integration").fill("Eltern bleiben im Förderverein")
            await org.locator("#contact_email").fill(f"elterncafe-{uuid.uuid4().hex[:6]}@example.org")
            await org.get_by_role("button", name="Antrag einreichen").click()
            await expect(org.get_by_role("status")).to_contain_text("Ihr Antrag ist eingereicht")
            app = org.url.rstrip("/").rsplit("/", 1)[-1]
            await expect(org.locator("#antrag-stand")).to_have_text("eingereicht")
            await check_screen(org, "63-antrag-eingereicht")

            await steering_approves(stack, app)
            before = await discretionary(stack)
            await org.reload()
            await expect(org.locator("#antrag-stand")).to_have_text("bewilligt")
            await org.get_by_label("Betrag des Abrufs in Euro").fill("1.500,00")
            await org.get_by_role("button", name="Abruf anfordern").click()
            await expect(org.get_by_role("status")).to_contain_text("Ihr Mittelabruf über 1.500,00 € ist angefordert")
            await check_screen(org, "64-mittelabruf")

            po = await po_ctx.new_page()
            await sign_in(po, stack, "paymentofficer")
            await nav(po, "Auszahlungen")
            await check_screen(po, "65-auszahlungen-mittelabruf")
            await po.get_by_role("button", name=re.compile(f"Mittelabruf {title}")).click()
            await expect(po.get_by_role("status")).to_contain_text("Der Mittelabruf über 1.500,00 € ist ausgezahlt")

            # the proof of use: a program named .pdf is refused at the receipts, the form keeps the items
            await org.reload()
            await expect(org.locator("#ausgezahlt")).to_have_text("1.500,00 €")
            await submit_proof(org, "1.200,00", {"name": "rechnung.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" + b"\x00" * 100})
            await expect(org.locator("#belege-fehler")).to_contain_text("Nur PDF-, PNG- oder JPEG-Dateien")
            await expect(org.locator("#item_amount_0")).to_have_value("1.200,00")
            await check_screen(org, "66-nachweis-beleg-abgelehnt")
            await org.locator("#neue-belege").set_input_files(files=[{"name": "rechnung.pdf", "mimeType": "application/pdf", "buffer": PDF}])
            await org.get_by_role("button", name="Verwendungsnachweis einreichen").click()
            await expect(org.get_by_role("status")).to_contain_text("Ihr Verwendungsnachweis ist eingereicht")
            await expect(org.locator("#antrag-stand")).to_have_text("Verwendungsnachweis in Prüfung")
            await check_screen(org, "67-nachweis-eingereicht")

            # the fund manager asks for rework (a reason is required)
            fm = await fm_ctx.new_page()
            await sign_in(fm, stack, "fundmanager")
            await nav(fm, "Verwendungsnachweise")
            await check_screen(fm, "68-verwendungsnachweise")
            await fm.get_by_role("link", name=title).click()
            await expect(fm.locator("#ausgaben")).to_contain_text("1.200,00 €")
            await expect(fm.get_by_role("link", name="rechnung.pdf")).to_be_visible()
            await check_screen(fm, "69-nachweis-pruefen")
            await fm.get_by_label("Überarbeitung erbitten").check()
            await fm.get_by_role("button", name="Prüfung speichern").click()
            await expect(fm.locator("#grund-fehler")).to_have_text("Bitte angeben, was überarbeitet werden soll.")
            await check_screen(fm, "70-nachweis-pruefen-fehler")
            await fm.get_by_label("Überarbeitung erbitten").check()
            await fm.get_by_label("Was soll überarbeitet werden?").fill("Bitte die Honorarrechnung statt der Quittung.")
            await fm.get_by_role("button", name="Prüfung speichern").click()
            await expect(fm.locator("#nachweis-stand")).to_have_text("Verwendungsnachweis: Überarbeitung erbeten")

            # the organisation sees the reason and resubmits with the receipt it uploaded already
            await org.reload()
            await expect(org.locator("#ueberarbeitung")).to_contain_text("Bitte die Honorarrechnung statt der Quittung.")
            await expect(org.get_by_label(re.compile("rechnung.pdf"))).to_be_checked()
            await check_screen(org, "71-nachweis-ueberarbeiten")
            await submit_proof(org, "1.000,00", None)
            await expect(org.get_by_role("status")).to_contain_text("Ihr Verwendungsnachweis ist eingereicht")

            # accepted, then the unspent 500 € and the undrawn 2,500 € go back to the budget, once
            await fm.reload()
            await fm.get_by_label("anerkennen").check()
            await fm.get_by_role("button", name="Prüfung speichern").click()
            await expect(fm.get_by_role("region", name="Abrechnen")).to_contain_text("500,00 €")
            await check_screen(fm, "72-nachweis-abrechnen")
            await fm.get_by_role("button", name="Nicht verausgabtes Geld zurückfordern und abrechnen").click()
            await expect(fm.get_by_role("status")).to_contain_text("Abgerechnet: 500,00 € nicht verausgabt und 2.500,00 € nicht abgerufen")
            await expect(fm.locator("#abrechnung")).to_contain_text("zurückgefordert 500,00 €")
            await check_screen(fm, "73-nachweis-abgerechnet")
            after = await discretionary(stack)
            assert after["returned_cents"] - before["returned_cents"] == 50_000
            assert after["paid_cents"] - before["paid_cents"] == 150_000
            assert after["available_cents"] - before["available_cents"] == 300_000  # of 4,000 € granted: 2,500 undrawn + 500 unspent back
        finally:
            for ctx in (org_ctx, fm_ctx, po_ctx):
                await ctx.close()
