"""Referrals to partners other than the Integration Point, and the Integration Point's handover,
through the embedded stack (issue 14). Deadlines are fast-forwarded on the stack's Temporal server
(time skipping), never waited for.

- A Kita has no account: the caseworker records its answer (waiting list), and the referral does not
  escalate on day 5 nor on day 20; the place offered later closes it. Before issue 14 there was no way
  to record any step for a Kita, so every such referral escalated twice.
- A language course provider signs in (role referral_partner, claim partner=language_course), sees
  only its own referrals and records its steps; a caseworker cannot record them for it.
- The Integration Point advisor gets the person's name, address and languages from intake and the
  caseworker's note from casework only with the person's consent to the data exchange; otherwise ids
  only. Every read is in the owning service's audit log, no name in any event."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from services.contracts.events import ConsentGiven, IntakeCompleted, IntakeCorrected
from services.contracts.vocab import Partner, Purpose, ResidenceStatus
from tests.e2e.test_casework_scenarios import TODAY, intake_case, outbox, profile, publish, refugee
from tests.support.eventually import eventually
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


def _audit(stack: RunningStack, service: str, record_type: str, record_id: str) -> list[tuple[str, str, str]]:
    with sqlite3.connect(stack.data_dir / f"{service}.db") as conn:
        rows = conn.execute("SELECT actor, action, outcome FROM audit_log WHERE record_type = ? AND record_id = ? ORDER BY id",
                            (record_type, record_id)).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


async def _refer(stack: RunningStack, case_id: str, person_id: str, partner: str, note: str | None = None, data_exchange: bool = False) -> str:
    async with stack.client("casework", "caseworker") as cw:
        for purpose in ("referral", "data_exchange") if data_exchange else ("referral",):
            r = await cw.post(f"/cases/{case_id}/consents", json={"person_id": person_id, "partner": partner, "purpose": purpose, "given_on": TODAY})
            assert r.status_code == 204, r.text
        r = await cw.post(f"/cases/{case_id}/referrals", json={"person_id": person_id, "partner": partner, "note": note})
        assert r.status_code == 201, r.text
        return r.json()["referral_id"]


async def adult_and_child(stack: RunningStack, case: dict[str, Any]) -> tuple[str, str]:
    """The household's adult and child by their intake record (the case lists members by id only)."""
    async with stack.client("intake", "caseworker") as c:
        persons = (await c.get(f"/intakes/{case['intake_id']}")).json()["persons"]
    adults = [p["person_id"] for p in persons if p["derived"]["adult"]]
    children = [p["person_id"] for p in persons if not p["derived"]["adult"]]
    assert len(adults) == 1 and len(children) == 1
    return adults[0], children[0]


class TestKitaAnsweredByTheCaseworker:
    async def test_a_kita_referral_answered_by_the_caseworker_does_not_escalate_and_closes_with_the_place(self, stack: RunningStack) -> None:
        case = await intake_case(stack, refugee("Samir", "1990-05-05"), refugee("Lina", "2023-03-01") | {"relation": "child"}, district="Mitte")
        case_id, (_, child) = case["case_id"], await adult_and_child(stack, case)
        referral_id = await _refer(stack, case_id, child, "daycare")
        async with stack.client("casework", "caseworker") as cw:
            path = f"/cases/{case_id}/referrals/{referral_id}/answers"
            r = await cw.post(path, json={"step": "enrolled"})  # a language course's step, not a Kita's
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "step"], r.text
            r = await cw.post(path, json={"step": "place_offered"})  # a place needs its start date
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "on"], r.text
            r = await cw.post(path, json={"step": "waiting_list"})
            assert r.status_code == 200, r.text
            assert (r.json()["latest_step"], r.json()["acknowledged_on"], r.json()["status"]) == ("waiting_list", TODAY, "open")
        assert await stack.fast_forward(f"referral-{referral_id}", timedelta(days=10))  # beyond 5 working days
        assert await stack.fast_forward(f"referral-{referral_id}", timedelta(days=30))  # beyond 20 working days
        start = (date.today() + timedelta(days=60)).isoformat()
        async with stack.client("casework", "caseworker") as cw:
            r = await cw.post(f"/cases/{case_id}/referrals/{referral_id}/answers", json={"step": "place_offered", "on": start})
            assert r.status_code == 200, r.text
            assert (r.json()["status"], r.json()["outcome"], r.json()["outcome_on"]) == ("closed", "place_offered", start)
        temporal = await stack.temporal()
        assert await temporal.get_workflow_handle(f"referral-{referral_id}").result() == "closed"  # every deadline has passed
        assert outbox(stack, "ReferralEscalated", referral_id=referral_id) == []
        steps = [e["step"] for e in outbox(stack, "ReferralStepRecorded", referral_id=referral_id)]
        assert steps == ["waiting_list", "place_offered"]
        assert outbox(stack, "ReferralClosed", referral_id=referral_id)[0]["outcome"] == "place_offered"


