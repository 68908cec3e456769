"""The one shape of every service (docs/architecture.md), kept by CI: every SQL statement in the store
modules, no module over 400 lines, no function over 50 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "casework", "funding", "reporting")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50


def _modules() -> list[Path]:
    return sorted(p for p in (ROOT / "services").rglob("*.py") if "migrations" not in p.parts)


def _is_store(path: Path) -> bool:
    return path.name.startswith("store") or path.name == "ledger.py"


@pytest.mark.parametrize("service", SERVICES)
def test_every_statement_is_run_by_the_store(service: str) -> None:
    outside = {
        p.name: n for p in sorted((ROOT / "services" / service).glob("*.py"))
        if not _is_store(p) and (n := p.read_text(encoding="utf-8").count(".execute(")) > 0
    }
    assert outside == {}, f"{service}: SQL outside store*.py/ledger.py: {outside}"


def test_no_module_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES}
    assert long == {}


def test_no_function_over_50_lines() -> None:
    long = []
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (n := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
                long.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert long == []
