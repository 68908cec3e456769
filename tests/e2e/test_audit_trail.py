"""A2 on the running stack: the audit logs of all four services verify (`ankommen audit verify`), and
every way of tampering with a copy of each service's database is detected (the short mode of
`python -m bench.faults.audit_tamper`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.faults.audit_tamper import TAMPERINGS, _traffic, tamper_all
from services.kit.audit import derive_key
from tests.support.stack import RunningStack, cli

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
async def audited(stack: RunningStack) -> RunningStack:
    await _traffic(stack, 2)
    return stack


class TestTheStacksAuditLogsVerify:
    async def test_audit_verify_reports_ok_for_every_service(self, audited: RunningStack) -> None:
        result = cli(audited.data_dir, "audit", "verify", check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert [line.split(":")[0] for line in lines] == ["intake", "casework", "funding", "reporting"]
        assert all(": OK, " in line for line in lines), lines

    async def test_audit_verify_of_one_service(self, audited: RunningStack) -> None:
        result = cli(audited.data_dir, "audit", "verify", "--service", "funding", check=False)
        assert result.returncode == 0 and result.stdout.startswith("funding: OK, ")


class TestTamperingWithTheStacksDatabases:
    async def test_every_tampering_of_every_service_is_detected(self, audited: RunningStack, tmp_path: Path) -> None:
        key = derive_key(json.loads((audited.data_dir / "secrets.json").read_text())["auth_secret"])
        figures = await tamper_all(audited.data_dir, key, tmp_path)
        assert {svc: (tried, detected, missed) for svc, (_, tried, detected, missed) in figures.items()} == {
            svc: (len(TAMPERINGS), len(TAMPERINGS), []) for svc in ("intake", "casework", "funding", "reporting")
        }

    async def test_a_tampered_database_makes_audit_verify_fail_with_the_place(self, audited: RunningStack, tmp_path: Path) -> None:
        import shutil
        import sqlite3

        copy = tmp_path / "data"
        copy.mkdir()
        shutil.copy(audited.data_dir / "secrets.json", copy / "secrets.json")
        with sqlite3.connect(audited.data_dir / "intake.db") as live, sqlite3.connect(copy / "intake.db") as target:
            live.backup(target)
        with sqlite3.connect(copy / "intake.db") as db:
            TAMPERINGS["deleted middle"](db)
        result = cli(copy, "audit", "verify", "--service", "intake", check=False)
        assert result.returncode == 1
        assert result.stdout.startswith("intake: BROKEN at seq ") and ": deleted: " in result.stdout