class TestLanguageCourseSignsIn:
    async def test_the_provider_sees_only_its_referrals_and_records_its_steps(self, stack: RunningStack) -> None:
        case = await intake_case(stack, refugee("Omar", "1985-02-02"), refugee("Rana", "2023-06-01") | {"relation": "child"}, district="Mitte")
        case_id, (adult, child) = case["case_id"], await adult_and_child(stack, case)
        course = await _refer(stack, case_id, adult, "language_course")
        kita = await _refer(stack, case_id, child, "daycare")
        async with stack.client("casework", "caseworker") as cw:
            r = await cw.post(f"/cases/{case_id}/referrals/{course}/answers", json={"step": "acknowledged"})
            assert r.status_code == 409, r.text  # the provider records its own steps
        async with stack.client("casework", "sprachkurs") as sk:
            mine = [x["referral_id"] for x in (await sk.get("/partner-referrals")).json()]
            assert course in mine and kita not in mine
            assert (await sk.get(f"/partner-referrals/{kita}")).status_code == 404
            assert (await sk.post(f"/partner-referrals/{kita}/steps", json={"step": "acknowledged"})).status_code == 404
            r = await sk.post(f"/partner-referrals/{course}/steps", json={"step": "waiting_list"})
            assert r.status_code == 409, r.text  # acknowledge first
            assert (await sk.post(f"/partner-referrals/{course}/steps", json={"step": "acknowledged"})).status_code == 200
            r = await sk.post(f"/partner-referrals/{course}/steps", json={"step": "enrolled"})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "on"]
            start = (date.today() + timedelta(days=14)).isoformat()
            r = await sk.post(f"/partner-referrals/{course}/steps", json={"step": "enrolled", "on": start})
            assert r.status_code == 200, r.text
            assert (r.json()["status"], r.json()["outcome"], r.json()["outcome_on"]) == ("closed", "enrolled", start)
            assert course not in [x["referral_id"] for x in (await sk.get("/partner-referrals")).json()]
        async with stack.client("casework", "migberatung") as mb:
            assert (await mb.get(f"/partner-referrals/{course}")).status_code == 404  # another organisation's referral
        assert [e["step"] for e in outbox(stack, "ReferralStepRecorded", referral_id=course)] == ["acknowledged", "enrolled"]


def _woman(given: str, consents: list[dict[str, str]]) -> dict[str, Any]:
    return refugee(given, "1991-07-07") | {"languages": [{"code": "ar"}, {"code": "en", "level": "B1"}], "consents": consents}


async def agreed_and_not(stack: RunningStack, case_id: str) -> tuple[str, str]:
    """(the member who agreed to the data exchange with the Integration Point, the one who did not),
    from casework's consent register (the case lists its members by id, not in the intake's order)."""
    async with stack.client("casework", "caseworker") as cw:
        register = (await cw.get(f"/cases/{case_id}/consents")).json()
    agreed = {c["person_id"] for c in register if (c["partner"], c["purpose"]) == ("integration_point", "data_exchange")}
    members = {c["person_id"] for c in register if c["partner"] == "integration_point"}
    assert len(agreed) == 1 and len(members) == 2, register
    (other,) = members - agreed
    (person,) = agreed
    return person, other


