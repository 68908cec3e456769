"""`ankommen up` prints the web application's URL and the demo accounts' names and roles, never a
password or its hash."""

from __future__ import annotations

import io
import json
from pathlib import Path

from deploy.stack import print_urls


def test_the_start_output_names_the_web_application_and_the_demo_accounts(tmp_path: Path) -> None:
    users = [{"username": "frontdesk", "roles": ["front_desk"], "password_hash": "$argon2id$secret"},
             {"username": "operator", "roles": ["operator"], "password_hash": "$argon2id$other"}]
    (tmp_path / "users.json").write_text(json.dumps({"users": users}))
    state = {
        "services": {"intake": {"url": "http://127.0.0.1:8101", "docs": "http://127.0.0.1:8101/docs"}},
        "temporal": {"address": "127.0.0.1:7233", "ui": "http://127.0.0.1:8233"}, "redis": {"url": "redis://127.0.0.1:6379/0"},
        "web": {"url": "http://127.0.0.1:8100"}, "data_dir": str(tmp_path),
    }
    out = io.StringIO()
    print_urls(state, out)
    text = out.getvalue()
    assert "web        http://127.0.0.1:8100" in text
    assert "    frontdesk     front_desk" in text and "    operator      operator" in text
    assert "argon2" not in text
