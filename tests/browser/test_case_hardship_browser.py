"""The hardship fund from the case page in a real browser against the embedded stack (issue 14): the
caseworker opens "Härtefallfonds beantragen", sees the fund's criteria (seed 000 "Härtefallfond"),
submits an incomplete form (funding's 422 at each field, with a focused error summary), then a complete
one; the case page shows the application pending, and after the fund managers' decisions (through
funding's API) approved, paid, and another one rejected with its reason. axe-core on every screen."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_web_browser import sign_in
from tests.e2e.test_casework_scenarios import intake_case, refugee
from tests.support.browser import check_screen
from tests.support.eventually import eventually
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack
TODAY = date.today()


async def case_known_to_funding(stack: RunningStack, case_id: str) -> None:
    """Funding learns of the case from casework's events: until then an application names the case unknown."""
    async with stack.client("funding", "caseworker") as c:
        async def known() -> None:
            body = {"case_id": case_id, "person_id": str(uuid.uuid4()), "amount_cents": 100, "purpose": "x", "purpose_category": "other",
                    "justification": "x", "period_start": TODAY.isoformat(), "period_end": TODAY.isoformat(),
                    "criteria": {"legal_entitlement_elsewhere": False, "caused_by_authority_error": False, "undermines_self_reliance": False}}
            r = await c.post("/hardship/applications", json=body)
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "person_id"], r.text  # the case is known, the person not

        await eventually(known, timeout=20)


async def fund(stack: RunningStack, user: str, path: str, body: Any = None) -> None:
    async with stack.client("funding", user) as c:
        r = await c.post(path, json=body)
    assert r.status_code == 200, r.text


