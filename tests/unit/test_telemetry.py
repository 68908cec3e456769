"""Where spans go: OTLP when an endpoint is set, JSON lines in the data directory otherwise."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from services.kit import telemetry
from services.kit.settings import PlatformSettings


def exporter_of(provider: TracerProvider) -> object:
    (processor,) = provider._active_span_processor._span_processors  # noqa: SLF001
    return processor.span_exporter


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """setup() installs the process's log handlers; put the test runner's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


class TestTelemetrySetup:
    def test_otlp_endpoint_from_the_standard_variable_gets_the_traces_path(self, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
        provider = telemetry.setup("intake", PlatformSettings(data_dir=tmp_path))
        exporter = exporter_of(provider)
        assert isinstance(exporter, OTLPSpanExporter)
        assert exporter._endpoint == "http://collector:4318/v1/traces"  # noqa: SLF001
        provider.shutdown()

    def test_without_endpoint_spans_are_json_lines_in_the_data_directory(self, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
        provider = telemetry.setup("casework", PlatformSettings(data_dir=tmp_path))
        assert isinstance(exporter_of(provider), telemetry.JsonLinesSpanExporter)
        provider.shutdown()

    def test_json_lines_exporter_writes_one_object_per_span(self, tmp_path: Path) -> None:
        path = tmp_path / "t.jsonl"
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(telemetry.JsonLinesSpanExporter(path)))
        with provider.get_tracer("t").start_as_current_span("outer"):
            with provider.get_tracer("t").start_as_current_span("inner") as inner:
                inner.set_attribute("ankommen.case_id", "c-1")
        provider.shutdown()
        spans = [json.loads(line) for line in path.read_text().splitlines()]
        assert [s["name"] for s in spans] == ["inner", "outer"]
        assert spans[0]["parent_span_id"] == spans[1]["span_id"]
        assert spans[0]["attributes"] == {"ankommen.case_id": "c-1"}
