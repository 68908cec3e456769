"""`ankommen trace <id>`: the span tree of everything that happened for an intake, case or trace id,
across all services, read from the JSON-lines span files of the embedded stack."""

from __future__ import annotations

from typing import Any

from services.kit.tracing import build_tree, find_trace_ids, load_spans, nested_tree

__all__ = ["build_tree", "find_trace_ids", "load_spans", "nested_tree", "render"]


def render(spans: list[dict[str, Any]], needle: str) -> str:
    trace_ids = find_trace_ids(spans, needle)
    if not trace_ids:
        return f"no spans mention {needle}"
    lines: list[str] = []
    for trace_id in trace_ids:
        tree = build_tree(spans, trace_id)
        t0 = min(s["start_ns"] for _, s in tree)
        services = sorted({(s.get("service") or "?").removeprefix("ankommen-") for _, s in tree})
        lines.append(f"trace {trace_id}  ({len(tree)} spans; services: {', '.join(services)})")
        for depth, s in tree:
            dur_ms = (s["end_ns"] - s["start_ns"]) / 1e6
            offset_ms = (s["start_ns"] - t0) / 1e6
            service = (s.get("service") or "?").removeprefix("ankommen-")
            status = "" if s["status"] != "ERROR" else "  ERROR"
            lines.append(f"  {'  ' * depth}{s['name']}  [{service}]  +{offset_ms:.1f} ms  {dur_ms:.1f} ms{status}")
    return "\n".join(lines)
