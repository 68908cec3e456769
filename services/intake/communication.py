"""The appointment reminder e-mail (issue 14): its text in the household's language, sent in the
household's language the working day before the ABRA clearing appointment (domain.reminder_due_at), and
its hand-over to the SMTP relay. The text's catalogues are `locale/`; the addresses are never logged."""

from __future__ import annotations

import html
import smtplib
import uuid
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from services.kit import i18n

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "reminders"


def reminder_message(*, language: str, appointment_at: datetime, place: str, to: str, sender: str, clearing_id: uuid.UUID) -> EmailMessage:
    """The reminder in the household's language (plain text and HTML with the language's direction).
    The place stays as recorded; date and time are written the language's way (Babel). Its Message-ID
    is fixed per appointment, so a receiver can drop the rare duplicate of a crashed run."""
    language = i18n.language_or_default(language)
    _ = i18n.translations(LOCALE_DIR, DOMAIN, language).gettext
    values = {"date": i18n.format_date(appointment_at, language), "time": i18n.format_time(appointment_at, language), "place": place}
    lines = [
        _("Guten Tag,"),
        _("wir erinnern Sie an Ihren Termin bei ABRA. Das ist das Gespräch vor der Anmeldung Ihres Wohnsitzes."),
        _("Datum: %(date)s") % values,
        _("Uhrzeit: %(time)s") % values,
        _("Ort: %(place)s") % values,
        _("Bitte bringen Sie Ihren Ausweis oder Reisepass mit."),
        _("Können Sie nicht kommen? Bitte sagen Sie ABRA vorher Bescheid."),
        _("Sie bekommen diese E-Mail, weil Sie einer Erinnerung per E-Mail zugestimmt haben. Sie möchten keine E-Mails mehr? Bitte sagen Sie es im Bürgeramt."),
        _("Mit freundlichen Grüßen"),
        "Amt für Soziale Integration, Stadt Hamm",
    ]
    msg = EmailMessage()
    msg["Subject"] = _("Erinnerung: Ihr Termin bei ABRA am %(date)s") % values
    msg["From"] = sender
    msg["To"] = to
    msg["Message-ID"] = f"<clearing-reminder-{clearing_id}-{int(appointment_at.timestamp())}@ankommen>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n\n".join(lines) + "\n")
    direction = i18n.direction(language)
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    msg.add_alternative(f'<!doctype html><html lang="{language}" dir="{direction}"><body>{paragraphs}</body></html>', subtype="html")
    msg["Content-Language"] = language  # after add_alternative, which moves Content-* headers into the first part
    return msg


def send(host: str, port: int, timeout: float, msg: EmailMessage) -> None:
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.send_message(msg)
