"""F8 over HTTP: while another process holds intake's database locked, a new intake is answered 503
with Retry-After and a message naming the cause (German and English), nothing is stored, and the same
request succeeds by itself once the lock goes, and its intake opens its case like any other
(bench/faults/disk_full.py does the same with a full disk)."""

from __future__ import annotations

import sqlite3

import pytest

from deploy.embedded import exclusive_lock
from services.contracts.casework import CaseOpened
from services.contracts.intake import IntakeCompleted
from tests.support.eventually import eventually
from tests.support.stack import RunningStack, intake_payload, person, quiet

pytestmark = pytest.mark.stack

COUNTED = (IntakeCompleted.stream, CaseOpened.stream)  # what the KPIs intakes_completed and cases_opened count


def intakes(stack: RunningStack) -> int:
    with sqlite3.connect(stack.data_dir / "intake.db") as conn:
        return int(conn.execute("SELECT count(*) FROM intakes").fetchone()[0])


class TestLockedDatabaseOverHttp:
    async def test_503_with_retry_after_while_locked_then_the_same_request_succeeds(self, stack: RunningStack) -> None:
        body = intake_payload(person(given="Lockprobe"))
        async with stack.client("intake", "frontdesk", timeout=30) as c:
            before = intakes(stack)
            with exclusive_lock(stack.data_dir / "intake.db"):
                refused = await c.post("/intakes", json=body, headers={"Idempotency-Key": "locked-1"})
                assert refused.status_code == 503, refused.text
                assert refused.headers["Retry-After"] == "5"
                answer = refused.json()
                assert answer["code"] == "storage_unavailable" and answer["cause"] == "locked"
                assert "gesperrt" in answer["detail"] and "locked" in answer["detail"]
                assert "Lockprobe" not in refused.text
                assert (await c.get("/health")).status_code == 200  # reads go on beside the lock (WAL)
            assert intakes(stack) == before
            stored = await c.post("/intakes", json=body, headers={"Idempotency-Key": "locked-1"})
            assert stored.status_code == 201, stored.text
            assert intakes(stack) == before + 1
            intake_id = stored.json()["intake_id"]
        async with stack.client("casework") as cw:

            async def case_opened() -> None:
                r = await cw.get("/cases", params={"intake_id": intake_id})
                assert r.status_code == 200 and r.json()["total"] == 1, r.text

            await eventually(case_opened, timeout=60, interval=0.2)
        await eventually(lambda: quiet(stack, COUNTED), timeout=60, interval=0.2)  # the relay's back-off is over: the next test starts on a quiet stack
