"""A database URL overridden in the environment (e.g. INTAKE_DATABASE_URL pointing at another volume) is
both the database `ankommen up` migrates and the one the service process opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.stack import Stack
from services.kit.migrations import SERVICES


class TestOverriddenDatabaseUrl:
    def test_the_service_process_gets_the_url_that_was_migrated(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'elsewhere' / 'intake.db'}"
        monkeypatch.setenv("INTAKE_DATABASE_URL", url)
        stack = Stack(tmp_path / "data")
        stack.prepare()
        stack.choose_ports()
        stack.define_children()
        assert stack.database_url("intake") == url
        assert stack.children["intake"].env["INTAKE_DATABASE_URL"] == url
        for svc in SERVICES:
            assert stack.children[svc].env[f"{svc.upper()}_DATABASE_URL"] == stack.database_url(svc)