class TestIntegrationPointHandover:
    async def test_with_the_data_exchange_consent_the_advisor_sees_name_languages_and_note_without_it_ids_only(self, stack: RunningStack) -> None:
        agreed = [{"partner": "integration_point", "purpose": p, "given_on": "2026-11-02"} for p in ("referral", "data_exchange")]
        only_referral = [{"partner": "integration_point", "purpose": "referral", "given_on": "2026-11-02"}]
        case = await intake_case(stack, _woman("Amal", agreed), _woman("Huda", only_referral) | {"relation": "partner"}, district="Mitte")
        case_id = case["case_id"]
        amal, huda = await agreed_and_not(stack, case_id)
        async with stack.client("casework", "caseworker") as cw:
            r = await cw.post(f"/cases/{case_id}/referrals", json={"person_id": amal, "partner": "integration_point", "note": "Pflegehelferin, sucht Teilzeit"})
            assert r.status_code == 201, r.text
            with_consent = r.json()["referral_id"]
            r = await cw.post(f"/cases/{case_id}/referrals", json={"person_id": huda, "partner": "integration_point", "note": "Vertraulicher Vermerk"})
            assert r.status_code == 201, r.text
            without = r.json()["referral_id"]
        async with stack.client("casework", "ipadvisor") as ip:
            h = (await ip.get(f"/referrals/{with_consent}/handover")).json()
            assert (h["consent"], h["note"], h["history"]) == (True, "Pflegehelferin, sucht Teilzeit", None)
            h = (await ip.get(f"/referrals/{without}/handover")).json()
            assert (h["consent"], h["note"], h["referral"]["person_id"]) == (False, None, huda)
        async with stack.client("intake", "ipadvisor") as ip:
            async def disclosed() -> dict[str, Any]:
                r = await ip.get(f"/referrals/{with_consent}/person")
                assert r.status_code == 200 and r.json()["consent"] is True, r.text
                return r.json()

            person = await eventually(disclosed, timeout=15)
            assert (person["given_name"], person["family_name"], person["person_id"]) == ("Amal", "Haddad", amal)
            assert [lang["code"] for lang in person["languages"]] == ["ar", "en"]
            r = (await ip.get(f"/referrals/{without}/person")).json()
            assert (r["consent"], r["given_name"], r["languages"], r["person_id"]) == (False, None, None, huda)
        async with stack.client("intake", "caseworker") as cw:
            assert (await cw.get(f"/referrals/{with_consent}/person")).status_code == 403
        assert _audit(stack, "intake", "person_handover", with_consent)[-1] == ("ipadvisor", "read", "ok")
        assert _audit(stack, "intake", "person_handover", without)[-1] == ("ipadvisor", "read", "no_consent")
        assert _audit(stack, "casework", "referral_handover", with_consent) == [("ipadvisor", "read", "ok")]
        assert _audit(stack, "casework", "referral_handover", without) == [("ipadvisor", "read", "no_consent")]
        with sqlite3.connect(stack.data_dir / "casework.db") as conn:
            payloads = " ".join(r[0] for r in conn.execute("SELECT payload FROM outbox").fetchall())
        assert "Amal" not in payloads and "Pflegehelferin" not in payloads

        async with stack.client("casework", "caseworker") as cw:  # withdrawing the data exchange ends the handover
            r = await cw.post(f"/cases/{case_id}/consents/withdraw", json={"person_id": amal, "partner": "integration_point", "purpose": "data_exchange"})
            assert r.json() == {"referrals_cancelled": 0}
        async with stack.client("intake", "ipadvisor") as ip:
            async def withheld() -> None:
                assert (await ip.get(f"/referrals/{with_consent}/person")).json()["consent"] is False

            await eventually(withheld, timeout=15)

    async def test_after_a_change_of_legal_regime_the_counselling_history_is_handed_over(self, stack: RunningStack) -> None:
        intake_id, household_id, person_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        consents = (ConsentGiven(partner=Partner.EMPLOYMENT_AGENCY, purpose=Purpose.REFERRAL, given_on=date.today()),
                    ConsentGiven(partner=Partner.INTEGRATION_POINT, purpose=Purpose.DATA_EXCHANGE, given_on=date.today()))
        await publish(stack, IntakeCompleted(
            tenant="hamm", correlation_id=intake_id, intake_id=intake_id, household_id=household_id, district="Mitte",
            move_in_date=date.today(), persons=[profile(person_id, ResidenceStatus.ASYLUM_SEEKER, consents=consents)],
        ))
        async with stack.client("casework", "teamlead") as lead:
            async def opened() -> str:
                cases = (await lead.get("/cases", params={"intake_id": str(intake_id)})).json()["cases"]
                assert len(cases) == 1
                return cases[0]["case_id"]

            case_id = await eventually(opened, timeout=10)
        async with stack.client("casework", "caseworker") as cw:
            referral_id = (await cw.post(f"/cases/{case_id}/referrals",
                                         json={"person_id": str(person_id), "partner": "employment_agency"})).json()["referral_id"]
        async with stack.client("casework", "ipadvisor") as ip:
            await ip.post(f"/referrals/{referral_id}/acknowledge")
            await ip.post(f"/referrals/{referral_id}/appointment", json={"on": TODAY})
            await ip.post(f"/referrals/{referral_id}/profiling")
            await ip.post(f"/referrals/{referral_id}/measure", json={"measure": "job_language_course"})
            assert (await ip.get(f"/referrals/{referral_id}/handover")).json()["history"] is None  # no change of regime yet
        await publish(stack, IntakeCorrected(
            tenant="hamm", correlation_id=intake_id, intake_id=intake_id, household_id=household_id, correction_no=1, district="Mitte",
            move_in_date=date.today(), persons=[profile(person_id, ResidenceStatus.RECOGNISED_REFUGEE, consents=consents)],
            changed_fields=["residence_status"],
        ))
        async with stack.client("casework", "ipadvisor") as ip:
            async def handed_over() -> dict[str, Any]:
                h = (await ip.get(f"/referrals/{referral_id}/handover")).json()
                assert h["referral"]["partner"] == "job_centre" and h["history"] is not None
                return h

            h = await eventually(handed_over, timeout=10)
        assert h["consent"] is True
        assert [(s["step"], s["partner"]) for s in h["history"]] == [
            ("acknowledged", "employment_agency"), ("appointment_booked", "employment_agency"), ("profiled", "employment_agency"),
            ("measure_offered", "employment_agency"), ("handed_over", "job_centre"),
        ]
        assert h["history"][3]["measure"] == "job_language_course"
        assert json.dumps(h).count("Haddad") == 0
