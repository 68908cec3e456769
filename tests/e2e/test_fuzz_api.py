"""Issue 12, S1 in CI: the short run of `bench.faults.schemathesis_run` (`st run`, all checks, one
example per operation and the fuzzing phase, fixed seed) against the four services of a stack of its
own (fuzzing writes odd records that the shared stack's tests should not meet). The full run is
`python -m bench.faults.schemathesis_run`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
