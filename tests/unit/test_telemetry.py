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


class TestQueryStringsStayOutOfSpans:
    """A search's query string holds the name searched for (issue 14): server spans keep the URL without it."""

    async def test_the_hook_drops_the_query_string_from_the_server_span(self) -> None:
        import httpx
        from fastapi import FastAPI
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        app = FastAPI()

        @app.get("/persons/search")
        async def found(q: str) -> dict[str, str]:
            return {"ok": "yes"}

        FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, server_request_hook=telemetry.drop_query_string)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
            assert (await client.get("/persons/search", params={"q": "Иван Петров"})).status_code == 200
        spans = exporter.get_finished_spans()
        server = [s for s in spans if s.kind.name == "SERVER"]
        assert server and server[0].attributes.get("http.url") == "http://intake/persons/search"
        text = json.dumps([dict(s.attributes or {}) for s in spans], ensure_ascii=False)
        assert "Иван" not in text and "%D0%98" not in text and "q=" not in text
