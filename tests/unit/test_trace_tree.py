"""`ankommen trace` builds one tree per trace from the span files of all services."""

from deploy.tracing import find_trace_ids, render


def span(trace: str, sid: str, parent: str | None, name: str, service: str, start: int, attrs: dict | None = None) -> dict:
    return {"trace_id": trace, "span_id": sid, "parent_span_id": parent, "name": name, "service": f"ankommen-{service}",
            "start_ns": start, "end_ns": start + 2_000_000, "status": "OK", "attributes": attrs or {}}


SPANS = [
    span("t1", "a", None, "POST /intakes", "intake", 0, {"ankommen.intake_id": "i-42"}),
    span("t1", "b", "a", "intake.intake-completed.v1 publish", "intake", 1_000_000),
    span("t1", "c", "b", "intake.intake-completed.v1 process", "casework", 2_000_000),
    span("t2", "d", None, "GET /cases", "casework", 0),
]


class TestTraceTree:
    def test_finds_the_traces_that_mention_an_id(self) -> None:
        assert find_trace_ids(SPANS, "i-42") == ["t1"]
        assert find_trace_ids(SPANS, "t2") == ["t2"]

    def test_renders_children_under_parents_across_services(self) -> None:
        out = render(SPANS, "i-42").splitlines()
        assert out[0].startswith("trace t1  (3 spans; services: casework, intake)")
        assert out[1].startswith("  POST /intakes  [intake]")
        assert out[2].startswith("    intake.intake-completed.v1 publish  [intake]  +1.0 ms  2.0 ms")
        assert out[3].startswith("      intake.intake-completed.v1 process  [casework]")

    def test_says_so_when_nothing_matches(self) -> None:
        assert render(SPANS, "nothing") == "no spans mention nothing"
