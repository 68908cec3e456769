"""Drive the embedded stack as a user would: `ankommen up --detach`, HTTP with tokens, `ankommen down`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FAST_RECLAIM = {"ANKOMMEN_RECLAIM_IDLE_MS": "1500", "ANKOMMEN_RECLAIM_POLL_MS": "200"}
#: The test stack's Temporal server allows per-workflow time skipping: a scenario test advances one
#: workflow's clock with `RunningStack.fast_forward(workflow_id, timedelta(days=10))` instead of waiting.
TIME_SKIPPING = {"ANKOMMEN_TEMPORAL_TIME_SKIPPING": "true"}


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", "--data-dir", str(data_dir), *args],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, check=check, timeout=timeout,
    )


@dataclass
class RunningStack:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def up(self) -> None:
        result = cli(self.data_dir, "up", "--detach", env=self.env, check=False)
        if result.returncode != 0:
            log = (self.data_dir / "logs" / "stack.log")
            raise RuntimeError(f"ankommen up failed: {result.stderr}\n{log.read_text() if log.exists() else ''}")

    def down(self) -> None:
        cli(self.data_dir, "down", check=False)

    @property
    def state(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "stack.json").read_text())

    def url(self, service: str) -> str:
        return self.state["services"][service]["url"]

    @property
    def redis_url(self) -> str:
        return self.state["redis"]["url"]

    @property
    def temporal_address(self) -> str:
        return self.state["temporal"]["address"]

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.tokens[user] = cli(self.data_dir, "token", "--user", user).stdout.strip()
        return self.tokens[user]

    def client(self, service: str, user: str | None = "service", timeout: float = 10.0) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.AsyncClient(base_url=self.url(service), headers=headers, timeout=timeout)

    async def temporal(self) -> Any:
        """A Temporal client to the stack's server (pydantic payloads, as the services use)."""
        from temporalio.client import Client
        from temporalio.contrib.pydantic import pydantic_data_converter

        if "temporal" not in self.__dict__.setdefault("_clients", {}):
            self.__dict__["_clients"]["temporal"] = await Client.connect(self.temporal_address, data_converter=pydantic_data_converter)
        return self.__dict__["_clients"]["temporal"]

    async def fast_forward(self, workflow_id: str, duration: Any) -> bool:
        """Advances the virtual clock of one running workflow by `duration` and waits until its timers
        up to then have fired (needs the stack started with TIME_SKIPPING)."""
        from temporalio.testing import TimeSkipper

        client = await self.temporal()
        return await TimeSkipper(client).fast_forward(client.get_workflow_handle(workflow_id), duration)

    @property
    def web_url(self) -> str:
        return self.state["web"]["url"]

    def password(self, user: str) -> str:
        """A demo account's password, from the credentials file written at the stack's first start."""
        for line in (self.data_dir / "credentials.txt").read_text().splitlines()[1:]:
            parts = line.split()
            if parts and parts[0] == user:
                return parts[1]
        raise KeyError(user)

    def pids(self) -> list[int]:
        s = self.state
        return [s["supervisor_pid"], s["redis"]["pid"], s["temporal"]["pid"], *(v["pid"] for v in s["services"].values())]


def person(given: str = "Ivana", family: str = "Petrova", born: str = "1990-04-02", nationality: str = "SY", **extra: Any) -> dict[str, Any]:
    """A complete intake interview of one person; by default a Syrian recognised refugee (casework route).
    Every field can be overridden through `extra` (e.g. residence_status, move_in_date, relation)."""
    return {
        "given_name": given, "family_name": family, "date_of_birth": born, "sex": "female", "relation": "head",
        "nationality": nationality, "languages": [{"code": "ar"}], "german_level": "A1", "literate": True,
        "schooling_years": 10, "highest_certificate": "secondary", "vocational_qualification": None,
        "work_experience_years": 5, "able_to_work": True, "wants_registration": True, "health_insurance": "statutory",
        "residence_status": "eu_free_movement" if nationality in ("BG", "RO") else "german" if nationality == "DE" else "recognised_refugee",
        "move_in_date": "2026-11-02",
        "consents": [{"partner": "social_casework", "purpose": "counselling", "given_on": "2026-11-02"}], **extra,
    }


def intake_payload(*persons: dict[str, Any], district: str = "Westen") -> dict[str, Any]:
    return {"household": {"district": district, "persons": list(persons) or [person()]}}
