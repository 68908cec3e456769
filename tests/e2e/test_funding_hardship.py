"""Hardship fund scenarios through the real stack (issue 5 acceptance; DOMAIN.md flow 5). Cases are
given as casework's contract events (CaseOpened + CaseAssigned) published into the stack's Redis."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from services.contracts.casework import CaseAssigned, CaseOpened
from services.contracts.funding import HardshipApplied
from tests.support.events import publish_events
from tests.support.eventually import eventually
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


async def given_case(stack: RunningStack, caseworker: str = "caseworker") -> tuple[uuid.UUID, uuid.UUID]:
    case_id, person_id = uuid.uuid4(), uuid.uuid4()
    common = dict(tenant="hamm", correlation_id=case_id, case_id=case_id)
    await publish_events(stack.redis_url,
                         [CaseOpened(**common, household_id=uuid.uuid4(), programme="Soziales Fallmanagement", district="Westen", member_ids=[person_id])])
    await publish_events(stack.redis_url, [CaseAssigned(**common, caseworker=caseworker, reason="initial")])
    return case_id, person_id


def application(case_id: uuid.UUID, person_id: uuid.UUID, amount_cents: int, *, months: int = 2, **criteria: Any) -> dict[str, Any]:
    today = date.today()
    return {
        "case_id": str(case_id), "person_id": str(person_id), "amount_cents": amount_cents,
        "purpose": "Schulranzen und Material für die Seiteneinsteigerklasse", "purpose_category": "school_supplies",
        "justification": "Die Familie kann den Bedarf kurzfristig nicht decken.",
        "period_start": today.isoformat(), "period_end": (today + timedelta(days=30 * months)).isoformat(),
        "criteria": {"legal_entitlement_elsewhere": False, "caused_by_authority_error": False, "undermines_self_reliance": False, **criteria},
    }


async def apply(stack: RunningStack, amount_cents: int, *, caseworker: str = "caseworker", **kw: Any) -> dict[str, Any]:
    case_id, person_id = await given_case(stack, caseworker)
    async with stack.client("funding", caseworker) as c:
        async def applied() -> dict[str, Any]:
            r = await c.post("/hardship/applications", json=application(case_id, person_id, amount_cents, **kw))
            assert r.status_code == 201, r.text  # 422 until funding has projected the case
            return r.json()

        return await eventually(applied)


async def post(stack: RunningStack, user: str, path: str, body: Any = None) -> httpx.Response:
    async with stack.client("funding", user) as c:
        return await c.post(path, json=body)


async def balance(stack: RunningStack) -> dict[str, int]:
    async with stack.client("funding", "fundmanager") as c:
        r = await c.get(f"/budgets/hardship/{date.today().year}/balance")
    assert r.status_code == 200, r.text
    return r.json()


def funding_rows(stack: RunningStack, table: str, where: str, args: tuple = ()) -> int:
    with sqlite3.connect(stack.data_dir / "funding.db") as conn:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", args).fetchone()[0]


class TestGrantApprovedAndPaid:
    async def test_400_eur_approved_by_one_decider_ordered_and_paid_by_a_third_person(self, stack: RunningStack) -> None:
        before = await balance(stack)
        app = await apply(stack, 40_000)
        assert app["status"] == "pending" and app["deciders_required"] == 1
        path = f"/hardship/applications/{app['application_id']}"

        r = await post(stack, "fundmanager", f"{path}/decisions", {"decision": "approve"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"
        assert (await balance(stack))["available_cents"] == before["available_cents"] - 40_000

        assert (await post(stack, "paymentofficer", f"{path}/payout")).status_code == 409  # payment not ordered yet
        r = await post(stack, "fundmanager", f"{path}/payment-order")
        assert r.status_code == 200 and r.json()["status"] == "payment_ordered", r.text
        r = await post(stack, "fundmanager", f"{path}/payout")
        assert r.status_code == 403  # the decider cannot record the payout
        async with stack.client("funding", "paymentofficer") as c:
            open_ = (await c.get("/payments")).json()["payments"]
            assert [(p["kind"], p["amount_cents"], p["ordered_by"]) for p in open_ if p["application_id"] == app["application_id"]] == [("hardship", 40_000,
                                                                                                                                         "fundmanager")]
            assert (await c.get("/payments", params={"state": "later"})).status_code == 422
        r = await post(stack, "paymentofficer", f"{path}/payout")
        assert r.status_code == 200 and r.json()["status"] == "disbursed", r.text
        async with stack.client("funding", "paymentofficer") as c:
            assert app["application_id"] not in [p["application_id"] for p in (await c.get("/payments")).json()["payments"]]
            done = [p for p in (await c.get("/payments", params={"state": "done"})).json()["payments"] if p["application_id"] == app["application_id"]]
            assert [(p["paid_by"], p["paid_at"] is not None) for p in done] == [("paymentofficer", True)]

        after = await balance(stack)
        assert after["paid_cents"] == before["paid_cents"] + 40_000
        assert after["available_cents"] == before["available_cents"] - 40_000
        async with stack.client("funding", "fundmanager") as c:
            rec = (await c.get(f"/budgets/hardship/{date.today().year}/reconciliation")).json()
        assert rec["matches"] is True

    async def test_events_carry_no_purpose_or_justification(self, stack: RunningStack) -> None:
        app = await apply(stack, 12_300)
        redis = Redis.from_url(stack.redis_url)

        async def published() -> bytes:
            entries = await redis.xrange(HardshipApplied.stream)
            mine = [e for _, e in entries if app["application_id"].encode() in e[b"__data__"]]
            assert mine
            return mine[0][b"__data__"]

        payload = await eventually(published)
        assert b"Schulranzen" not in payload and b"Familie" not in payload and b"school_supplies" in payload


class TestTwoDecidersAboveOneThousandEuro:
    async def test_1500_eur_needs_two_distinct_deciders(self, stack: RunningStack) -> None:
        app = await apply(stack, 150_000)
        assert app["deciders_required"] == 2
        path = f"/hardship/applications/{app['application_id']}"
        r = await post(stack, "fundmanager", f"{path}/decisions", {"decision": "approve"})
        assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["deciders"] == ["fundmanager"], r.text
        r = await post(stack, "fundmanager", f"{path}/decisions", {"decision": "approve"})
        assert r.status_code == 409 and "second, different decider" in r.json()["detail"]
        r = await post(stack, "fundmanager2", f"{path}/decisions", {"decision": "approve"})
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text
        assert r.json()["deciders"] == ["fundmanager", "fundmanager2"]

    async def test_two_deciders_at_the_same_moment_reserve_once(self, stack: RunningStack) -> None:
        import asyncio

        app = await apply(stack, 120_000)
        path = f"/hardship/applications/{app['application_id']}"
        before = await balance(stack)
        results = await asyncio.gather(*(post(stack, u, f"{path}/decisions", {"decision": "approve"}) for u in ("fundmanager", "fundmanager2", "fundmanager3")))
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 200, 409], [r.text for r in results]  # the third finds it decided
        assert (await balance(stack))["available_cents"] == before["available_cents"] - 120_000

    async def test_a_rejection_without_reason_is_422_on_the_field(self, stack: RunningStack) -> None:
        app = await apply(stack, 10_000)
        r = await post(stack, "fundmanager", f"/hardship/applications/{app['application_id']}/decisions", {"decision": "reject"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"], r.text


class TestBudgetExhausted:
    async def test_an_approval_the_budget_cannot_cover_is_409_with_its_reason_and_stays_undecided(self, stack: RunningStack) -> None:
        year = date.today().year
        app = await apply(stack, 20_000)
        path = f"/hardship/applications/{app['application_id']}"
        before = await balance(stack)
        async with stack.client("funding", "fundmanager") as c:
            r = await c.put(f"/budgets/hardship/{year}", json={"amount_cents": before["committed_cents"] + 10_000})
            assert r.status_code == 200, r.text
            assert (await c.put(f"/budgets/hardship/{year}", json={"amount_cents": before["committed_cents"] - 1})).status_code == 409
            try:
                r = await c.post(f"{path}/decisions", json={"decision": "approve"})
                assert r.status_code == 409 and r.json()["code"] == "budget_exhausted", r.text
                assert "10000 cents available" in r.json()["detail"]
                assert (await c.get(path)).json()["status"] == "pending"
            finally:
                assert (await c.put(f"/budgets/hardship/{year}", json={"amount_cents": before["budget_cents"]})).status_code == 200
        r = await post(stack, "fundmanager2", f"{path}/decisions", {"decision": "approve"})
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text


class TestScreeningBySeedCriteria:
    async def test_rejected_when_another_authority_caused_the_need(self, stack: RunningStack) -> None:
        app = await apply(stack, 30_000, caused_by_authority_error=True)
        assert app["status"] == "rejected" and app["reason"] == "caused_by_authority"

    async def test_redirected_when_a_legal_entitlement_exists_elsewhere(self, stack: RunningStack) -> None:
        app = await apply(stack, 30_000, legal_entitlement_elsewhere=True, responsible_office="Jobcenter Hamm")
        assert app["status"] == "redirected" and app["responsible_office"] == "Jobcenter Hamm"

    async def test_a_period_longer_than_six_months_is_422_and_changes_nothing(self, stack: RunningStack) -> None:
        case_id, person_id = await given_case(stack)
        before = funding_rows(stack, "hardship_applications", "1=1")
        async with stack.client("funding", "caseworker") as c:
            async def refused() -> httpx.Response:
                r = await c.post("/hardship/applications", json=application(case_id, person_id, 10_000, months=8))
                assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "period_end"], r.text
                return r

            r = await eventually(refused)
        assert "6 months" in r.json()["detail"][0]["msg"]
        assert funding_rows(stack, "hardship_applications", "1=1") == before

    async def test_only_for_clients_of_ones_own_case(self, stack: RunningStack) -> None:
        case_id, person_id = await given_case(stack, caseworker="someone_else")
        async with stack.client("funding", "caseworker") as c:
            async def forbidden() -> None:
                r = await c.post("/hardship/applications", json=application(case_id, person_id, 10_000))
                assert r.status_code == 403, r.text

            await eventually(forbidden)


class TestEscalation:
    async def test_undecided_after_five_working_days_is_escalated_to_fund_managers(self, stack: RunningStack) -> None:
        app = await apply(stack, 20_000)
        application_id = app["application_id"]
        assert await stack.fast_forward(f"hardship-{application_id}", timedelta(days=8))

        async with stack.client("funding", "fundmanager") as c:
            async def escalated() -> list[dict[str, Any]]:
                assert (await c.get(f"/hardship/applications/{application_id}")).json()["escalated"] is True
                r = await c.get("/alerts", params={"subject_id": application_id})
                assert r.status_code == 200, r.text
                alerts = r.json()
                assert [a["kind"] for a in alerts] == ["hardship_decision_overdue"]
                return alerts

            alerts = await eventually(escalated, timeout=20)
        assert alerts[0]["role"] == "fund_manager"
        r = await post(stack, "fundmanager", f"/hardship/applications/{application_id}/decisions", {"decision": "reject", "reason": "other"})
        assert r.status_code == 200 and r.json()["status"] == "rejected", r.text  # still decidable; the alert resolves
        async with stack.client("funding", "fundmanager") as c:
            assert (await c.get("/alerts", params={"subject_id": application_id})).json() == []


class TestFourEyes:
    async def test_a_decider_approving_their_own_application_gets_403_and_an_audit_record(self, stack: RunningStack) -> None:
        app = await apply(stack, 25_000, caseworker="service")  # the service account is caseworker and fund manager
        application_id = app["application_id"]
        r = await post(stack, "service", f"/hardship/applications/{application_id}/decisions", {"decision": "approve"})
        assert r.status_code == 403, r.text
        assert funding_rows(stack, "audit_log", "actor = 'service' AND outcome = 'denied' AND record_id = ?", (application_id,)) == 1
        async with stack.client("funding", "fundmanager") as c:
            assert (await c.get(f"/hardship/applications/{application_id}")).json()["status"] == "pending"


class TestCancellation:
    async def test_cancelling_before_payout_releases_the_reservation(self, stack: RunningStack) -> None:
        app = await apply(stack, 33_300)
        path = f"/hardship/applications/{app['application_id']}"
        before = await balance(stack)
        assert (await post(stack, "fundmanager", f"{path}/decisions", {"decision": "approve"})).status_code == 200
        assert (await balance(stack))["available_cents"] == before["available_cents"] - 33_300
        r = await post(stack, "caseworker", f"{path}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        assert (await balance(stack))["available_cents"] == before["available_cents"]


class TestReadAccess:
    async def test_deciders_see_pseudonymised_cases_unless_they_open_the_audited_full_record(self, stack: RunningStack) -> None:
        app = await apply(stack, 11_100)
        application_id = app["application_id"]
        async with stack.client("funding", "fundmanager") as c:
            summary = (await c.get(f"/hardship/applications/{application_id}")).json()
            assert {"purpose", "justification", "person_id", "applicant"}.isdisjoint(summary)
            assert summary["case_id"] == app["case_id"] and summary["purpose_category"] == "school_supplies"
            listed = (await c.get("/hardship/applications")).json()["applications"]
            assert all("purpose" not in a for a in listed)
            full = await c.get(f"/hardship/applications/{application_id}/full")
        assert full.status_code == 200 and full.json()["purpose"].startswith("Schulranzen")
        assert funding_rows(stack, "audit_log", "actor = 'fundmanager' AND action = 'read_full' AND record_id = ?", (application_id,)) == 1

    async def test_caseworkers_see_only_their_own_applications(self, stack: RunningStack) -> None:
        app = await apply(stack, 11_200, caseworker="service")
        async with stack.client("funding", "caseworker") as c:
            assert (await c.get(f"/hardship/applications/{app['application_id']}")).status_code == 403
            mine = (await c.get("/hardship/applications")).json()["applications"]
        assert app["application_id"] not in {a["application_id"] for a in mine}
