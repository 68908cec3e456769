"""Funding's mail outbox and SMTP relay against a real SMTP server (aiosmtpd with the embedded stack's
mail sink handler, deploy/mailsink.py) and a real database: a queued mail arrives once; queueing the same
key twice queues one mail; a crash between the SMTP hand-over and the mark resends with the same
Message-ID, which the sink drops; with SMTP down the mail stays queued and goes out once it is back."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from deploy.mailsink import KeepMessages
from deploy.stack import free_port
from services.funding import mail, store, store_mail
from services.funding.settings import FundingSettings
from services.kit.db import utc_now
from tests.support.funding import funding_runtime

ADDRESS = "kontakt@fluechtlingshilfe.example"


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    folder, port = tmp_path / "mail", free_port()
    controller = Controller(KeepMessages(folder), hostname="127.0.0.1", port=port)
    controller.start()
    yield folder, port
    controller.stop()


@pytest.fixture
async def rt(tmp_path: Path, sink: tuple[Path, int]):  # type: ignore[no-untyped-def]
    runtime = await funding_runtime(f"sqlite+aiosqlite:///{tmp_path / 'funding.db'}")
    runtime.settings = FundingSettings(smtp_host="127.0.0.1", smtp_port=sink[1], smtp_timeout_s=5)
    yield runtime
    await runtime.db.dispose()


def kept(folder: Path) -> list[Any]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(folder.glob("*.eml"))]


async def queue(rt: Any, key: str) -> uuid.UUID:
    app = uuid.uuid4()
    subject, body = mail.rework_mail("Sprachcafé", "Beleg 2 ist unleserlich.")
    async with rt.db.begin() as conn:
        await store_mail.enqueue_mail(conn, key=key, kind="rework", application_id=app, recipient=ADDRESS, subject=subject, body=body, now=utc_now())
    return app


async def rows(rt: Any) -> list[Any]:
    async with rt.db.read() as conn:
        return list((await conn.execute(sa.select(store.mail_outbox))).all())


class TestMailOutbox:
    async def test_a_queued_mail_arrives_once_and_a_second_enqueue_of_its_key_adds_nothing(self, rt: Any, sink: tuple[Path, int]) -> None:
        await queue(rt, "rework-a-1")
        await queue(rt, "rework-a-1")  # a retried activity
        assert await mail.send_due(rt) == 1
        assert await mail.send_due(rt) == 0
        (msg,) = kept(sink[0])
        assert msg["To"] == ADDRESS and "bitte überarbeiten" in msg["Subject"]
        assert "Beleg 2 ist unleserlich." in msg.get_content()
        (row,) = await rows(rt)
        assert row.sent_at is not None and msg["Message-ID"] == mail.message_id(row.id)

    async def test_a_crash_after_the_hand_over_resends_with_the_same_message_id_and_the_sink_keeps_one(
        self, rt: Any, sink: tuple[Path, int], monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await queue(rt, "decision-b")

        async def crash(*args: Any) -> None:
            raise RuntimeError("process killed before the mark")

        monkeypatch.setattr(store_mail, "mark_mail_sent", crash)
        with pytest.raises(RuntimeError):
            await mail.send_due(rt, lease_s=0)  # handed over, never marked
        monkeypatch.undo()
        assert (await rows(rt))[0].sent_at is None
        assert await mail.send_due(rt) == 1  # the lease ran out: sent again
        assert len(kept(sink[0])) == 1  # same Message-ID: the sink dropped the second copy
        assert (await rows(rt))[0].attempts == 2

    async def test_with_smtp_down_the_mail_stays_queued_and_goes_out_when_it_is_back(self, rt: Any, sink: tuple[Path, int]) -> None:
        await queue(rt, "proof-reminder_4w-c")
        port = rt.settings.smtp_port
        rt.settings = FundingSettings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_s=2)
        assert await mail.send_due(rt) == 0
        (row,) = await rows(rt)
        assert row.sent_at is None and row.attempts == 1 and row.last_error == "SMTP: ConnectionRefusedError"
        assert row.next_attempt_at > utc_now()  # backs off
        rt.settings = FundingSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_s=5)
        async with rt.db.begin() as conn:  # as if the back-off had passed
            await conn.execute(store.mail_outbox.update().values(next_attempt_at=utc_now()))
        assert await mail.send_due(rt) == 1
        assert len(kept(sink[0])) == 1
