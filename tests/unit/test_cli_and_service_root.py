"""What a newcomer meets first: the command line's help and its exit codes, and `/` of every service
(the URLs `ankommen up` prints)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from deploy import cli
from services.kit.migrations import SERVICES
from services.kit.service import create_app
from services.kit.settings import PlatformSettings

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


class TestHelp:
    def test_lists_the_test_command(self) -> None:
        out = run_cli("--help").stdout
        assert "test" in out.split("positional arguments:")[0]
        assert "run the test suite with pytest" in out

    def test_up_names_the_web_app_and_the_mail_sink(self) -> None:
        out = run_cli("--help").stdout
        up = out.split("    up ")[1].split("    down")[0]
        assert "web app" in up and "mail sink" in up

    def test_test_hands_its_arguments_to_pytest(self) -> None:
        args = cli.parser().parse_args(["test", "tests/unit", "-q", "-x"])
        assert args.func is cli.cmd_test
        assert args.pytest_args == ["tests/unit", "-q", "-x"]


class TestDataDirAfterTheSubcommand:
    def test_asyncapi_accepts_it_like_the_others(self, tmp_path: Path) -> None:
        out = tmp_path / "asyncapi.yaml"
        result = run_cli("asyncapi", "--data-dir", str(tmp_path), "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert out.read_text(encoding="utf-8").startswith("asyncapi:")


class TestTraceOfAnUnknownId:
    def _spans(self, data_dir: Path) -> None:
        (data_dir / "traces").mkdir()
        span = {"trace_id": "t1", "span_id": "a", "parent_span_id": None, "name": "POST /intakes", "service": "ankommen-intake",
                "start_ns": 0, "end_ns": 1_000_000, "status": "OK", "attributes": {"ankommen.intake_id": "known-id"}}
        (data_dir / "traces" / "intake.jsonl").write_text(json.dumps(span) + "\n", encoding="utf-8")

    def test_exits_non_zero_and_says_why(self, tmp_path: Path) -> None:
        self._spans(tmp_path)
        result = run_cli("trace", "no-such-id", "--data-dir", str(tmp_path))
        assert result.returncode == 1
        assert "no spans mention no-such-id" in result.stderr

    def test_a_known_id_still_prints_its_tree(self, tmp_path: Path) -> None:
        self._spans(tmp_path)
        result = run_cli("trace", "known-id", "--data-dir", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("trace t1")


class TestServiceRoot:
    @pytest.mark.parametrize("service", SERVICES)
    async def test_names_the_service_and_links_docs_and_health(self, service: str) -> None:
        spec = importlib.import_module(f"services.{service}.app").build()
        app = create_app(spec, PlatformSettings())  # the real app; `/` needs none of its connections
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
            r = await c.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert f"<code>{service}</code>" in r.text and "version 0.1.0" in r.text
        assert 'href="docs"' in r.text and 'href="health"' in r.text
