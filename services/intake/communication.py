"""Newcomer communication (issue 14): the language a household's letters are printed in (the front desk
picks it with the newcomer on the summary and letter screens; intake remembers it per household), the
newcomer's e-mail address for appointment reminders with their consent (personal data: sealed under
the person's data key, kept only while the consent stands) and the reminder e-mail itself, sent in the
household's language the working day before the ABRA clearing appointment (domain.reminder_due_at),
once per appointment, never without consent. Logs, spans and the workflow carry clearing ids and
counts only, never an address or a name."""

from __future__ import annotations

import asyncio
import html
import logging
import smtplib
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import BaseModel
from temporalio import activity

from services.contracts.activities import TaskQueues
from services.contracts.intake_reminders import (
    CLEARING_REMINDERS_WORKFLOW,
    SEND_DUE_CLEARING_REMINDERS,
    RemindersInput,
    RemindersResult,
    reminders_schedule_id,
)
from services.intake import store
from services.intake.crypto import KeyUnavailable
from services.intake.domain import DEFAULT_LETTER_LANGUAGE, LetterLanguageIn, ReminderContactIn, reminder_to_send
from services.intake.handlers import keyring
from services.kit import audit, i18n, telemetry
from services.kit.auth import Principal, Role, require
from services.kit.db import utc_now
from services.kit.errors import NotFound
from services.kit.service import Runtime, RuntimeDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["communication"])
ROLES = (Role.FRONT_DESK,)
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "reminders"
#: appointments further ahead than this cannot be due for a reminder (the working day before, across holidays)
LOOKAHEAD = timedelta(days=10)
SYSTEM_ACTOR = "intake-reminders"


class ContactOut(BaseModel):
    person_id: uuid.UUID
    email: str | None
    reminders_by_email: bool
    consent_at: datetime | None = None


class CommunicationOut(BaseModel):
    household_id: uuid.UUID
    language: str
    abra_place: str
    persons: list[ContactOut]


# ---- API -----------------------------------------------------------------------------------------


@router.get("/households/{id}/communication", response_model=CommunicationOut,
            summary="Letter language, ABRA place and reminder contacts of a household (addresses audit-logged)")
async def get_communication(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*ROLES))]) -> CommunicationOut:
    telemetry.mark(household_id=id)
    allowed = tuple(r.value for r in ROLES)
    async with rt.db.begin() as conn:
        rows = await store.household_persons(conn, id)
        await rt.audit(conn, principal, allowed, "read", "reminder_contacts", id, "ok" if rows else "not_found")
        if not rows:
            raise NotFound("no such household")
        language = await store.letter_language(conn, id) or DEFAULT_LETTER_LANGUAGE
        contacts = await store.reminder_contacts_of(conn, id)
        keys = await store.wrapped_keys(conn, list(contacts))
    persons = []
    for r in rows:
        c = contacts.get(r.id)
        email = _open_email(rt, r.id, c.sealed, keys.get(r.id)) if c is not None else None
        persons.append(ContactOut(person_id=r.id, email=email, reminders_by_email=email is not None, consent_at=c.consent_at if email else None))
    return CommunicationOut(household_id=id, language=language, abra_place=rt.settings.abra_place, persons=persons)


@router.put("/households/{id}/letter-language", response_model=CommunicationOut, summary="Remember the language of a household's letters")
async def put_letter_language(id: uuid.UUID, body: LetterLanguageIn, rt: RuntimeDep,
                              principal: Annotated[Principal, Depends(require(*ROLES))]) -> CommunicationOut:
    telemetry.mark(household_id=id)
    async with rt.db.begin() as conn:
        if await store.household(conn, id) is None:
            raise NotFound("no such household")
        await store.put_letter_language(conn, id, body.language, principal.username, utc_now())
    return await get_communication(id, rt, principal)


@router.put("/persons/{id}/reminder-contact", response_model=ContactOut,
            summary="The newcomer's e-mail for appointment reminders, with consent (consent false deletes the address)")
async def put_reminder_contact(id: uuid.UUID, body: ReminderContactIn, rt: RuntimeDep,
                               principal: Annotated[Principal, Depends(require(*ROLES))]) -> ContactOut:
    telemetry.mark(person_id=id)
    allowed = tuple(r.value for r in ROLES)
    ring = keyring(rt)
    now = utc_now()
    async with rt.db.begin() as conn:
        person = await store.person_row(conn, id)
        wrapped = (await store.wrapped_keys(conn, [id])).get(id) if person is not None else None
        if person is None or wrapped is None:
            await rt.audit(conn, principal, allowed, "write", "reminder_contact", id, "not_found")
            raise NotFound("no such person (or the person's data was erased)")
        if body.consent and body.email:
            await store.put_reminder_contact(conn, id, person.household_id, ring.seal(ring.unwrap(wrapped), id, {"email": body.email}), principal.username, now)
        else:
            await store.delete_reminder_contact(conn, id)
        await rt.audit(conn, principal, allowed, "write", "reminder_contact", id)
    return ContactOut(person_id=id, email=body.email if body.consent else None, reminders_by_email=body.consent, consent_at=now if body.consent else None)


