"""OpenTelemetry for every process: OTLP when an endpoint is set, otherwise JSON lines in the data
directory (read by `ankommen trace`). Logs are JSON lines that carry the trace id.

Span attributes and log lines carry pseudonymous ids only; helpers here accept UUIDs and coarse
attributes, never free text about a person.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from services.kit.settings import PlatformSettings


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans as JSON objects, one per line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(span_to_dict(s), separators=(",", ":"), default=str) for s in spans]
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    parent = span.parent
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent else None,
        "name": span.name,
        "kind": span.kind.name if span.kind else None,
        "service": span.resource.attributes.get("service.name"),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "events": [e.name for e in span.events],
        "links": [format(link.context.trace_id, "032x") for link in span.links],
    }


def drop_query_string(span: Any, scope: dict[str, Any]) -> None:
    """FastAPI instrumentation hook: a URL's query string may hold what a person was searched by (a name,
    a birth date), so server spans keep the URL without it (`http.url`, `url.query`). Paths carry ids only."""
    if span is None or not span.is_recording() or not scope.get("query_string"):
        return
    attributes = getattr(span, "attributes", None) or {}
    url = attributes.get("http.url")
    if isinstance(url, str):
        span.set_attribute("http.url", url.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "[dropped]")


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def setup(service: str, settings: PlatformSettings) -> TracerProvider:
    """Install the tracer provider before any client is created; shut it down at exit."""
    resource = Resource.create(
        {
            "service.name": f"ankommen-{service}",
            "service.namespace": "ankommen",
            "deployment.environment": settings.environment,
            "ankommen.tenant": settings.tenant,
        }
    )
    sampler = ParentBased(TraceIdRatioBased(settings.trace_sample_ratio))  # a request's downstream spans follow its decision
    provider = TracerProvider(resource=resource, sampler=sampler)
    exporter: SpanExporter
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint.rstrip("/") + "/v1/traces")
    else:
        exporter = JsonLinesSpanExporter(settings.traces_dir / f"{service}.jsonl")
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    _setup_logging(service, settings)
    return provider


def _setup_logging(service: str, settings: PlatformSettings) -> None:
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    formatter = JsonLogFormatter()
    file_handler = logging.FileHandler(settings.logs_dir / f"{service}.jsonl", encoding="utf-8")
    file_handler.setFormatter(formatter)
    stream_handler = logging.StreamHandler(sys.stderr)
    stream_handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [file_handler, stream_handler]
    root.setLevel(settings.log_level)
    for noisy in ("uvicorn.access", "httpx", "temporalio.activity", "temporalio.workflow", "faststream"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn installs its own handlers; route its loggers through ours
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def tracer(name: str = "ankommen") -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def mark(**ids: Any) -> None:
    """Put pseudonymous ids on the current span (e.g. mark(intake_id=...)) so `ankommen trace` finds it."""
    span = trace.get_current_span()
    for key, value in ids.items():
        span.set_attribute(f"ankommen.{key}", str(value))
