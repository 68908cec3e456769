"""Casework scenarios through the embedded stack (issue 4 acceptance): a refugee family from intake to
closure; a case queued while every caseworker of its district is full; an Integration Point referral
acknowledged late and ending in a placement; a referral refused without consent; a change of legal
regime mid-referral; first-contact escalation. Deadlines are fast-forwarded on the stack's Temporal
server (time skipping), never waited for."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from services.contracts.events import ConsentGiven, Event, IntakeCompleted, IntakeCorrected, PersonProfile
from services.contracts.vocab import AgeGroup, Partner, Prospect, Purpose, ResidenceStatus, Route, Sex
from services.contracts.workdays import city_today
from tests.support.events import publish_events
from tests.support.eventually import eventually
from tests.support.stack import RunningStack, intake_payload, person

pytestmark = pytest.mark.stack
TODAY = city_today().isoformat()


def refugee(given: str, born: str) -> dict[str, Any]:
    return person(given=given, family="Haddad", born=born, nationality="SY", residence_status="recognised_refugee")


async def intake_case(stack: RunningStack, *persons: dict[str, Any], district: str) -> dict[str, Any]:
    async with stack.client("intake", "frontdesk") as c:
        r = await c.post("/intakes", json=intake_payload(*persons, district=district))
        assert r.status_code == 201, r.text
        intake_id = r.json()["intake_id"]
    async with stack.client("casework", "teamlead") as c:
        async def opened() -> dict[str, Any]:
            cases = (await c.get("/cases", params={"intake_id": intake_id})).json()["cases"]
            assert len(cases) == 1
            return cases[0]

        return await eventually(opened, timeout=10)


def outbox(stack: RunningStack, event_type: str, **match: Any) -> list[dict[str, Any]]:
    with sqlite3.connect(stack.data_dir / "casework.db") as conn:
        rows = conn.execute("SELECT payload FROM outbox WHERE event_type = ? ORDER BY seq", (event_type,)).fetchall()
    events = [json.loads(r[0]) for r in rows]
    return [e for e in events if all(e.get(k) == v for k, v in match.items())]


async def alerts(stack: RunningStack, user: str, subject_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    async with stack.client("casework", user) as c:
        r = await c.get("/alerts", params={"subject_id": subject_id})
    assert r.status_code == 200, r.text
    return [a for a in r.json() if kind is None or a["kind"] == kind]


async def publish(stack: RunningStack, event: Event) -> None:
    await publish_events(stack.redis_url, [event])


class TestRefugeeFamily:
    async def test_assigned_by_district_first_contact_plan_two_reviews_and_closure(self, stack: RunningStack) -> None:
        case = await intake_case(stack, refugee("Amal", "1985-03-01"), refugee("Omar", "1983-07-12"), refugee("Lina", "2015-09-30"), district="Mitte")
        case_id = case["case_id"]
        assert case["caseworker"] == "caseworker"  # the only caseworker of Mitte
        assert len(case["member_ids"]) == 3
        assert outbox(stack, "CaseAssigned", case_id=case_id)[0]["reason"] == "initial"
        async with stack.client("casework", "caseworker2") as other:
            assert (await other.get(f"/cases/{case_id}/timeline")).status_code == 403

        async with stack.client("casework", "caseworker") as cw:
            r = await cw.post(f"/cases/{case_id}/first-contact", json={"contact_on": TODAY, "starter_pack": True})
            assert r.status_code == 200, r.text
            assert r.json()["phase"] == "planning"
            assert (await cw.post(f"/cases/{case_id}/first-contact", json={"contact_on": TODAY, "starter_pack": True})).status_code == 409
            assert (await cw.post(f"/cases/{case_id}/plan/resource-check", json={"answers": {"housing": "stable", "childcare": "needed"}})).status_code == 204
            assert (await cw.post(f"/cases/{case_id}/contacts",
                                  json={"contact_on": TODAY, "kind": "home_visit", "note": "Kita-Anmeldung besprochen"})).status_code == 204
            bad = await cw.post(f"/cases/{case_id}/contacts", json={"contact_on": "2999-01-01", "kind": "phone"})
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "contact_on"]
            goals = []
            for field, title, who in ((1, "Deutschkurs B1", "client"), (3, "Arbeitsaufnahme", "partner"), (2, "Schulplatz Lina", "caseworker")):
                r = await cw.post(f"/cases/{case_id}/goals", json={"field_of_action": field, "title": title, "target_date": "2027-06-30", "responsible": who})
                assert r.status_code == 201, r.text
                goals.append(r.json()["goal_id"])
            r = await cw.patch(f"/cases/{case_id}/goals/{goals[0]}", json={"target_date": "2027-09-30"})
            assert r.json()["revision"] == 2
            assert len((await cw.get(f"/cases/{case_id}/goals/{goals[0]}/revisions")).json()) == 2
            r = await cw.post(f"/cases/{case_id}/plan/agree", json={"agreed_on": TODAY, "agreed_by_client": True, "agreed_by_caseworker": True})
            assert r.status_code == 200, r.text
            assert (await cw.get(f"/cases/{case_id}")).json()["phase"] == "integration"

            workflow_id = f"review-cycle-{case_id}"
            for cycle, results in ((1, ["partly", "partly", "achieved"]), (2, ["achieved", "achieved", "achieved"])):
                assert await stack.fast_forward(workflow_id, timedelta(days=91 if cycle == 1 else 90))

                async def due() -> None:
                    worklist = (await cw.get("/worklist")).json()
                    assert any(x["case_id"] == case_id and x["cycle"] == cycle for x in worklist["reviews_due"] + worklist["reviews_overdue"])  # noqa: B023 (awaited in this iteration)

                await eventually(due, timeout=20)
                r = await cw.post(f"/cases/{case_id}/reviews", json={
                    "cycle": cycle, "goals": [{"goal_id": g, "result": res} for g, res in zip(goals[:3], results, strict=True)],
                    "measures": [{"measure": "integration_course", "caseworker_rating": 4, "client_rating": 5}],
                })
                assert r.status_code == 200, r.text
            completed = outbox(stack, "ReviewCompleted", case_id=case_id)
            assert [(e["cycle"], e["achieved"], e["partly"]) for e in completed] == [(1, 1, 2), (2, 3, 0)]
            assert (await cw.get(f"/cases/{case_id}")).json()["phase"] == "implementation_review"

            r = await cw.post(f"/cases/{case_id}/close", json={"reason": "goals_achieved"})
            assert r.status_code == 200, r.text
            assert r.json()["phase"] == "closed"
            timeline = (await cw.get(f"/cases/{case_id}/timeline")).json()

        kinds = [e["kind"] for e in timeline]
        for expected in ("opened", "assigned", "first_contact", "resource_check", "contact", "goal_set", "plan_agreed", "review_due", "review_completed",
                         "closed"):
            assert expected in kinds, kinds
        assert kinds.index("first_contact") < kinds.index("plan_agreed") < kinds.index("review_completed") < kinds.index("closed")
        assert outbox(stack, "CaseClosed", case_id=case_id)[0]["reason"] == "goals_achieved"
        client = await stack.temporal()

        async def ended() -> None:
            assert (await client.get_workflow_handle(workflow_id).describe()).status == WorkflowExecutionStatus.COMPLETED

        await eventually(ended, timeout=20)
        with sqlite3.connect(stack.data_dir / "casework.db") as conn:
            audited = conn.execute("SELECT count(*) FROM audit_log WHERE record_type='case_timeline' AND record_id=? AND actor='caseworker'",
                                   (case_id,)).fetchone()[0]
        assert audited == 1


class TestFirstContactDeadline:
    async def test_reminder_and_escalation_to_the_team_lead_then_resolved_by_the_first_contact(self, stack: RunningStack) -> None:
        """The order (reminder on day 10, escalation on day 14) is asserted in
        tests/integration/test_case_onboarding.py; here both reach the work lists through the stack."""
        case = await intake_case(stack, refugee("Samir", "1990-01-01"), district="Mitte")
        case_id = case["case_id"]
        assert await stack.fast_forward(f"review-cycle-{case_id}", timedelta(days=15))  # the case's workflow runs its first contact
        await eventually(lambda: _expect(alerts(stack, "teamlead", case_id, "first_contact_overdue"), 1), timeout=20)
        reminders = await alerts(stack, "caseworker", case_id, "first_contact_reminder")
        assert [(a["role"], a["assignee"]) for a in reminders] == [("caseworker", "caseworker")]
        assert outbox(stack, "CaseEscalated", case_id=case_id, kind="first_contact_overdue") != []
        async with stack.client("casework", "teamlead") as lead:
            worklist = (await lead.get("/worklist")).json()
        assert case_id in [a["subject_id"] for a in worklist["escalations"]]
        async with stack.client("casework", "caseworker") as cw:
            r = await cw.post(f"/cases/{case_id}/first-contact", json={"contact_on": TODAY, "starter_pack": False})
            assert r.status_code == 200, r.text
        assert await alerts(stack, "teamlead", case_id, "first_contact_overdue") == []  # resolved


async def _expect(coro, n: int) -> None:  # type: ignore[no-untyped-def]
    assert len(await coro) == n


class TestFullCaseload:
    async def test_queued_with_team_lead_alert_and_assigned_when_a_case_closes(self, stack: RunningStack) -> None:
        async with stack.client("casework", "teamlead") as lead:
            cw3 = next(c for c in (await lead.get("/caseworkers")).json() if c["username"] == "caseworker3")
            r = await lead.patch("/caseworkers/caseworker3", json={"cap": cw3["caseload"] + 1})
            assert r.status_code == 200, r.text
        first = await intake_case(stack, refugee("Hamid", "1980-02-02"), district="Uentrop")
        assert first["caseworker"] == "caseworker3"
        second = await intake_case(stack, refugee("Rana", "1992-05-05"), district="Uentrop")
        assert second["caseworker"] is None and second["queued"] is True
        assert outbox(stack, "CaseQueued", case_id=second["case_id"])[0]["district"] == "Uentrop"
        queued_alerts = await alerts(stack, "teamlead", second["case_id"], "caseload_full")
        assert [a["role"] for a in queued_alerts] == ["team_lead"]

        async with stack.client("casework", "caseworker3") as cw:
            r = await cw.post(f"/cases/{first['case_id']}/close", json={"reason": "moved_away"})
            assert r.status_code == 200, r.text
        async with stack.client("casework", "teamlead") as lead:
            now = (await lead.get(f"/cases/{second['case_id']}")).json()
            assert now["caseworker"] == "caseworker3" and now["queued"] is False
            history = (await lead.get(f"/cases/{second['case_id']}/assignments")).json()
            assert [(h["caseworker"], h["reason"]) for h in history] == [("caseworker3", "from_queue")]
            loads = {c["username"]: c for c in (await lead.get("/caseworkers")).json()}
            assert loads["caseworker3"]["caseload"] == loads["caseworker3"]["cap"]
        assert outbox(stack, "CaseAssigned", case_id=second["case_id"])[0]["reason"] == "from_queue"
        assert await alerts(stack, "teamlead", second["case_id"], "caseload_full") == []


async def planned_case(stack: RunningStack, district: str = "Mitte") -> tuple[str, str, str]:
    """A family case with first contact, a work goal and an agreed plan; returns (case, adult, work goal)."""
    case = await intake_case(stack, refugee("Yusuf", "1988-08-08"), refugee("Mira", "2018-01-01"), district=district)
    case_id = case["case_id"]
    async with stack.client("casework", "caseworker") as cw:
        assert (await cw.post(f"/cases/{case_id}/first-contact", json={"contact_on": TODAY, "starter_pack": True})).status_code == 200
        goal = (await cw.post(f"/cases/{case_id}/goals",
                              json={"field_of_action": 3, "title": "Arbeit", "target_date": "2027-12-31", "responsible": "partner"})).json()
        assert (await cw.post(f"/cases/{case_id}/plan/agree",
                              json={"agreed_on": TODAY, "agreed_by_client": True, "agreed_by_caseworker": True})).status_code == 200
        consents = []
        adult = None
        for member in case["member_ids"]:
            r = await cw.post(f"/cases/{case_id}/referrals", json={"person_id": member, "partner": "integration_point"})
            consents.append(r.status_code)
            if r.status_code == 422 and "Einwilligung" in r.text:
                adult = member
    assert adult is not None, consents
    return case_id, adult, goal["goal_id"]


class TestIntegrationPointReferral:
    async def test_refused_without_consent_with_the_reason_and_nothing_changes(self, stack: RunningStack) -> None:
        case_id, adult, _ = await planned_case(stack)
        async with stack.client("casework", "caseworker") as cw:
            r = await cw.post(f"/cases/{case_id}/referrals", json={"person_id": adult, "partner": "integration_point", "purpose": "referral"})
            assert r.status_code == 422
            detail = r.json()["detail"][0]
            assert detail["loc"] == ["body", "partner"]
            assert "Einwilligung" in detail["msg"]
            assert (await cw.get(f"/cases/{case_id}/referrals")).json() == []
        assert outbox(stack, "ReferralMade", case_id=case_id) == []

    async def test_acknowledged_late_escalates_and_a_placement_achieves_the_work_goal(self, stack: RunningStack) -> None:
        case_id, adult, work_goal = await planned_case(stack)
        async with stack.client("casework", "caseworker") as cw:
            assert (await cw.post(f"/cases/{case_id}/consents",
                                  json={"person_id": adult, "partner": "integration_point", "purpose": "referral", "given_on": TODAY})).status_code == 204
            r = await cw.post(f"/cases/{case_id}/referrals", json={"person_id": adult, "partner": "integration_point"})
            assert r.status_code == 201, r.text
            referral_id = r.json()["referral_id"]
        assert await stack.fast_forward(f"referral-{referral_id}", timedelta(days=10))
        await eventually(lambda: _expect(alerts(stack, "teamlead", referral_id, "referral_acknowledgement_overdue"), 1), timeout=20)
        assert outbox(stack, "ReferralEscalated", referral_id=referral_id, breach="acknowledgement") != []

        async with stack.client("casework", "ipadvisor") as ip:
            assert referral_id in [x["referral_id"] for x in (await ip.get("/referrals")).json()]
            assert (await ip.post(f"/referrals/{referral_id}/profiling")).status_code == 409  # not acknowledged yet
            assert (await ip.post(f"/referrals/{referral_id}/acknowledge")).status_code == 200
            r = await ip.post(f"/referrals/{referral_id}/appointment", json={"on": (city_today() + timedelta(days=3)).isoformat()})
            assert r.status_code == 200, r.text
            assert (await ip.post(f"/referrals/{referral_id}/profiling")).status_code == 200
            r = await ip.post(f"/referrals/{referral_id}/measure", json={"measure": "yoga"})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "measure"]
            assert (await ip.post(f"/referrals/{referral_id}/measure", json={"measure": "eq_plus_language"})).status_code == 200
            r = await ip.post(f"/referrals/{referral_id}/placement", json={"kind": "employment"})
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "closed" and r.json()["outcome"] == "placed_employment"
        steps = [e["step"] for e in outbox(stack, "ReferralStepRecorded", referral_id=referral_id)]
        assert steps == ["acknowledged", "appointment_booked", "profiled", "measure_offered", "placed_employment"]
        assert outbox(stack, "ReferralClosed", referral_id=referral_id)[0]["outcome"] == "placed_employment"
        async with stack.client("casework", "caseworker") as cw:
            plan = (await cw.get(f"/cases/{case_id}/plan")).json()
        assert {g["goal_id"]: g["status"] for g in plan["goals"]}[work_goal] == "achieved"
        assert await alerts(stack, "teamlead", referral_id, "referral_acknowledgement_overdue") == []

    async def test_withdrawn_consent_cancels_the_open_referral(self, stack: RunningStack) -> None:
        case_id, adult, _ = await planned_case(stack)
        async with stack.client("casework", "caseworker") as cw:
            await cw.post(f"/cases/{case_id}/consents", json={"person_id": adult, "partner": "integration_point", "purpose": "referral", "given_on": TODAY})
            referral_id = (await cw.post(f"/cases/{case_id}/referrals", json={"person_id": adult, "partner": "integration_point"})).json()["referral_id"]
            r = await cw.post(f"/cases/{case_id}/consents/withdraw", json={"person_id": adult, "partner": "integration_point"})
            assert r.json() == {"referrals_cancelled": 1}
            assert (await cw.get(f"/cases/{case_id}/referrals")).json()[0]["outcome"] == "consent_withdrawn"
        assert outbox(stack, "ReferralClosed", referral_id=referral_id)[0]["outcome"] == "consent_withdrawn"
        async with stack.client("casework", "ipadvisor") as ip:
            assert (await ip.post(f"/referrals/{referral_id}/acknowledge")).status_code == 409


def profile(person_id: uuid.UUID, status: ResidenceStatus, *, consents: tuple[ConsentGiven, ...] = ()) -> PersonProfile:
    return PersonProfile(
        person_id=person_id, adult=True, age_group=AgeGroup.AGE_25_44, sex=Sex.MALE, residence_status=status, prospect=Prospect.GOOD,
        employable=True, routes=[Route.CASEWORK], german_level="A1", languages=["ar"], consents=list(consents),
    )


class TestChangeOfLegalRegime:
    async def test_asylum_recognised_hands_the_agency_referral_to_the_job_centre_with_its_history_and_measure(self, stack: RunningStack) -> None:
        intake_id, household_id, person_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        consent = ConsentGiven(partner=Partner.EMPLOYMENT_AGENCY, purpose=Purpose.REFERRAL, given_on=city_today())
        await publish(stack, IntakeCompleted(
            tenant="hamm", correlation_id=intake_id, intake_id=intake_id, household_id=household_id, district="Mitte",
            move_in_date=city_today(), persons=[profile(person_id, ResidenceStatus.ASYLUM_SEEKER, consents=(consent,))],
        ))
        async with stack.client("casework", "teamlead") as lead:
            async def opened() -> str:
                cases = (await lead.get("/cases", params={"intake_id": str(intake_id)})).json()["cases"]
                assert len(cases) == 1
                return cases[0]["case_id"]

            case_id = await eventually(opened, timeout=10)
        async with stack.client("casework", "caseworker") as cw:
            consents = (await cw.get(f"/cases/{case_id}/consents")).json()
            assert [(c["partner"], c["source"]) for c in consents] == [("employment_agency", "intake")]
            r = await cw.post(f"/cases/{case_id}/referrals", json={"person_id": str(person_id), "partner": "employment_agency"})
            assert r.status_code == 201, r.text
            referral_id = r.json()["referral_id"]
        async with stack.client("casework", "ipadvisor") as ip:
            await ip.post(f"/referrals/{referral_id}/acknowledge")
            await ip.post(f"/referrals/{referral_id}/appointment", json={"on": TODAY})
            await ip.post(f"/referrals/{referral_id}/profiling")
            assert (await ip.post(f"/referrals/{referral_id}/measure", json={"measure": "job_language_course"})).status_code == 200

        await publish(stack, IntakeCorrected(
            tenant="hamm", correlation_id=intake_id, intake_id=intake_id, household_id=household_id, correction_no=1, district="Mitte",
            move_in_date=city_today(), persons=[profile(person_id, ResidenceStatus.RECOGNISED_REFUGEE, consents=(consent,))],
            changed_fields=["residence_status"],
        ))

        async def handed_over() -> dict[str, Any]:
            async with stack.client("casework", "caseworker") as cw:
                referral = (await cw.get(f"/cases/{case_id}/referrals")).json()[0]
            assert referral["partner"] == "job_centre"
            return referral

        referral = await eventually(handed_over, timeout=10)
        assert referral["handed_over_from"] == "employment_agency"
        assert referral["status"] == "open" and referral["measure"] == "job_language_course"
        assert outbox(stack, "ReferralHandedOver", referral_id=referral_id)[0]["to_partner"] == "job_centre"
        steps = [e["step"] for e in outbox(stack, "ReferralStepRecorded", referral_id=referral_id)]
        assert steps == ["acknowledged", "appointment_booked", "profiled", "measure_offered", "handed_over"]
        async with stack.client("casework", "ipadvisor") as ip:
            r = await ip.post(f"/referrals/{referral_id}/placement", json={"kind": "training"})
            assert r.status_code == 200, r.text
        assert outbox(stack, "ReferralClosed", referral_id=referral_id)[0]["partner"] == "job_centre"


class TestAbraCoaching:
    async def test_a_clearing_with_long_term_coaching_opens_one_abra_case(self, stack: RunningStack) -> None:
        from datetime import UTC, datetime

        from services.contracts.events import ClearingClosed, ClearingCompleted

        clearing_id, intake_id, household_id, person_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        common = dict(tenant="hamm", correlation_id=intake_id, clearing_id=clearing_id, intake_id=intake_id, household_id=household_id,
                      person_id=person_id, district="Westen")
        no_coaching = uuid.uuid4()
        published = [
            ClearingCompleted(**common, completed_at=datetime.now(UTC), days_after_move_in=5, needs_found=["work"], long_term_coaching=True),
            ClearingClosed(**common, outcome="cleared", long_term_coaching=True, closed_at=datetime.now(UTC)),
            ClearingCompleted(**{**common, "clearing_id": no_coaching}, completed_at=datetime.now(UTC), days_after_move_in=5, long_term_coaching=False),
        ]
        for e in published:
            await publish(stack, e)

        async def opened() -> list[dict[str, Any]]:
            events = [e for e in outbox(stack, "CaseOpened") if e["household_id"] == str(household_id)]
            assert len(events) == 1
            return events

        [event] = await eventually(opened, timeout=10)
        assert event["programme"] == "ABRA" and event["member_ids"] == [str(person_id)]
        async with stack.client("casework", "teamlead") as lead:
            case = (await lead.get(f"/cases/{event['case_id']}")).json()
        assert case["programme"] == "ABRA" and case["caseworker"] in ("caseworker", "caseworker2")

        async def consumed() -> None:
            with sqlite3.connect(stack.data_dir / "casework.db") as conn:
                ids = [e.event_id.hex for e in published]  # real clearings of other tests go through the same consumers
                handled = conn.execute(f"SELECT count(*) FROM inbox WHERE consumer LIKE 'casework:abra_coaching%' AND event_id IN ({','.join('?' * 3)})",
                                       ids).fetchone()[0]
            assert handled == 3

        await eventually(consumed, timeout=10)  # all three consumed; only one opened a case
        assert len([e for e in outbox(stack, "CaseOpened") if e["household_id"] == str(household_id)]) == 1


class TestLeaveAndReassignment:
    async def test_a_substitute_works_the_cases_and_reassignment_keeps_the_history(self, stack: RunningStack) -> None:
        case = await intake_case(stack, refugee("Nour", "1979-11-11"), district="Rhynern")
        case_id = case["case_id"]
        assert case["caseworker"] == "caseworker4"
        async with stack.client("casework", "caseworker3") as sub:
            assert (await sub.get(f"/cases/{case_id}")).status_code == 403
        async with stack.client("casework", "teamlead") as lead:
            r = await lead.post("/caseworkers/caseworker4/leave", json={"on_leave": True, "substitute": "caseworker3"})
            assert r.status_code == 200 and r.json()["on_leave"] is True
            bad = await lead.post("/caseworkers/caseworker2/leave", json={"on_leave": True, "substitute": "nobody"})
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "substitute"]
        async with stack.client("casework", "caseworker3") as sub:
            assert (await sub.get(f"/cases/{case_id}")).status_code == 200
            assert case_id in [c["case_id"] for c in (await sub.get("/worklist")).json()["my_cases"]]
        async with stack.client("casework", "teamlead") as lead:
            assert (await lead.post("/caseworkers/caseworker4/leave", json={"on_leave": False})).status_code == 200
            r = await lead.post(f"/cases/{case_id}/reassign", json={"caseworker": "caseworker"})
            assert r.status_code == 200, r.text
            assert r.json()["caseworker"] == "caseworker"
            history = [(h["caseworker"], h["reason"]) for h in (await lead.get(f"/cases/{case_id}/assignments")).json()]
        assert history == [("caseworker4", "initial"), ("caseworker3", "substitution"), ("caseworker4", "substitution_ended"), ("caseworker", "reassignment")]
        assigned = outbox(stack, "CaseAssigned", case_id=case_id)
        assert [(e["caseworker"], e["previous_caseworker"], e["reason"]) for e in assigned] == [
            ("caseworker4", None, "initial"), ("caseworker3", "caseworker4", "substitution"),
            ("caseworker4", "caseworker3", "substitution_ended"), ("caseworker", "caseworker4", "reassignment"),
        ]
        async with stack.client("casework", "caseworker3") as sub:
            assert (await sub.get(f"/cases/{case_id}")).status_code == 403


async def goals_by_field(stack: RunningStack) -> dict[str, int]:
    """reporting's goals_set of this month by field of action."""
    async with stack.client("reporting", "reporting") as c:
        r = await c.get("/kpis/goals_set", params={"group_by": "field_of_action"})
    assert r.status_code == 200, r.text
    return r.json()["groups"]


