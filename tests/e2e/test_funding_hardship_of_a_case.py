"""The hardship applications of one case, as the case page asks for them (issue 14): a caseworker sees
the applications of their own cases, also those a colleague made before the case became theirs, and
never those of another caseworker's case; fund managers see all."""

from __future__ import annotations

import uuid

import pytest

from services.contracts.casework import CaseAssigned
from tests.e2e.test_funding_hardship import apply
from tests.support.events import publish_events
from tests.support.eventually import eventually
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


async def of_case(stack: RunningStack, user: str, case_id: str) -> list[str]:
    async with stack.client("funding", user) as c:
        r = await c.get("/hardship/applications", params={"case_id": case_id})
    assert r.status_code == 200, r.text
    return [a["application_id"] for a in r.json()["applications"]]


class TestApplicationsOfACase:
    async def test_the_case_filter_lists_only_that_cases_applications(self, stack: RunningStack) -> None:
        first = await apply(stack, 20_000)
        second = await apply(stack, 30_000)
        assert await of_case(stack, "caseworker", first["case_id"]) == [first["application_id"]]
        assert await of_case(stack, "fundmanager", second["case_id"]) == [second["application_id"]]

    async def test_another_caseworker_sees_none_of_them(self, stack: RunningStack) -> None:
        app = await apply(stack, 20_000)
        assert await of_case(stack, "caseworker2", app["case_id"]) == []
        async with stack.client("funding", "caseworker2") as c:
            assert (await c.get(f"/hardship/applications/{app['application_id']}")).status_code == 403

    async def test_after_a_reassignment_the_new_caseworker_sees_the_cases_applications(self, stack: RunningStack) -> None:
        app = await apply(stack, 20_000)
        case_id = uuid.UUID(app["case_id"])
        await publish_events(stack.redis_url, [CaseAssigned(tenant="hamm", correlation_id=case_id, case_id=case_id, caseworker="caseworker2",
                                                            previous_caseworker="caseworker", reason="reassignment")])

        async def visible() -> None:
            assert await of_case(stack, "caseworker2", app["case_id"]) == [app["application_id"]]

        await eventually(visible)
        async with stack.client("funding", "caseworker2") as c:
            assert (await c.get(f"/hardship/applications/{app['application_id']}")).status_code == 200
        assert await of_case(stack, "caseworker", app["case_id"]) == [app["application_id"]]  # the applicant still sees it

    async def test_a_case_id_that_is_no_uuid_is_422_at_the_parameter(self, stack: RunningStack) -> None:
        async with stack.client("funding", "caseworker") as c:
            r = await c.get("/hardship/applications", params={"case_id": "nope"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "case_id"]


