"""Issue 12, S1 in CI: the short run of `bench.faults.schemathesis_run` (`st run`, all checks, one
example per operation and the fuzzing phase, fixed seed) against the four services of a stack of its
own (fuzzing writes odd records that the shared stack's tests should not meet). The full run is
`python -m bench.faults.schemathesis_run`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.faults.body_fuzz import fingerprint, fuzz_service
from bench.faults.schemathesis_run import Figures, run_service
from services.kit.migrations import SERVICES
from tests.support.stack import FAST_RECLAIM, RunningStack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    s = RunningStack(tmp_path_factory.mktemp("fuzz-stack"), env=FAST_RECLAIM)
    s.up()
    yield s
    s.down()


class TestSchemathesisShortRun:
    @pytest.mark.parametrize("service", SERVICES)
    def test_no_server_error_no_schema_violation_no_undocumented_status_or_media_type(self, fuzz_stack: RunningStack, service: str,
                                                                                      tmp_path: Path) -> None:
        fig: Figures = run_service(fuzz_stack, service, examples=1, seed=12, workdir=tmp_path, phases="fuzzing")
        print(fig.line())
        assert fig.operations >= 25 and fig.requests >= fig.operations, fig.line()
        assert fig.server_errors == 0 and fig.schema_violations == 0, "\n".join(fig.findings)
        assert fig.other["status_code_conformance"] == 0 and fig.other["content_type_conformance"] == 0, fig.line()
        assert fig.other["ignored_auth"] == 0 and fig.other["allow_header_conformance"] == 0, fig.line()


class TestIntegerPathParametersAreBounded:
    """schemathesis' finding: a 40-digit year reached SQLite (OverflowError, 500); now 422 naming the parameter."""

    @pytest.mark.parametrize(("service", "path", "name"), [
        ("funding", "/budgets/discretionary/66210988086521856722473901863494221824", "year"),
        ("funding", "/budgets/discretionary/197437177613057805169796841472/balance", "year"),
        ("reporting", "/measures/99999999999999999999999", "number"),
    ])
    async def test_out_of_range_is_422_naming_it(self, fuzz_stack: RunningStack, service: str, path: str, name: str) -> None:
        async with fuzz_stack.client(service) as c:
            r = await c.get(path)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["path", name]


class TestTheFingerprintSeesWrites:
    """The partial-write detector of S2 is no test that cannot fail: a stored caseworker changes the fingerprint
    of casework's database (its table named), a refused one leaves it as it was."""

    async def test_a_write_changes_it_a_refusal_does_not(self, fuzz_stack: RunningStack) -> None:
        db = fuzz_stack.data_dir / "casework.db"
        before = fingerprint(db)
        async with fuzz_stack.client("casework", "teamlead") as c:
            refused = await c.post("/caseworkers", json={"username": "probe.refused", "districts": ["Westen"], "fte": 2.5})
            between = fingerprint(db)
            stored = await c.post("/caseworkers", json={"username": "probe.stored", "districts": ["Westen"], "fte": 0.5})
        assert refused.status_code == 422 and between == before, refused.text
        assert stored.status_code == 201, stored.text
        after = fingerprint(db)
        assert "audit_log" not in after and any(after[t] != before[t] for t in after if "caseworker" in t)


class TestHypothesisBodiesShortRun:
    """Issue 12, S2 in CI: a few generated bodies (valid-looking and broken) to every POST/PUT/PATCH of
    two services (paths name the records their list endpoints show: demo caseworkers, catalogue measures):
    only 2xx/4xx, every 422 names its field, no write survives a 4xx. The full run over the four services,
    with seeded records, is `python -m bench.faults.body_fuzz`."""

    @pytest.mark.parametrize("service", ["casework", "reporting"])
    def test_2xx_or_4xx_named_fields_no_partial_write(self, fuzz_stack: RunningStack, service: str) -> None:
        fig = fuzz_service(fuzz_stack, service, examples=3, seed_value=12)
        print(fig.line())
        assert fig.operations >= 4 and fig.requests >= 2 * fig.operations, fig.line()
        assert (fig.server_errors, fig.unnamed_422, fig.partial_writes) == (0, 0, 0), "\n".join(fig.findings)


class TestTrueFalseIsNoNumber:
    """schemathesis' finding: `{"amount_cents": false}` set a budget of 0 and `{"on_leave": 0}` was taken as false
    (pydantic's lax mode); request bodies derive from services.kit.inputs.Input now: 422 naming the field."""

    async def test_a_budget_of_false_is_refused(self, fuzz_stack: RunningStack) -> None:
        async with fuzz_stack.client("funding") as c:
            r = await c.put("/budgets/hardship/2031", json={"amount_cents": False})
            budget = await c.get("/budgets/hardship/2031")
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "amount_cents"], r.text
        assert budget.status_code == 404, budget.text

    async def test_a_leave_of_zero_is_refused(self, fuzz_stack: RunningStack) -> None:
        async with fuzz_stack.client("casework", "teamlead") as c:
            r = await c.post("/caseworkers/caseworker4/leave", json={"on_leave": 0})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "on_leave"], r.text


class TestANumberIsNoDateAndTime:
    """schemathesis' finding: `?updated_since=0.5` was taken as 1970-01-01T00:00:00.5Z; 422 naming the parameter now."""

    @pytest.mark.parametrize(("path", "name"), [("/intake-drafts?updated_since=0.5", "updated_since"), ("/abra/slots?start=0.5", "start")])
    async def test_422_naming_the_parameter(self, fuzz_stack: RunningStack, path: str, name: str) -> None:
        async with fuzz_stack.client("intake", "abralead" if "slots" in path else "frontdesk") as c:
            r = await c.get(path)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", name], r.text


class TestOffsetsAreBounded:
    """schemathesis' finding (25 examples): `GET /cases?offset=<34 digits>` reached SQLite (OverflowError, 500); 422 naming it now."""

    @pytest.mark.parametrize(("service", "path", "user"), [("casework", "/cases", "teamlead"), ("intake", "/intake-drafts", "frontdesk")])
    async def test_a_huge_offset_is_422(self, fuzz_stack: RunningStack, service: str, path: str, user: str) -> None:
        async with fuzz_stack.client(service, user) as c:
            r = await c.get(path, params={"offset": "2094611599720219978781216938655744"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "offset"], r.text
