"""The e-mail a report is delivered with (DOMAIN.md flow 7 "delivered automatically"), and sending it."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage
from typing import Any

#: MIME type of each attached format.
ATTACHMENT_TYPES = {
    "pdf": ("application", "pdf"), "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "csv": ("text", "csv"), "json": ("application", "json"),
}


def build_message(report: Any, files: dict[str, bytes], recipients: list[str], sender: str) -> EmailMessage:
    """The e-mail of a report: fixed Message-ID per report (a receiver can drop a duplicate), the four files attached."""
    msg = EmailMessage()
    msg["Subject"] = subject(report)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = f"<report-{report.report_id}@ankommen>"
    msg.set_content(
        f"Guten Tag,\n\nanbei der Bericht für den Zeitraum {report.period} (PDF, XLSX, CSV, JSON).\n"
        "Die Berichte enthalten nur zusammengefasste Zahlen; kleine Fallzahlen sind gesperrt.\n\nAmt für Soziale Integration\n"
    )
    for fmt in ("pdf", "xlsx", "csv", "json"):
        if fmt in files:
            main, sub = ATTACHMENT_TYPES[fmt]
            msg.add_attachment(files[fmt], maintype=main, subtype=sub, filename=f"bericht-{report.period}-{report.kind}.{fmt}")
    return msg


def subject(report: Any) -> str:
    """The report's own German title (e.g. "Förderbericht Stiftung Mercator · 2026-Q2")."""
    try:
        title = json.loads(report.model).get("title")
    except (TypeError, ValueError, AttributeError):
        title = None
    return str(title) if title else f"Bericht {report.kind} {report.funder or ''} {report.period}".replace("  ", " ")


def send(host: str, port: int, timeout: float, msg: EmailMessage) -> None:
    """Hands the message to the SMTP server (blocking: run it in a thread)."""
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.send_message(msg)