class TestGoalMovesToAnotherFieldAndPerson:
    """Fields 11 and 16 are used by no other test, so reporting's figures for them move only here."""

    async def test_a_new_revision_with_the_new_field_and_person_and_reporting_counts_it_in_its_new_field(self, stack: RunningStack) -> None:
        before = await goals_by_field(stack)
        case = await intake_case(stack, refugee("Rami", "1990-02-02"), refugee("Nour", "1992-03-03"), district="Mitte")
        case_id, (first, second) = case["case_id"], case["member_ids"]
        async with stack.client("casework", "caseworker") as cw:
            r = await cw.post(f"/cases/{case_id}/goals", json={"field_of_action": 11, "title": "Wohnung", "target_date": "2027-06-30",
                                                              "responsible": "client", "person_id": first})
            assert r.status_code == 201, r.text
            goal_id = r.json()["goal_id"]
            path = f"/cases/{case_id}/goals/{goal_id}"

            # refused: a field outside 1-18, a person of another case; nothing changes
            for body, field in (({"field_of_action": 19}, "field_of_action"), ({"field_of_action": 0}, "field_of_action"),
                                ({"person_id": str(uuid.uuid4())}, "person_id")):
                r = await cw.patch(path, json=body)
                assert r.status_code == 422, r.text
                assert field in r.text, r.text
            assert len((await cw.get(f"{path}/revisions")).json()) == 1
            assert [(e["revision"], e["field_of_action"]) for e in outbox(stack, "GoalSet", goal_id=goal_id)] == [(1, 11)]

            r = await cw.patch(path, json={"field_of_action": 16, "person_id": second})
            assert r.status_code == 200, r.text
            assert (r.json()["field_of_action"], r.json()["person_id"], r.json()["revision"]) == (16, second, 2)
            r = await cw.patch(path, json={"person_id": None})  # the whole household
            assert r.status_code == 200, r.text
            assert (r.json()["field_of_action"], r.json()["person_id"], r.json()["revision"]) == (16, None, 3)
            assert (await cw.patch(path, json={"field_of_action": 16})).json()["revision"] == 3  # no change, no revision
            revisions = (await cw.get(f"{path}/revisions")).json()
        assert [(v["revision"], v["field_of_action"], v["person_id"]) for v in revisions] == [(1, 11, first), (2, 16, second), (3, 16, None)]
        events = outbox(stack, "GoalSet", goal_id=goal_id)
        assert [(e["revision"], e["field_of_action"], e["person_id"]) for e in events] == [(1, 11, first), (2, 16, second), (3, 16, None)]

        async def counted_in_its_new_field() -> None:
            now = await goals_by_field(stack)
            assert (now.get("11", 0) - before.get("11", 0), now.get("16", 0) - before.get("16", 0)) == (0, 1)

        await eventually(counted_in_its_new_field, timeout=30, interval=0.2)
