"""Span trees for operators: everything that happened for an intake, case, referral, application or
trace id, across all services, read from the JSON-lines span files of the embedded stack
(`<data dir>/traces/*.jsonl`). Used by `ankommen trace` and by `GET /ops/traces/{id}`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def load_spans(traces_dir: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(traces_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut by a hard kill


def _mentions(span: dict[str, Any], needle: str) -> bool:
    if span["trace_id"] == needle:
        return True
    return any(needle in str(v) for v in span.get("attributes", {}).values()) or needle in span["name"]


def find_trace_ids(spans: list[dict[str, Any]], needle: str) -> list[str]:
    """Traces that mention the id anywhere (ankommen.* attributes, workflow ids, span names)."""
    needle = needle.lower()
    seen: dict[str, int] = {}
    for s in spans:
        if _mentions(s, needle):
            seen.setdefault(s["trace_id"], s["start_ns"])
    return sorted(seen, key=seen.__getitem__)


def build_tree(spans: list[dict[str, Any]], trace_id: str) -> list[tuple[int, dict[str, Any]]]:
    """The spans of one trace in depth-first order with their depth (a span whose parent is missing
    becomes a root)."""
    mine = [s for s in spans if s["trace_id"] == trace_id]
    ids = {s["span_id"] for s in mine}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for s in mine:
        parent = s["parent_span_id"] if s["parent_span_id"] in ids else None
        children[parent].append(s)
    for group in children.values():
        group.sort(key=lambda s: s["start_ns"])
    out: list[tuple[int, dict[str, Any]]] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in children.get(parent, []):
            out.append((depth, s))
            walk(s["span_id"], depth + 1)

    walk(None, 0)
    return out


def nested_tree(spans: list[dict[str, Any]], trace_id: str) -> list[dict[str, Any]]:
    """One trace as nested nodes (name, service, offset and duration in ms, status, children), for
    screens and JSON. Attributes are left out: operators see ids through the span names and the
    trace id, never payloads."""
    flat = build_tree(spans, trace_id)
    if not flat:
        return []
    t0 = min(s["start_ns"] for _, s in flat)
    roots: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []
    for depth, s in flat:
        node = {
            "span_id": s["span_id"],
            "name": s["name"],
            "service": (s.get("service") or "?").removeprefix("ankommen-"),
            "offset_ms": round((s["start_ns"] - t0) / 1e6, 1),
            "duration_ms": round((s["end_ns"] - s["start_ns"]) / 1e6, 1),
            "status": s.get("status") or "UNSET",
            "children": [],
        }
        del stack[depth:]
        (stack[-1]["children"] if stack else roots).append(node)
        stack.append(node)
    return roots
