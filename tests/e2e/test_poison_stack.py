"""F4 short: poison of every kind on two consumed streams of the running stack (each read by two
consumer groups) is dead-lettered for every group after five deliveries, listed by `ankommen dlq
list`, replayed by `ankommen dlq replay` to its own group only, while intakes keep opening cases.
The full run over every consumed stream is `python -m bench.faults.poison`."""

from __future__ import annotations

import pytest

from bench.faults.poison import passed, run_poison
from services.contracts.casework import CaseOpened
from services.contracts.intake import IntakeCompleted
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


class TestPoisonOnTwoStreams:
    async def test_each_kind_is_dead_lettered_for_each_group_listed_and_replayed_while_intakes_flow(self, stack: RunningStack) -> None:
        report = await run_poison(stack, only=[IntakeCompleted.stream, CaseOpened.stream], good=3, rate=4.0, timeout=40)

        assert {(r.stream, r.group) for r in report.rows} == {
            (IntakeCompleted.stream, "casework"), (IntakeCompleted.stream, "reporting"),
            (CaseOpened.stream, "funding"), (CaseOpened.stream, "reporting"),
        }
        for row in report.rows:
            assert len(row.dead) == row.sent, row
            assert {d.deliveries for d in row.dead} == {5}
            assert (row.listed, row.replayed, len(row.dead_again)) == (row.sent, row.sent, row.sent), row
        assert report.pending_after == 0
        assert report.with_poison.handled == report.with_poison.sent == 3
        assert passed(report)
