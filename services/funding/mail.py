"""E-mails of the discretionary fund to the applying organisations (decision made, proof of use due,
rework requested) and the relay that hands them to SMTP.

A mail is written into `mail_outbox` in the same transaction as the change that causes it (a crash
before the commit queues nothing, a crash after it loses nothing: the relay finds the row). The relay
leases one due row, sends it and marks it sent; a crash between the SMTP hand-over and the mark sends it
again on the next lease, with the same Message-ID (`<funding-mail-<id>@ankommen>`), which receivers and
the embedded mail sink use to drop the duplicate. SMTP failures back off (doubling, capped at
FUNDING_MAIL_MAX_BACKOFF_S); without FUNDING_SMTP_HOST mails stay queued. Logs and spans name the mail id and kind only, never the address
or the text."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import uuid
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from opentelemetry import trace

from services.funding import store_mail
from services.funding.runtime import FundingRuntime
from services.kit.db import utc_now

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

SIGNATURE = "\n\nMit freundlichen Grüßen\nGeschäftsführung des Integrationskonzepts (Verfügungsfonds)\n"


def _euro(cents: int) -> str:
    return f"{cents / 100:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") + " €"


def _de(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def decision_mail(title: str, decision: str, amount_cents: int, drawdowns: bool) -> tuple[str, str]:
    """(subject, body) of the steering group's decision on an application."""
    if decision == "approved":
        how = ("Sie können das Geld in Teilbeträgen abrufen (Mittelabruf im Antragsportal)." if drawdowns
               else "Der Betrag wird Ihnen von der Stadtkasse ausgezahlt.")
        body = (f"Guten Tag,\n\ndie Lenkungsgruppe hat Ihre Maßnahme „{title}“ mit {_euro(amount_cents)} aus dem Verfügungsfonds bewilligt. "
                f"{how}\nNach dem Ende der Maßnahme ist ein Verwendungsnachweis mit Belegen fällig.")
        return f"Verfügungsfonds: Ihre Maßnahme „{title}“ ist bewilligt", body + SIGNATURE
    body = (f"Guten Tag,\n\ndie Lenkungsgruppe hat Ihren Antrag auf Förderung der Maßnahme „{title}“ aus dem Verfügungsfonds abgelehnt. "
            "Die Begründung erhalten Sie auf Nachfrage bei der Geschäftsführung.")
    return f"Verfügungsfonds: Entscheidung über „{title}“", body + SIGNATURE


def reminder_mail(title: str, due_on: date, weeks: int | None) -> tuple[str, str]:
    when = f"in {weeks} Woche{'n' if weeks != 1 else ''}" if weeks else "bald"
    body = (f"Guten Tag,\n\nder Verwendungsnachweis für Ihre Maßnahme „{title}“ ist {when} fällig, am {_de(due_on)}. "
            "Bitte reichen Sie ihn im Antragsportal mit den Ausgaben und Belegen (PDF, PNG oder JPEG) ein.")
    return f"Erinnerung: Verwendungsnachweis „{title}“ fällig am {_de(due_on)}", body + SIGNATURE


def rework_mail(title: str, reason: str) -> tuple[str, str]:
    body = (f"Guten Tag,\n\nbitte überarbeiten Sie den Verwendungsnachweis für Ihre Maßnahme „{title}“:\n\n{reason}\n\n"
            "Sie können ihn im Antragsportal erneut einreichen.")
    return f"Verfügungsfonds: Verwendungsnachweis „{title}“ bitte überarbeiten", body + SIGNATURE


def message_id(mail_id: uuid.UUID) -> str:
    return f"<funding-mail-{mail_id}@ankommen>"


def build(row: Any, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = sender
    msg["To"] = row.recipient
    msg["Message-ID"] = message_id(row.id)
    msg["Date"] = format_datetime(row.created_at)
    msg.set_content(row.body)
    return msg


def _send(host: str, port: int, timeout: float, msg: EmailMessage) -> None:
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.send_message(msg)


async def send_due(rt: FundingRuntime, *, lease_s: float = 120.0) -> int:
    """Sends every mail that is due now; returns how many were handed to SMTP."""
    s = rt.settings
    if not s.smtp_host:
        return 0
    sent = 0
    while True:
        now = utc_now()
        async with rt.db.begin() as conn:
            row = await store_mail.claim_mail(conn, now, now + timedelta(seconds=lease_s))
        if row is None:
            return sent
        with tracer.start_as_current_span("funding.mail.send", attributes={"mail.id": str(row.id), "mail.kind": row.kind}) as span:
            try:
                await asyncio.to_thread(_send, s.smtp_host, s.smtp_port, s.smtp_timeout_s, build(row, s.smtp_from))
            except (OSError, smtplib.SMTPException) as exc:
                backoff = min(s.mail_max_backoff_s, 2.0 ** min(row.attempts + 1, 20))
                async with rt.db.begin() as conn:
                    await store_mail.mark_mail_failed(conn, row.id, utc_now() + timedelta(seconds=backoff), f"SMTP: {type(exc).__name__}")
                span.set_attribute("mail.error", type(exc).__name__)
                log.warning("mail %s (%s) not handed over: %s; next attempt in %.0f s", row.id, row.kind, type(exc).__name__, backoff)
                return sent
            async with rt.db.begin() as conn:
                await store_mail.mark_mail_sent(conn, row.id, utc_now())
        sent += 1


async def relay_forever(rt: FundingRuntime) -> None:
    """The funding process's mail relay (a background task next to the event relay)."""
    while True:
        try:
            await send_due(rt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("mail relay round failed")
        await asyncio.sleep(rt.settings.mail_poll_s)
