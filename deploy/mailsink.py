"""The embedded stack's mail sink: an SMTP server on loopback that keeps every message it receives as
an .eml file in `<data dir>/mail/` (newest last by name) instead of sending it on. Reporting's delivery
workflow sends the funder reports there, so on the embedded stack a delivery succeeds and the reporting
officer can open what a funder would have received; funding's mails to organisations land here too.
A message whose Message-ID was kept already is acknowledged and dropped (a sender that resends after a
crash leaves one copy). Production uses the city's mail relay (REPORTING_SMTP_HOST, FUNDING_SMTP_HOST).

Run: python -m deploy.mailsink --port P --dir D
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import os
import signal
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

_counter = itertools.count(1)


class KeepMessages:
    """aiosmtpd handler: one file per message, written atomically (a reader never sees half a mail)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook name
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{os.getpid()}-{next(_counter)}.eml"
        tmp = self.directory / f".{name}.tmp"
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        message_id = (BytesHeaderParser().parsebytes(data).get("Message-ID") or "").strip()
        seen = self.directory / ".ids" / hashlib.sha256(message_id.encode()).hexdigest() if message_id else None
        if seen is not None and seen.exists():
            return "250 OK: already kept (same Message-ID)"
        tmp.write_bytes(data)
        tmp.replace(self.directory / name)
        if seen is not None:
            seen.parent.mkdir(exist_ok=True)
            seen.touch()
        return "250 OK: kept in the embedded mail sink"


async def serve(host: str, port: int, directory: Path) -> None:
    handler = KeepMessages(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="ankommen-mailsink"), host=host, port=port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", type=Path, required=True)
    a = p.parse_args()
    asyncio.run(serve(a.host, a.port, a.dir))


if __name__ == "__main__":
    main()