def _open_email(rt: Runtime, person_id: uuid.UUID, sealed: bytes | None, wrapped: bytes | None) -> str | None:
    if sealed is None:
        return None
    ring = keyring(rt)
    try:
        return ring.open(ring.unwrap(wrapped), person_id, sealed).get("email")
    except KeyUnavailable:
        return None  # erased: no reminder, nothing to show


# ---- the reminder e-mail --------------------------------------------------------------------------


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


def _send(host: str, port: int, timeout: float, msg: EmailMessage) -> None:
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.send_message(msg)


async def send_due_reminders(rt: Runtime, now: datetime) -> RemindersResult:
    """Sends every reminder due at `now`: claim (one row per appointment) -> send -> mark sent."""
    s = rt.settings
    async with rt.db.read() as conn:
        candidates = await store.reminder_candidates(conn, now, now + LOOKAHEAD)
    sent = failed = 0
    for row in candidates:
        if not reminder_to_send(consent=True, has_address=row.sealed is not None, clearing_status=row.status, appointment_at=row.appointment_at,
                                already_sent=row.reminder_status == "sent", now=now, hour=s.reminder_hour):
            continue
        if not s.smtp_host:
            failed += 1
            continue
        try:
            async with rt.db.begin() as conn:
                claimed = await store.claim_reminder(conn, row.clearing_id, row.appointment_at, now, now - timedelta(minutes=2 * s.reminder_interval_minutes))
                if not claimed:
                    continue
                wrapped = (await store.wrapped_keys(conn, [row.person_id])).get(row.person_id)
                await audit.record(conn, rt.tables, actor=SYSTEM_ACTOR, role="system", action="read", record_type="reminder_contact", record_id=row.person_id)
        except sa.exc.IntegrityError:
            continue  # another run claimed it first
        address = _open_email(rt, row.person_id, row.sealed, wrapped)
        if address is None:
            async with rt.db.begin() as conn:
                await store.release_reminder(conn, row.clearing_id, row.appointment_at)
            continue
        msg = reminder_message(language=row.language or DEFAULT_LETTER_LANGUAGE, appointment_at=row.appointment_at, place=s.abra_place,
                               to=address, sender=s.smtp_from, clearing_id=row.clearing_id)
        try:
            await asyncio.to_thread(_send, s.smtp_host, s.smtp_port, s.smtp_timeout_s, msg)
        except (OSError, smtplib.SMTPException) as exc:
            failed += 1
            log.warning("reminder for clearing %s not handed to the relay: %s", row.clearing_id, type(exc).__name__)
            async with rt.db.begin() as conn:
                await store.release_reminder(conn, row.clearing_id, row.appointment_at)
            continue
        async with rt.db.begin() as conn:
            await store.mark_reminder_sent(conn, row.clearing_id, row.appointment_at, utc_now())
        sent += 1
        log.info("reminder for clearing %s sent", row.clearing_id)
    return RemindersResult(sent=sent, failed=failed)


def activities(rt: Runtime) -> list[Any]:
    @activity.defn(name=SEND_DUE_CLEARING_REMINDERS)
    async def send_due(inp: RemindersInput) -> RemindersResult:
        result = await send_due_reminders(rt, utc_now())
        telemetry.mark(reminders_sent=result.sent, reminders_failed=result.failed)
        return result

    return [send_due]


async def ensure_schedule(rt: Runtime) -> None:
    """Creates the reminder schedule once (a restart finds it running)."""
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleIntervalSpec, ScheduleSpec

    if not rt.settings.reminders_enabled or rt.temporal is None:
        return
    sid = reminders_schedule_id(rt.platform.tenant)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(CLEARING_REMINDERS_WORKFLOW, RemindersInput(tenant=rt.platform.tenant), id=sid, task_queue=TaskQueues.INTAKE),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=rt.settings.reminder_interval_minutes))]),
    )
    try:
        await rt.temporal.create_schedule(sid, schedule)
        log.info("schedule %s created", sid)
    except ScheduleAlreadyRunningError:
        pass
