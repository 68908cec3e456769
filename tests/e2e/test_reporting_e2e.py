"""The ABRA funder report through the real stack (issue 6 acceptance, first item).

Everything the report counts is driven through the services' HTTP APIs, no event is published by
the test: the front desk records intakes (intake); Syrian refugee families get "Soziales
Fallmanagement" cases (casework); Bulgarian and Romanian persons get ABRA clearings whose coach
publishes slots and records attendance and interviews (intake's clearing workflow), long-term
coaching opens ABRA cases (casework), one person misses every appointment; caseworkers refer clients
with documented consent and the Integration Point advisor records acknowledgement, appointment,
measure and placement (casework's referral workflow); caseworkers apply to the hardship fund for
clients of their own cases and a fund manager approves (funding). The test then generates the ESF
report (ESF funds ABRA, 000 §7 row 30) for the quarter, checks every KPI against the figures it
created (deltas in a district only this test uses, the stack being shared), renders the PDF to PNG
and reads the XLSX back."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.contracts.intake_workflows import household_clearing_workflow_id
from tests.support.eventually import eventually
from tests.support.intake import INTERVIEW, booked_clearing, publish_slots, today
from tests.support.stack import RunningStack, cli, intake_payload, person

pytestmark = pytest.mark.stack

ABRA_KPIS = ["clearings_held", "abra_families_in_coaching", "abra_individuals_in_coaching", "abra_placed_employment"]


async def figures(stack: RunningStack, period: str) -> dict[str, int]:
    async with stack.client("reporting", "reporting") as c:
        r = await c.get("/kpis", params={"period": period})
    assert r.status_code == 200, r.text
    return {k["name"]: k["value"] for k in r.json()["kpis"]}


async def by_district(stack: RunningStack, period: str, district: str) -> dict[str, int]:
    """The figures of one district, for every KPI that can be split by district."""
    async with stack.client("reporting", "reporting") as c:
        r = await c.get("/kpis", params={"period": period, "group_by": "district"})
    assert r.status_code == 200, r.text
    return {k["name"]: k["groups"].get(district, 0) for k in r.json()["kpis"] if k["groups"] is not None}


async def call(stack: RunningStack, service: str, user: str, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
    async with stack.client(service, user, timeout=30) as c:
        r = await c.request(method, path, json=body)
    assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def quiet_district(stack: RunningStack, needed: int) -> tuple[str, str]:
    """A district served by exactly one caseworker who has room for `needed` more cases and is not on
    leave, so that every case of the test goes to that caseworker (casework assigns by district with
    caps, services/casework/data/caseworkers.json); the e2e suite uses Herringen nowhere else."""
    register = await call(stack, "casework", "teamlead", "GET", "/caseworkers")
    serving: dict[str, list[dict[str, Any]]] = {}
    for cw in register:
        for d in cw["districts"]:
            serving.setdefault(d, []).append(cw)
    fitting = sorted(
        (d for d, cws in serving.items() if len(cws) == 1 and not cws[0]["on_leave"] and cws[0]["cap"] - cws[0]["caseload"] >= needed),
        key=lambda d: d != "Herringen",
    )
    assert fitting, register
    return fitting[0], serving[fitting[0]][0]["username"]


async def cases_of(stack: RunningStack, household_id: str, count: int) -> list[dict[str, Any]]:
    async def opened() -> list[dict[str, Any]]:
        cases = (await call(stack, "casework", "teamlead", "GET", f"/cases?household_id={household_id}"))["cases"]
        assert len(cases) == count, cases
        return cases

    return await eventually(opened, timeout=30, interval=0.2)


def hardship_application(case_id: str, person_id: str, amount_cents: int) -> dict[str, Any]:
    start = date.today()
    return {
        "case_id": case_id, "person_id": person_id, "amount_cents": amount_cents, "purpose": "Schulmaterial für die Seiteneinsteigerklasse",
        "purpose_category": "school_supplies", "justification": "Die Familie kann den Bedarf kurzfristig nicht decken.",
        "period_start": start.isoformat(), "period_end": (start + timedelta(days=60)).isoformat(),
        "criteria": {"legal_entitlement_elsewhere": False, "caused_by_authority_error": False, "undermines_self_reliance": False},
    }


class TestAbraFunderReport:
    async def test_esf_report_for_the_quarter_matches_what_the_test_created(self, stack: RunningStack) -> None:
        import openpyxl
        import pypdfium2 as pdfium

        now = datetime.now(UTC)
        period = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
        on = today().isoformat()  # move-in, consents, first contacts and appointments: today
        district, caseworker = await quiet_district(stack, needed=10)
        before = await by_district(stack, period, district)
        await publish_slots(stack)

        # --- front desk: three Syrian refugee families (casework), three EU households (ABRA clearing)
        families = []
        for i in range(3):
            payload = intake_payload(
                person(f"Rami{i}", "Saleh", f"1986-03-0{i + 1}", sex="male"),
                person(f"Dana{i}", "Saleh", "2016-05-05", relation="child", schooling_years=4, highest_certificate="none", consents=[]),
                district=district,
            )
            families.append(await call(stack, "intake", "frontdesk", "POST", "/intakes", payload, expect=201))
        eu = lambda given, family, nat, relation: person(given, family, "1990-01-01", nat, relation=relation, move_in_date=on,  # noqa: E731
                                                        languages=[{"code": nat.lower()}], consents=[])
        coached = [
            await call(stack, "intake", "frontdesk", "POST", "/intakes", intake_payload(
                eu("Ivan", "Petrov", "BG", "head"), eu("Vesela", "Petrova", "BG", "partner"), eu("Georgi", "Petrov", "BG", "other"), district=district,
            ), expect=201),
            await call(stack, "intake", "frontdesk", "POST", "/intakes", intake_payload(
                eu("Radu", "Marin", "RO", "head"), eu("Elena", "Marin", "RO", "partner"), eu("Sorin", "Marin", "RO", "other"), district=district,
            ), expect=201),
        ]
        absent = await call(stack, "intake", "frontdesk", "POST", "/intakes", intake_payload(eu("Dorin", "Lupu", "RO", "head"), district=district), expect=201)

        # --- ABRA coach: attendance and interview; five of six recommend long-term coaching
        cleared = [(h["household_id"], p) for h in coached for p in h["person_ids"]]
        clearings = [await booked_clearing(stack, household, pid) for household, pid in cleared]
        for h in coached:  # one clearing workflow per household
            assert await stack.fast_forward(household_clearing_workflow_id(uuid.UUID(h["intake_id"])), timedelta(days=5))
        for n, clearing in enumerate(clearings):
            await call(stack, "intake", "abra", "POST", f"/clearings/{clearing['clearing_id']}/attendance", {"attended": True})
            done = await call(stack, "intake", "abra", "POST", f"/clearings/{clearing['clearing_id']}/interview", {**INTERVIEW, "long_term_coaching": n < 5})
            assert done["status"] == "cleared"
        (no_show,) = absent["person_ids"]
        for attempt in (1, 2, 3):  # the default: rebooked twice, the third missed appointment closes it
            clearing = await booked_clearing(stack, absent["household_id"], no_show, attempt)
            assert await stack.fast_forward(household_clearing_workflow_id(uuid.UUID(absent["intake_id"])), timedelta(days=1))
            after = await call(stack, "intake", "abra", "POST", f"/clearings/{clearing['clearing_id']}/attendance", {"attended": False})
        assert after["status"] == "not_appeared"

        # --- casework: the coaching cases; consent, referral to the job centre, placed in employment
        abra_cases = [c for h, size in ((coached[0], 3), (coached[1], 2)) for c in await cases_of(stack, h["household_id"], size)]
        assert {c["programme"] for c in abra_cases} == {"ABRA"} and {c["caseworker"] for c in abra_cases} == {caseworker}
        for case in abra_cases:
            (member,) = case["member_ids"]
            await call(stack, "casework", caseworker, "POST", f"/cases/{case['case_id']}/consents",
                       {"person_id": member, "partner": "job_centre", "purpose": "referral", "given_on": on}, expect=204)
            referral = await call(stack, "casework", caseworker, "POST", f"/cases/{case['case_id']}/referrals", {"person_id": member, "partner": "job_centre"},
                                  expect=201)
            path = f"/referrals/{referral['referral_id']}"
            await call(stack, "casework", "ipadvisor", "POST", f"{path}/acknowledge")
            await call(stack, "casework", "ipadvisor", "POST", f"{path}/appointment", {"on": on})
            placed = await call(stack, "casework", "ipadvisor", "POST", f"{path}/placement", {"kind": "employment"})
            assert placed["outcome"] == "placed_employment"
        await call(stack, "casework", caseworker, "POST", f"/cases/{abra_cases[0]['case_id']}/close", {"reason": "goals_achieved"})

        # --- casework: the families' cases; first contact, plan, Integration Point referral of the adult
        family_cases = []
        for fam in families:
            (case,) = await cases_of(stack, fam["household_id"], 1)
            assert case["programme"] == "Soziales Fallmanagement" and case["caseworker"] == caseworker
            family_cases.append((case["case_id"], fam["person_ids"][0]))
        outcomes = ["training", "employment", None]
        for (case_id, adult), outcome in zip(family_cases, outcomes, strict=True):
            await call(stack, "casework", caseworker, "POST", f"/cases/{case_id}/first-contact", {"contact_on": on, "starter_pack": True})
            await call(stack, "casework", caseworker, "POST", f"/cases/{case_id}/goals",
                       {"field_of_action": 3, "title": "Arbeit", "target_date": "2027-12-31", "responsible": "partner"}, expect=201)
            await call(stack, "casework", caseworker, "POST", f"/cases/{case_id}/plan/agree",
                       {"agreed_on": on, "agreed_by_client": True, "agreed_by_caseworker": True})
            await call(stack, "casework", caseworker, "POST", f"/cases/{case_id}/consents",
                       {"person_id": adult, "partner": "integration_point", "purpose": "referral", "given_on": on}, expect=204)
            referral = await call(stack, "casework", caseworker, "POST", f"/cases/{case_id}/referrals", {"person_id": adult, "partner": "integration_point"},
                                  expect=201)
            path = f"/referrals/{referral['referral_id']}"
            await call(stack, "casework", "ipadvisor", "POST", f"{path}/acknowledge")
            await call(stack, "casework", "ipadvisor", "POST", f"{path}/appointment", {"on": on})
            await call(stack, "casework", "ipadvisor", "POST", f"{path}/measure", {"measure": "qualification"})
            if outcome:
                assert (await call(stack, "casework", "ipadvisor", "POST", f"{path}/placement", {"kind": outcome}))["outcome"] == f"placed_{outcome}"

        # --- funding: the caseworker applies for two families (CaseAssigned reached funding), a fund manager approves
        for (case_id, adult), amount in zip(family_cases[:2], (25_000, 30_000), strict=True):
            async def applied(case_id: str = case_id, adult: str = adult, amount: int = amount) -> dict[str, Any]:
                async with stack.client("funding", caseworker) as c:
                    r = await c.post("/hardship/applications", json=hardship_application(case_id, adult, amount))
                assert r.status_code == 201, r.text  # 403/422 until funding has projected the case and its caseworker
                return r.json()

            app = await eventually(applied, timeout=30, interval=0.2)
            decided = await call(stack, "funding", "fundmanager", "POST", f"/hardship/applications/{app['application_id']}/decisions", {"decision": "approve"})
            assert decided["status"] == "approved"

        # --- reporting: every KPI of the district moved by exactly what the test did
        expected = {
            "intakes_completed": 6, "persons_at_intake": 13, "arrivals": 13, "clearings_held": 6, "clearings_not_appeared": 1,
            "abra_families_in_coaching": 5, "abra_individuals_in_coaching": 5, "abra_placed_employment": 5,
            "cases_opened": 8, "cases_closed": 1, "cases_active": 8, "first_contacts_within_14_days": 3, "plans_agreed": 3, "goals_set": 3,
            "referrals_made": 8, "ip_referrals": 3, "ip_measures_offered": 3, "ip_placements": 2,
            "hardship_applications": 2, "hardship_grants": 2, "hardship_granted_cents": 55_000,
        }

        async def projected() -> None:
            got = await by_district(stack, period, district)
            delta = {k: got[k] - before.get(k, 0) for k in got}
            assert delta == {k: expected.get(k, 0) for k in delta}, {k: (delta[k], expected.get(k, 0)) for k in delta if delta[k] != expected.get(k, 0)}

        await eventually(projected, timeout=60, interval=0.5)

        # --- the ESF report of the quarter: its KPI table, PDF and XLSX carry the same figures
        total = await figures(stack, period)
        async with stack.client("reporting", "reporting", timeout=60) as c:
            r = await c.post("/reports", json={"kind": "funder", "funder": "esf", "period": period})
            assert r.status_code == 201, r.text  # generated now, not a report frozen before this test
            report = r.json()
            pdf = (await c.get(f"/reports/{report['report_id']}/files/pdf")).content
            xlsx = (await c.get(f"/reports/{report['report_id']}/files/xlsx")).content
            model = (await c.get(f"/reports/{report['report_id']}/files/json")).json()
            again = (await c.post(f"/reports/{report['report_id']}/regenerate")).json()
            explain = (await c.get("/kpis/clearings_held", params={"period": period, "explain": "true"})).json()
        after = await figures(stack, period)
        assert {k: after[k] for k in ABRA_KPIS} == {k: total[k] for k in ABRA_KPIS}, "ABRA figures moved while the report was generated"
        table = model["sections"][1]["tables"][0]
        values = {row[0]: row[2] for row in table["rows"]}
        assert values == {k: total[k] for k in ABRA_KPIS}
        assert all(total[k] >= expected[k] >= 5 for k in ABRA_KPIS)  # at or above the suppression threshold: shown, not blanked
        assert all(again["identical"].values()) and set(again["identical"]) == {"pdf", "xlsx", "csv", "json"}
        wb = openpyxl.load_workbook(io.BytesIO(xlsx))
        assert {r[0]: r[2] for r in wb[f"Kennzahlen {period}"].iter_rows(min_row=4, values_only=True)} == values
        doc = pdfium.PdfDocument(pdf)
        png = io.BytesIO()
        doc[0].render(scale=1).to_pil().save(png, format="PNG")
        assert png.getvalue().startswith(b"\x89PNG") and len(png.getvalue()) > 10_000
        text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        assert "ABRA" in text
        for k in ABRA_KPIS:
            assert k in text and str(total[k]) in text, k
        assert explain["explain"]["events"] == total["clearings_held"] and "ClearingCompleted" in explain["explain"]["query"]

    async def test_a_rebuild_from_the_streams_reproduces_the_figures(self, stack: RunningStack) -> None:
        now = datetime.now(UTC)
        period = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
        before = await figures(stack, period)
        result = cli(stack.data_dir, "reporting", "rebuild")
        assert "projections rebuilt from" in result.stdout, result.stdout + result.stderr
        assert await figures(stack, period) == before


class TestCatalogueApi:
    async def test_the_officer_edits_a_measure_and_bad_input_gets_422_naming_the_field(self, stack: RunningStack) -> None:
        async with stack.client("reporting", "reporting") as c:
            assert len((await c.get("/measures")).json()) >= 48  # the 48 of 000 §7, and any another test of this stack added
            before = (await c.get("/measures/30")).json()["fields_of_action"]
            bad = await c.patch("/measures/30", json={"fields_of_action": [3, 19]})
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "fields_of_action"
            assert (await c.get("/measures/30")).json()["fields_of_action"] == before
            ok = await c.patch("/measures/30", json={"third_party_eur": 410_000})
            assert ok.status_code == 200 and ok.json()["edited_by"] == "reporting"
            svg = await c.get("/gaps/heatmap.svg")
            assert svg.status_code == 200 and b"<svg" in svg.content
        async with stack.client("reporting", "frontdesk") as c:
            assert (await c.patch("/measures/30", json={"third_party_eur": 1})).status_code == 403


class TestDeliveryOnTheEmbeddedStack:
    async def test_a_delivered_report_lands_in_the_mail_sink_with_its_four_files(self, stack: RunningStack) -> None:
        import email
        import email.policy

        async with stack.client("reporting", "reporting") as c:
            r = await c.post("/reports", json={"kind": "funder", "funder": "mercator", "period": "2026-Q2"})
            assert r.status_code in (200, 201), r.text
            report_id = r.json()["report_id"]
            assert (await c.post(f"/reports/{report_id}/deliver")).status_code == 202

            async def delivered() -> dict[str, Any]:
                report = (await c.get(f"/reports/{report_id}")).json()
                assert report["delivered_at"] is not None
                return report

            await eventually(delivered, timeout=30)
        mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted((stack.data_dir / "mail").glob("*.eml"))]
        mine = [m for m in mails if "projekte@mercator.example" in (m["To"] or "") and "2026-Q2" in (m["Subject"] or "")]
        assert len(mine) == 1
        assert "Stiftung Mercator" in mine[0]["Subject"]  # the report's German title
        files = sorted(p.get_filename().rsplit(".", 1)[1] for p in mine[0].walk() if p.get_filename())
        assert files == ["csv", "json", "pdf", "xlsx"]
