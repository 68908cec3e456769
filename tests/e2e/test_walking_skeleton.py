"""One intake through all four services of the embedded stack, as the front desk and operators see it."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import httpx
import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.contracts.casework import CaseOpened
from services.contracts.events import IntakeCompleted
from tests.support.eventually import eventually
from tests.support.stack import RunningStack, cli, intake_payload, person, quiet

pytestmark = pytest.mark.stack

COUNTED = (IntakeCompleted.stream, CaseOpened.stream)  # what the KPIs intakes_completed and cases_opened count


async def post_intake(stack: RunningStack, payload: dict[str, Any], **headers: str) -> httpx.Response:
    async with stack.client("intake") as c:
        return await c.post("/intakes", json=payload, headers=headers)


async def case_for(stack: RunningStack, intake_id: str) -> dict[str, Any]:
    async with stack.client("casework") as c:
        r = await c.get("/cases", params={"intake_id": intake_id})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1
    return body["cases"][0]


async def kpis(stack: RunningStack) -> dict[str, dict[str, int]]:
    """This month's figures of the two KPIs the walking skeleton counts (GET /kpis serves every KPI of kpis.yaml)."""
    async with stack.client("reporting") as c:
        r = await c.get("/kpis")
    assert r.status_code == 200
    body = r.json()
    figures = {k["name"]: k["value"] for k in body["kpis"]}
    return {body["period"]: {"intakes_completed": figures["intakes_completed"], "cases_opened": figures["cases_opened"]}}


def count_rows(stack: RunningStack, db: str, table: str, where: str = "1=1", args: tuple = ()) -> int:
    with sqlite3.connect(stack.data_dir / f"{db}.db") as conn:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", args).fetchone()[0]


class TestIntakeFlowsThroughAllServices:
    async def test_an_intake_opens_a_case_and_is_counted_within_five_seconds(self, stack: RunningStack) -> None:
        await eventually(lambda: quiet(stack, COUNTED), timeout=60, interval=0.2)  # the month's counts move only for this intake
        before = await kpis(stack)
        r = await post_intake(stack, intake_payload(person(), person(given="Georgi", born="1988-01-09")))
        assert r.status_code == 201, r.text
        created = r.json()
        assert len(created["person_ids"]) == 2

        case = await eventually(lambda: case_for(stack, created["intake_id"]), timeout=5)
        assert case["household_id"] == created["household_id"]
        assert case["programme"] == "Soziales Fallmanagement"

        async def counted() -> None:
            now = await kpis(stack)
            month = max(now)
            was = before.get(month, {"intakes_completed": 0, "cases_opened": 0})
            assert now[month]["intakes_completed"] == was["intakes_completed"] + 1
            assert now[month]["cases_opened"] == was["cases_opened"] + 1

        await eventually(counted, timeout=5)

    async def test_one_trace_spans_intake_casework_and_reporting(self, stack: RunningStack) -> None:
        r = await post_intake(stack, intake_payload())
        intake_id = r.json()["intake_id"]
        await eventually(lambda: case_for(stack, intake_id), timeout=5)

        async def traced() -> str:
            out = cli(stack.data_dir, "trace", intake_id).stdout
            first = out.split("\ntrace ")[0]  # the trace of the POST
            for expected in ("POST /intakes", "intake.intake-completed.v1 publish", "intake.intake-completed.v1 process",
                             "StartWorkflow:ReviewCycle", "RunWorkflow:ReviewCycle", "casework.case-opened.v1 process",
                             "[intake]", "[casework]", "[reporting]"):
                assert expected in first, f"{expected!r} missing in\n{out}"
            return first

        await eventually(traced, timeout=10, interval=0.3)

    async def test_the_review_cycle_runs_for_the_new_case(self, stack: RunningStack) -> None:
        from temporalio.client import WorkflowExecutionStatus

        r = await post_intake(stack, intake_payload())
        case = await eventually(lambda: case_for(stack, r.json()["intake_id"]), timeout=5)
        description = await stack.started(f"review-cycle-{case['case_id']}")
        assert description.status == WorkflowExecutionStatus.RUNNING


