"""The test stack's Temporal server lets a scenario test fast-forward a deadline of a workflow that a
service started, instead of waiting for it (DEVELOPERS.md: deadlines use time skipping)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType

from tests.support.eventually import eventually
from tests.support.stack import RunningStack, intake_payload, person

pytestmark = pytest.mark.stack


class TestFastForwardOnTheStack:
    async def test_a_review_timer_fires_after_fast_forwarding_91_days(self, stack: RunningStack) -> None:
        async with stack.client("intake", "frontdesk") as c:
            r = await c.post("/intakes", json=intake_payload(person(nationality="SY", residence_status="recognised_refugee")))
            assert r.status_code == 201, r.text
            intake_id = r.json()["intake_id"]
        async with stack.client("casework", "service") as c:
            async def case_id() -> str:
                cases = (await c.get("/cases", params={"intake_id": intake_id})).json()["cases"]
                assert cases
                return cases[0]["case_id"]

            workflow_id = f"review-cycle-{await eventually(case_id)}"
        client = await stack.temporal()
        first_run = (await stack.started(workflow_id)).run_id
        handle = client.get_workflow_handle(workflow_id, run_id=first_run)

        async def events() -> list[int]:
            return [e.event_type async for e in handle.fetch_history_events()]

        assert EventType.EVENT_TYPE_TIMER_FIRED not in await events()
        assert await stack.fast_forward(workflow_id, timedelta(days=91))

        async def fired() -> None:
            assert EventType.EVENT_TYPE_TIMER_FIRED in await events()

        await eventually(fired)
