"""The embedded stack's mail sink keeps every message as an .eml file (deploy/mailsink.py)."""

from __future__ import annotations

import email
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from deploy.stack import _smtp_ready, free_port
from tests.support.servers import wait_until


def test_a_message_sent_to_the_sink_is_kept_as_an_eml_file(tmp_path: Path) -> None:
    port, folder = free_port(), tmp_path / "mail"
    proc = subprocess.Popen([sys.executable, "-m", "deploy.mailsink", "--port", str(port), "--dir", str(folder)])
    try:
        wait_until(lambda: _smtp_ready(port), proc, "mail sink")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "berichte@ankommen.example", "foerderer@example.org", "Bericht 2026-Q3"
        msg.set_content("Anbei der Bericht.")
        msg.add_attachment(b"%PDF-1.7 test", maintype="application", subtype="pdf", filename="bericht.pdf")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(msg)
            smtp.send_message(msg)
        kept = sorted(folder.glob("*.eml"))
        assert len(kept) == 2 and not list(folder.glob(".*.tmp"))
        back = email.message_from_bytes(kept[0].read_bytes())
        assert back["Subject"] == "Bericht 2026-Q3"
        assert [p.get_filename() for p in back.walk() if p.get_filename()] == ["bericht.pdf"]
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