class TestInvalidIntakes:
    @pytest.mark.parametrize(
        ("payload", "loc", "reason"),
        [
            (intake_payload(person(born="2999-01-01")), ["body", "household", "persons", 0, "date_of_birth"], "future"),
            (intake_payload(person(nationality="Bulgaria")), ["body", "household", "persons", 0, "nationality"], "ISO 3166"),
            (intake_payload(person(residence_status="citizen")), ["body", "household", "persons", 0, "residence_status"], "eu_free_movement"),
            (intake_payload(person(given="")), ["body", "household", "persons", 0, "given_name"], "at least 1"),
            (intake_payload(person(born="2000-01-01", move_in_date="1999-01-01")), ["body", "household", "persons", 0], "before date_of_birth"),
            ({"household": {"district": "Westen", "persons": []}}, ["body", "household", "persons"], "at least 1"),
            ({"household": {"persons": [person()]}}, ["body", "household", "district"], "required"),
        ],
        ids=["born-in-future", "nationality-not-iso", "unknown-status", "empty-name", "moved-before-birth", "no-person", "no-district"],
    )
    async def test_gets_422_with_field_and_reason_and_changes_nothing(self, stack: RunningStack, payload: dict, loc: list, reason: str) -> None:
        redis = Redis.from_url(stack.redis_url)
        events_before = await redis.xlen(IntakeCompleted.stream)
        intakes_before = count_rows(stack, "intake", "intakes")
        outbox_before = count_rows(stack, "intake", "outbox")
        r = await post_intake(stack, payload)
        assert r.status_code == 422
        errors = r.json()["detail"]
        matching = [e for e in errors if e["loc"] == loc]
        assert matching, errors
        assert reason in matching[0]["msg"]
        assert count_rows(stack, "intake", "intakes") == intakes_before
        assert count_rows(stack, "intake", "outbox") == outbox_before
        assert await redis.xlen(IntakeCompleted.stream) == events_before
        await redis.aclose()


class TestIdempotentSubmission:
    async def test_the_same_idempotency_key_returns_the_first_intake_and_opens_one_case(self, stack: RunningStack) -> None:
        key = str(uuid.uuid4())
        first = await post_intake(stack, intake_payload(), **{"Idempotency-Key": key})
        again = await post_intake(stack, intake_payload(), **{"Idempotency-Key": key})
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        await eventually(lambda: case_for(stack, first.json()["intake_id"]), timeout=5)
        other = await post_intake(stack, intake_payload(person(given="Other")), **{"Idempotency-Key": key})
        assert other.status_code == 409


class TestAccessControl:
    async def test_without_a_token_every_endpoint_answers_401(self, stack: RunningStack) -> None:
        for service, method, path in [("intake", "POST", "/intakes"), ("casework", "GET", "/cases"), ("reporting", "GET", "/kpis"),
                                      ("funding", "GET", "/budgets/hardship")]:
            async with stack.client(service, user=None) as c:
                r = await c.request(method, path, json=intake_payload() if method == "POST" else None)
            assert r.status_code == 401, (service, path)

    async def test_a_user_without_the_role_gets_403_and_an_audit_record(self, stack: RunningStack) -> None:
        denied_before = count_rows(stack, "intake", "audit_log", "outcome = 'denied' AND actor = 'reporting'")
        async with stack.client("intake", user="reporting") as c:
            r = await c.post("/intakes", json=intake_payload())
        assert r.status_code == 403
        assert count_rows(stack, "intake", "audit_log", "outcome = 'denied' AND actor = 'reporting'") == denied_before + 1

    async def test_reading_personal_data_is_audit_logged(self, stack: RunningStack) -> None:
        intake_id = (await post_intake(stack, intake_payload())).json()["intake_id"]
        async with stack.client("intake", user="frontdesk") as c:
            r = await c.get(f"/intakes/{intake_id}")
        assert r.status_code == 200
        assert r.json()["persons"][0]["family_name"] == "Petrova"
        assert count_rows(stack, "intake", "audit_log", "actor = 'frontdesk' AND action = 'read' AND record_id = ?", (intake_id,)) == 1
        assert count_rows(stack, "intake", "audit_log", "actor = 'service' AND action = 'create' AND record_id = ?", (intake_id,)) == 1

    async def test_signing_in_with_a_password_gives_a_working_token(self, stack: RunningStack) -> None:
        creds = (stack.data_dir / "credentials.txt").read_text().splitlines()
        user, password = next(line.split()[:2] for line in creds if line.strip().startswith("fundmanager "))
        async with httpx.AsyncClient(base_url=stack.url("funding")) as c:
            wrong = await c.post("/auth/token", data={"username": user, "password": password + "x"})
            token = (await c.post("/auth/token", data={"username": user, "password": password})).json()["access_token"]
            budget = await c.get("/budgets/hardship", headers={"Authorization": f"Bearer {token}"})
        assert wrong.status_code == 401
        assert budget.status_code == 200
        assert budget.json()["amount_cents"] == 1_500_000


