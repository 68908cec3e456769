"""`ankommen up --replicas N`: what makes each replica one of several, and replicas on SQLite refused
(no stack is started here; tests/e2e/test_replicas.py runs two replicas per service for real)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy.stack import Stack
from services.kit.migrations import SERVICES

ROOT = Path(__file__).resolve().parents[2]


class TestReplicasOnSqliteAreRefused:
    def test_up_exits_2_and_names_the_flag(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "deploy.cli", "--data-dir", str(tmp_path), "up", "--detach", "--replicas", "2"],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )
        assert result.returncode == 2
        assert "--postgres" in result.stderr and "SQLite has one writer" in result.stderr
        assert not (tmp_path / "stack.json").exists()  # nothing started

    def test_one_service_left_on_sqlite_is_named(self, tmp_path: Path) -> None:
        stack = Stack(tmp_path, extra_env={"ANKOMMEN_REPLICAS": "2", "ANKOMMEN_DATABASE": "postgres", "FUNDING_DATABASE_URL": "sqlite+aiosqlite:///x.db"})
        with pytest.raises(RuntimeError, match="funding would run on SQLite"):
            stack.check_replicas()


class TestEachReplicaIsOneOfSeveral:
    def test_own_consumer_name_and_port_shared_service_port(self, tmp_path: Path) -> None:
        stack = Stack(tmp_path, extra_env={"ANKOMMEN_REPLICAS": "3", "ANKOMMEN_DATABASE": "postgres"})
        stack.choose_ports()
        for svc in SERVICES:
            envs = [stack.replica_env(svc, n) for n in (1, 2, 3)]
            assert len({e["ANKOMMEN_CONSUMER_NAME"] for e in envs}) == 3
            assert len({e["ANKOMMEN_REPLICA_PORT"] for e in envs}) == 3
            assert all(e["ANKOMMEN_REUSE_PORT"] == "true" for e in envs)
        assert "postgres" in stack.ports
        assert len(set(stack.ports.values())) == len(stack.ports)  # no two share a port by accident

    def test_one_replica_is_started_as_before(self, tmp_path: Path) -> None:
        stack = Stack(tmp_path)
        stack.choose_ports()
        assert stack.replicas == 1 and not stack.uses_postgres
        assert all(stack.replica_env(svc, 1) == {} for svc in SERVICES)
        assert set(stack.ports) == {"redis", "temporal", "temporal_ui", "mail", *SERVICES, "web"}