class TestHardshipFromTheCasePage:
    async def test_applies_and_sees_the_decision_on_the_case_page(self, page: Any, stack: RunningStack) -> None:
        case = await intake_case(stack, refugee("Lina", "1990-06-06"), refugee("Omar", "2014-03-03"), district="Mitte")
        assert case["caseworker"] == "caseworker", case
        case_id = case["case_id"]
        await case_known_to_funding(stack, case_id)
        await sign_in(page, stack, "caseworker")
        await page.goto(stack.web_url + f"/faelle/{case_id}")
        section = page.get_by_role("region", name="Härtefallfonds")
        await expect(section).to_contain_text("Noch keine Anträge an den Härtefallfonds.")
        await section.get_by_role("link", name="Härtefallfonds beantragen").click()
        await expect(page.get_by_role("heading", level=1, name="Härtefallfonds beantragen")).to_be_visible()
        criteria = page.locator("#kriterien-liste")
        await expect(criteria).to_contain_text("kein Rechtsanspruch")
        await expect(criteria).to_contain_text("fehlerhaftes Handeln einer (anderen) Behörde")
        await expect(criteria).to_contain_text("Eigenständigkeit")
        await expect(criteria).to_contain_text("klar definierten Zeitraum")
        await expect(criteria).to_contain_text("über 1.000 € entscheiden zwei Personen")
        await expect(page.locator("#budget")).to_contain_text("von 15.000,00 €")
        await check_screen(page, "65-haertefallfonds-beantragen")

        # incomplete: the amount is no amount, nothing confirmed, no purpose: each at its field
        amount = page.get_by_label("Betrag in Euro")
        await amount.fill("viel")
        await page.get_by_role("button", name="Antrag stellen").click()
        summary = page.get_by_role("alert")
        await expect(summary).to_contain_text("Der Antrag wurde nicht gestellt")
        await expect(summary).to_be_focused()
        await expect(amount).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#hf-amount-fehler")).to_contain_text("Betrag in Euro")
        await expect(page.locator("#hf-purpose-fehler")).to_contain_text("Bitte ausfüllen")
        authority = page.get_by_label("Ich bestätige: Der Bedarf ist nicht durch ein fehlerhaftes Handeln")
        await expect(authority).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#hf-caused_by_authority_error-fehler")).to_contain_text("Bitte bestätigen")
        await expect(page.locator("#hf-legal_entitlement_elsewhere-fehler")).to_contain_text("zuständige Stelle")
        await check_screen(page, "66-haertefallfonds-fehler")

        # a period beyond six months is funding's 422 at its end
        await page.get_by_label("Person", exact=True).select_option(index=1)
        await amount.fill("250")
        await page.get_by_label("Art des Bedarfs").select_option("school_supplies")
        await page.get_by_label("Zweck", exact=True).fill("Schulranzen und Material für die Seiteneinsteigerklasse")
        await page.get_by_label("Zeitraum von").fill(TODAY.isoformat())
        await page.get_by_label("Zeitraum bis").fill((TODAY + timedelta(days=250)).isoformat())
        await page.get_by_label("Begründung", exact=True).fill("Die Familie kann den Schulbedarf kurzfristig nicht decken; das Kind beginnt nächste Woche.")
        await page.get_by_label("Ich bestätige: Es besteht kein vorrangiger Rechtsanspruch").check()
        await authority.check()
        await page.get_by_label("Ich bestätige: Die Unterstützung untergräbt nicht").check()
        await page.get_by_role("button", name="Antrag stellen").click()
        await expect(page.locator("#hf-period_end-fehler")).to_contain_text("höchstens 6 Monate")
        await expect(page.get_by_label("Begründung", exact=True)).to_have_value(re.compile("Schulbedarf"))

        await page.get_by_label("Zeitraum bis").fill((TODAY + timedelta(days=60)).isoformat())
        await page.get_by_role("button", name="Antrag stellen").click()
        await expect(page.get_by_role("status")).to_contain_text("Der Antrag auf 250,00 € aus dem Härtefallfonds ist gestellt")
        rows = page.locator("#haertefall-antraege tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first.locator(".hf-stand")).to_have_text("offen: die Geschäftsführung entscheidet (0 von 1 Entscheidungen)")
        await check_screen(page, "67-fallseite-haertefall-offen")
        application_id = (await rows.first.get_attribute("id") or "").removeprefix("hf-")

        # the fund manager approves, orders the payment, the payment officer pays out
        await fund(stack, "fundmanager", f"/hardship/applications/{application_id}/decisions", {"decision": "approve"})
        await page.reload()
        await expect(rows.first.locator(".hf-stand")).to_have_text("bewilligt: 250,00 €")
        await fund(stack, "fundmanager", f"/hardship/applications/{application_id}/payment-order")
        await fund(stack, "paymentofficer", f"/hardship/applications/{application_id}/payout")
        await page.reload()
        await expect(rows.first.locator(".hf-stand")).to_have_text("ausgezahlt: 250,00 €")

        # a second application above 1,000 EUR: two deciders; rejected with its reason
        await page.get_by_role("link", name="Härtefallfonds beantragen").click()
        await page.get_by_label("Person", exact=True).select_option(index=1)
        await page.get_by_label("Betrag in Euro").fill("1.200,00")
        await page.get_by_label("Art des Bedarfs").select_option("housing")
        await page.get_by_label("Zweck", exact=True).fill("Kaution")
        await page.get_by_label("Zeitraum von").fill(TODAY.isoformat())
        await page.get_by_label("Zeitraum bis").fill((TODAY + timedelta(days=30)).isoformat())
        await page.get_by_label("Begründung", exact=True).fill("Wohnungswechsel")
        for label in ("Es besteht kein vorrangiger Rechtsanspruch", "Der Bedarf ist nicht durch", "Die Unterstützung untergräbt nicht"):
            await page.get_by_label(f"Ich bestätige: {label}").check()
        await page.get_by_role("button", name="Antrag stellen").click()
        await expect(rows).to_have_count(2)
        newest = rows.first
        await expect(newest.locator(".hf-stand")).to_have_text("offen: die Geschäftsführung entscheidet (0 von 2 Entscheidungen)")
        second_id = (await newest.get_attribute("id") or "").removeprefix("hf-")
        await fund(stack, "fundmanager2", f"/hardship/applications/{second_id}/decisions", {"decision": "reject", "reason": "undermines_self_reliance"})
        await page.reload()
        await expect(newest.locator(".hf-stand")).to_have_text("abgelehnt: würde die Selbsthilfe untergraben")
        await expect(rows.nth(1).locator(".hf-stand")).to_have_text("ausgezahlt: 250,00 €")
        await check_screen(page, "68-fallseite-haertefall-entschieden")

    async def test_another_caseworker_sees_neither_the_section_nor_the_form_of_a_case_not_theirs(self, page: Any, stack: RunningStack) -> None:
        case = await intake_case(stack, refugee("Aras", "1991-01-01"), district="Mitte")
        await sign_in(page, stack, "caseworker3")
        response = await page.goto(stack.web_url + f"/faelle/{case['case_id']}/haertefallfonds")
        assert response is not None and response.status == 403
        await expect(page.get_by_role("heading", level=1)).to_have_text("Kein Zugriff auf diesen Fall")