class TestPoisonEventInTheStack:
    async def test_a_poison_event_is_dead_lettered_after_five_deliveries_and_later_intakes_still_open_cases(self, stack: RunningStack) -> None:
        broker = RedisBroker(stack.redis_url)
        await broker.connect()
        poison_id = str(uuid.uuid4())
        await broker.publish(b'{"event_type": "IntakeCompleted", "broken": true}', stream=IntakeCompleted.stream,
                             headers={"event_id": poison_id, "event_type": "IntakeCompleted"})
        await broker.stop()
        r = await post_intake(stack, intake_payload())
        await eventually(lambda: case_for(stack, r.json()["intake_id"]), timeout=5)

        async def dead_lettered() -> str:
            out = cli(stack.data_dir, "dlq", "list").stdout
            lines = [line for line in out.splitlines() if poison_id in line]
            assert len(lines) == 2, out  # once per consuming service: casework and reporting
            assert all("deliveries 5" in line for line in lines)
            return out

        out = await eventually(dead_lettered, timeout=30, interval=0.5)
        assert "group casework" in out and "group reporting" in out
        redis = Redis.from_url(stack.redis_url)
        for group in ("casework", "reporting"):
            assert (await redis.xpending(IntakeCompleted.stream, group))["pending"] == 0
        await redis.aclose()


class TestNoPersonalDataLeaves:
    """Runs last in this module: scans everything the run exported (spans, logs, stream entries)."""

    async def test_name_and_birth_date_appear_in_no_span_log_line_or_stream_entry(self, stack: RunningStack) -> None:
        given, family, born = "Zdravkamira", "Uniqtestova", "1987-03-19"
        r = await post_intake(stack, intake_payload(person(given=given, family=family, born=born)))
        intake_id = r.json()["intake_id"]
        await eventually(lambda: case_for(stack, intake_id), timeout=5)
        async with stack.client("intake", user="frontdesk") as c:
            assert (await c.get(f"/intakes/{intake_id}")).json()["persons"][0]["given_name"] == given

        async def spans_flushed() -> None:
            out = cli(stack.data_dir, "trace", intake_id).stdout
            assert "casework.case-opened.v1 process" in out and "GET /intakes/{id}" in out

        await eventually(spans_flushed, timeout=10, interval=0.3)
        needles = [given.encode(), family.encode(), born.encode(), born.replace("-", "").encode()]
        scanned = 0
        for folder in ("traces", "logs"):
            for path in (stack.data_dir / folder).iterdir():
                content = path.read_bytes()
                scanned += len(content)
                for needle in needles:
                    assert needle not in content, f"{needle!r} found in {path}"
        redis = Redis.from_url(stack.redis_url)
        entries = 0
        async for key in redis.scan_iter(_type="stream"):
            for _, fields in await redis.xrange(key):
                entries += 1
                blob = b"".join(k + v for k, v in fields.items())
                for needle in needles:
                    assert needle not in blob, f"{needle!r} found in stream {key!r}"
        await redis.aclose()
        assert scanned > 10_000 and entries > 10  # the scan really covered a run
