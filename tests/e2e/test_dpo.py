"""A2 on the running stack: every route that reads or writes personal data leaves an audit record in
its service's database (the routes enumerated below, each called once for one real person: intake,
case, hardship application), and the data protection officer's routes: the audit search by person,
staff member and period (paged), and the access request (Art. 15 DSGVO) of every service, both audited."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.test_funding_hardship import application
from tests.support.eventually import eventually
from tests.support.stack import RunningStack, intake_payload, person
from tests.support.web import sign_in, web_client

pytestmark = pytest.mark.stack

GIVEN, FAMILY, BORN = "Auditprobe", f"Zugriff{uuid.uuid4().hex[:6]}", "1988-03-14"


@dataclass
class Subject:
    person_id: str
    household_id: str
    intake_id: str
    case_id: str
    caseworker: str
    application_id: str


@pytest.fixture(scope="module")
async def subject(stack: RunningStack) -> Subject:
    async with stack.client("intake", "frontdesk") as c:
        r = await c.post("/intakes", json=intake_payload(person(GIVEN, FAMILY, BORN)))
        assert r.status_code == 201, r.text
        created = r.json()

    async def assigned_case() -> dict[str, Any]:
        async with stack.client("casework", "teamlead") as c:
            cases = (await c.get("/cases", params={"intake_id": created["intake_id"]})).json()["cases"]
        assert cases and cases[0]["caseworker"], cases
        return cases[0]

    case = await eventually(assigned_case, timeout=30)
    person_id = created["person_ids"][0]
    async with stack.client("funding", case["caseworker"]) as c:
        async def applied() -> dict[str, Any]:
            r = await c.post("/hardship/applications", json=application(uuid.UUID(case["case_id"]), uuid.UUID(person_id), 15_000))
            assert r.status_code == 201, r.text  # 422 until funding has projected the case
            return r.json()

        app = await eventually(applied, timeout=30)
    return Subject(person_id, created["household_id"], created["intake_id"], case["case_id"], case["caseworker"], app["application_id"])


def _last_seq(stack: RunningStack, service: str) -> int:
    with sqlite3.connect(stack.data_dir / f"{service}.db") as db:
        return db.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetchone()[0]


def _records_since(stack: RunningStack, service: str, seq: int) -> list[tuple[str, str, str, str | None]]:
    with sqlite3.connect(stack.data_dir / f"{service}.db") as db:
        return db.execute("SELECT actor, action, record_type, record_id FROM audit_log WHERE seq > ? ORDER BY seq", (seq,)).fetchall()


#: (service, user, method, path, body or query, the record id the audit record must name) per route
#: reading or writing personal data; `{x}` are the subject's fields, `{user}` its caseworker.
ROUTES: list[tuple[str, str, str, str, Any, str | None]] = [
    ("intake", "frontdesk", "GET", "/persons/search", {"q": f"{GIVEN} {FAMILY}"}, "{person_id}"),
    ("intake", "frontdesk", "POST", "/intakes/duplicate-check", {"persons": [{"given_name": GIVEN, "family_name": FAMILY, "date_of_birth": BORN}]},
     "{person_id}"),
    ("intake", "frontdesk", "GET", "/intakes/{intake_id}", None, "{intake_id}"),
    ("intake", "frontdesk", "GET", "/households/{household_id}/registration-status", None, "{household_id}"),
    ("intake", "frontdesk", "GET", "/households/{household_id}/communication", None, "{household_id}"),
    ("intake", "frontdesk", "PUT", "/households/{household_id}/letter-language", {"language": "ar"}, "{household_id}"),
    ("intake", "frontdesk", "POST", "/intake-drafts", {"content": {"household": {"district": "Westen"}}}, None),
    ("intake", "frontdesk", "GET", "/intake-drafts", {"created_by": "me"}, None),
    ("intake", "ipadvisor", "GET", f"/referrals/{uuid.uuid4()}/person", None, None),
    ("intake", "abra", "GET", f"/clearings/{uuid.uuid4()}", None, None),
    ("casework", "{user}", "GET", "/cases/{case_id}", None, "{case_id}"),
    ("casework", "{user}", "GET", "/cases/{case_id}/timeline", None, "{case_id}"),
    ("casework", "{user}", "GET", "/cases/{case_id}/plan", None, "{case_id}"),
    ("casework", "{user}", "GET", "/cases/{case_id}/consents", None, "{case_id}"),
    ("casework", "{user}", "GET", "/cases/{case_id}/referrals", None, "{case_id}"),
    ("casework", "{user}", "POST", "/cases/{case_id}/contacts", {"contact_on": date.today().isoformat(), "kind": "phone", "note": "Rückruf"},
     "{case_id}"),
    ("casework", "{user}", "POST", "/cases/{case_id}/goals",
     {"field_of_action": 3, "title": "Sprachkurs B1", "target_date": (date.today() + timedelta(days=90)).isoformat(), "responsible": "client"},
     "{case_id}"),
    ("funding", "{user}", "GET", "/hardship/applications/{application_id}/full", None, "{application_id}"),
    ("funding", "fundmanager", "GET", "/hardship/applications/{application_id}/full", None, "{application_id}"),
    ("intake", "dpo", "GET", "/data-subjects/{person_id}", None, "{person_id}"),
    ("casework", "dpo", "GET", "/data-subjects/{person_id}", None, "{person_id}"),
    ("funding", "dpo", "GET", "/data-subjects/{person_id}", None, "{person_id}"),
    ("reporting", "dpo", "GET", "/data-subjects/{person_id}", None, "{person_id}"),
    ("intake", "dpo", "GET", "/audit", {"person_id": "{person_id}"}, "{person_id}"),
    ("funding", "dpo", "GET", "/audit", {"actor": "fundmanager"}, None),
]


def _fill(value: Any, s: Subject) -> Any:
    fields = {**s.__dict__, "user": s.caseworker}
    if isinstance(value, str):
        return value.format(**fields)
    if isinstance(value, dict):
        return {k: _fill(v, s) for k, v in value.items()}
    return value


class TestEveryPersonalDataRouteIsAudited:
    @pytest.mark.parametrize(("service", "user", "method", "path", "body", "record"), ROUTES, ids=[f"{r[0]} {r[2]} {r[3]}" for r in ROUTES])
    async def test_the_call_leaves_an_audit_record(
        self, stack: RunningStack, subject: Subject, service: str, user: str, method: str, path: str, body: Any, record: str | None,
    ) -> None:
        user, path = _fill(user, subject), _fill(path, subject)
        before = _last_seq(stack, service)
        async with stack.client(service, user) as c:
            kwargs = {"params": _fill(body, subject)} if method == "GET" else {"json": _fill(body, subject)}
            r = await c.request(method, path, **kwargs)
        assert r.status_code < 500, r.text
        records = _records_since(stack, service, before)
        mine = [x for x in records if x[0] == user]
        assert mine, f"no audit record of {user} after {method} {path}: {records}"
        if record is not None:
            assert _fill(record, subject) in {x[3] for x in mine}, mine


class TestTheDataProtectionOfficersAuditSearch:
    async def test_by_person_finds_the_records_of_the_persons_intake_case_and_application(self, stack: RunningStack, subject: Subject) -> None:
        found = {}
        for service in ("intake", "casework", "funding"):
            async with stack.client(service, "dpo") as c:
                r = await c.get("/audit", params={"person_id": subject.person_id})
            assert r.status_code == 200, r.text
            found[service] = {(e["record_type"], e["record_id"]) for e in r.json()["entries"]}
        assert ("intake", subject.intake_id) in found["intake"]
        assert ("person", subject.person_id) in found["intake"]
        assert ("case", subject.case_id) in found["casework"]
        assert ("hardship_application", subject.application_id) in found["funding"]

    async def test_by_staff_member_and_period_and_paged(self, stack: RunningStack, subject: Subject) -> None:
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        async with stack.client("casework", "dpo") as c:
            first = (await c.get("/audit", params={"actor": subject.caseworker, "since": since, "limit": 1})).json()
            second = (await c.get("/audit", params={"actor": subject.caseworker, "since": since, "limit": 1, "offset": 1})).json()
            future = (await c.get("/audit", params={"actor": subject.caseworker, "since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})).json()
        assert first["total"] >= 2 and len(first["entries"]) == 1 and first["entries"] != second["entries"]
        assert {e["actor"] for e in first["entries"] + second["entries"]} == {subject.caseworker}
        assert future["total"] == 0

    async def test_a_period_without_time_zone_is_422_at_the_field(self, stack: RunningStack) -> None:
        async with stack.client("intake", "dpo") as c:
            r = await c.get("/audit", params={"since": "2026-12-01T00:00:00"})
        assert r.status_code == 422 and "since" in r.text

    async def test_other_staff_may_not_search_the_log(self, stack: RunningStack) -> None:
        async with stack.client("intake", "operator") as c:
            assert (await c.get("/audit")).status_code == 403


class TestTheAccessRequest:
    async def test_each_service_returns_what_it_holds_on_the_person(self, stack: RunningStack, subject: Subject) -> None:
        parts = {}
        for service in ("intake", "casework", "funding", "reporting"):
            async with stack.client(service, "dpo") as c:
                r = await c.get(f"/data-subjects/{subject.person_id}")
            assert r.status_code == 200, r.text
            parts[service] = r.json()
        fields = parts["intake"]["person"]["personal_fields"]
        assert (fields["given_name"], fields["family_name"]) == (GIVEN, FAMILY)
        assert [i["id"] for i in parts["intake"]["intakes"]] == [subject.intake_id]
        assert subject.case_id in [c["id"] for c in parts["casework"]["cases"]]
        assert any(g["title"] == "Sprachkurs B1" for g in parts["casework"]["goals"]) or parts["casework"]["cases"]
        application = parts["funding"]["hardship_applications"][0]
        assert application["id"] == subject.application_id and application["justification"]
        assert parts["reporting"]["holds"] == "aggregates only"

    async def test_an_unknown_person_holds_nothing(self, stack: RunningStack) -> None:
        async with stack.client("intake", "dpo") as c:
            r = await c.get(f"/data-subjects/{uuid.uuid4()}")
        assert r.status_code == 200 and r.json()["holds"] == "nothing"


class TestTheDataProtectionScreens:
    async def test_the_officer_searches_all_services_by_person_and_exports_csv(self, stack: RunningStack, subject: Subject) -> None:
        async with stack.client("casework", subject.caseworker) as c:
            assert (await c.get(f"/cases/{subject.case_id}")).status_code == 200
        async with web_client(stack) as c:
            await sign_in(stack, c, "dpo")
            page = await c.get("/datenschutz", params={"person": subject.person_id})
            export = await c.get("/datenschutz/protokoll.csv", params={"person": subject.person_id})
        assert page.status_code == 200 and "Eintr" in page.text, page.text
        assert subject.intake_id in page.text, page.text
        assert subject.case_id in page.text
        assert export.headers["content-type"].startswith("text/csv")
        rows = export.text.splitlines()
        assert rows[0].startswith("Dienst;Zeitpunkt;Mitarbeitende") and any(subject.application_id in r for r in rows)

    async def test_a_person_id_that_is_none_is_named_at_the_field(self, stack: RunningStack) -> None:
        async with web_client(stack) as c:
            await sign_in(stack, c, "dpo")
            page = await c.get("/datenschutz", params={"person": "Ivana"})
        assert page.status_code == 422 and "Bitte geben Sie eine Personen-ID ein" in page.text

    async def test_the_access_request_is_one_document_from_all_services(self, stack: RunningStack, subject: Subject) -> None:
        async with web_client(stack) as c:
            await sign_in(stack, c, "dpo")
            page = await c.get("/datenschutz/auskunft", params={"person": subject.person_id})
            download = await c.get(f"/datenschutz/auskunft/{subject.person_id}.json")
        assert page.status_code == 200 and GIVEN in page.text and FAMILY in page.text and "Die Familie kann den Bedarf" in page.text
        document = download.json()
        assert set(document["services"]) == {"intake", "casework", "funding", "reporting"}
        assert document["services"]["reporting"]["holds"] == "aggregates only"
