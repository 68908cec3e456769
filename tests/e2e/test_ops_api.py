"""The operator API every service serves (services/kit/ops.py), against the embedded stack."""

from __future__ import annotations

import pytest

from tests.support.eventually import eventually
from tests.support.stack import RunningStack, intake_payload
from tests.support.web import dead_letter_for

pytestmark = pytest.mark.stack


class TestDeadLetters:
    async def test_each_service_lists_the_dead_letters_of_its_own_consumer_group(self, stack: RunningStack) -> None:
        _, event_id = await dead_letter_for(stack, "reporting")
        async with stack.client("reporting", "operator") as c:
            mine = (await c.get("/ops/dead-letters")).json()
        async with stack.client("funding", "operator") as c:
            theirs = (await c.get("/ops/dead-letters")).json()
        assert [d["event_id"] for d in mine if d["event_id"] == event_id] == [event_id]
        assert all(d["group"] == "reporting" for d in mine)
        assert event_id not in {d["event_id"] for d in theirs}

    async def test_replaying_an_unknown_entry_is_404(self, stack: RunningStack) -> None:
        async with stack.client("funding", "operator") as c:
            r = await c.post("/ops/dead-letters/1-0/replay")
        assert r.status_code == 404

    async def test_an_entry_id_that_is_no_stream_id_is_422(self, stack: RunningStack) -> None:
        async with stack.client("funding", "operator") as c:
            r = await c.post("/ops/dead-letters/abc/replay")
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["path", "entry"]


class TestTraces:
    async def test_the_trace_of_an_intake_is_a_tree_across_services(self, stack: RunningStack) -> None:
        async with stack.client("intake", "frontdesk") as api:
            intake_id = (await api.post("/intakes", json=intake_payload())).json()["intake_id"]

        async def traced() -> dict:
            async with stack.client("casework", "operator") as c:
                body = (await c.get(f"/ops/traces/{intake_id}")).json()
            assert body["traces"], body
            first = body["traces"][0]
            assert {"intake", "casework", "reporting"} <= set(first["services"])
            # spans are exported as they end, in batches: the request's own span may come after its
            # children (which show as roots until then)
            assert [r["name"] for r in first["roots"]] == ["POST /intakes"], [r["name"] for r in first["roots"]]
            return first

        first = await eventually(traced, timeout=30, interval=0.5)
        (root,) = first["roots"]

        def names(node: dict) -> list[str]:
            return [node["name"], *(n for c in node["children"] for n in names(c))]

        assert "intake.intake-completed.v1 process" in names(root)
        assert "attributes" not in root

    async def test_an_unknown_id_has_no_traces(self, stack: RunningStack) -> None:
        async with stack.client("intake", "operator") as c:
            r = await c.get("/ops/traces/0000-nothing-0000")
        assert r.status_code == 200 and r.json() == {"id": "0000-nothing-0000", "traces": []}


class TestWorkflows:
    async def test_the_service_lists_its_running_workflows(self, stack: RunningStack) -> None:
        async with stack.client("intake", "frontdesk") as api:
            intake_id = (await api.post("/intakes", json=intake_payload())).json()["intake_id"]
        async with stack.client("casework", "operator") as c:
            async def listed() -> dict:
                cases = (await c.get("/cases", params={"intake_id": intake_id})).json()["cases"]
                assert cases
                body = (await c.get("/ops/workflows")).json()
                found = [w for w in body["workflows"] if cases[0]["case_id"] in w["workflow_id"]]
                assert found
                return found[0]

            w = await eventually(listed, timeout=10)
        assert w["waits_for"] and w["stuck"] is False
