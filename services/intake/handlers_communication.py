"""Newcomer communication (issue 14): the language a household's letters are printed in (the front desk
picks it with the newcomer on the summary and letter screens; intake remembers it per household), the
newcomer's e-mail address for appointment reminders with their consent (personal data: sealed under
the person's data key, kept only while the consent stands) and the sending of the reminders that are
due (once per appointment, never without consent; communication.py writes the e-mail). Logs, spans and
the workflow carry clearing ids and counts only, never an address or a name."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from services.contracts.activities import TaskQueues
from services.contracts.intake_reminders import RemindersInput, RemindersResult, reminders_schedule_id
from services.intake import communication, store, store_communication
from services.intake.crypto import KeyUnavailable
from services.intake.domain import DEFAULT_LETTER_LANGUAGE, reminder_to_send
from services.intake.runtime import IntakeRuntime
from services.intake.schemas_communication import CommunicationOut, ContactOut, ReminderContactIn
from services.kit import audit
from services.kit.auth import Principal
from services.kit.db import utc_now
from services.kit.errors import NotFound
from workflows.clearing_reminders import ClearingReminders

log = logging.getLogger(__name__)
ROLES = ("front_desk",)
#: appointments further ahead than this cannot be due for a reminder (the working day before, across holidays)
LOOKAHEAD = timedelta(days=10)
SYSTEM_ACTOR = "intake-reminders"


async def household_communication(rt: IntakeRuntime, principal: Principal, household_id: uuid.UUID) -> CommunicationOut:
    """The household's letter language, the ABRA place and each person's reminder contact (addresses audit-logged)."""
    async with rt.db.begin() as conn:
        rows = await store.household_persons(conn, household_id)
        await rt.audit(conn, principal, ROLES, "read", "reminder_contacts", household_id, "ok" if rows else "not_found")
        if not rows:
            raise NotFound("no such household")
        language = await store_communication.letter_language(conn, household_id) or DEFAULT_LETTER_LANGUAGE
        contacts = await store_communication.reminder_contacts_of(conn, household_id)
        keys = await store.wrapped_keys(conn, list(contacts))
    persons = []
    for r in rows:
        c = contacts.get(r.id)
        email = _open_email(rt, r.id, c.sealed, keys.get(r.id)) if c is not None else None
        persons.append(ContactOut(person_id=r.id, email=email, reminders_by_email=email is not None, consent_at=c.consent_at if email else None))
    return CommunicationOut(household_id=household_id, language=language, abra_place=rt.settings.abra_place, persons=persons)


async def set_letter_language(rt: IntakeRuntime, principal: Principal, household_id: uuid.UUID, language: str) -> None:
    async with rt.db.begin() as conn:
        if await store.household(conn, household_id) is None:
            raise NotFound("no such household")
        await store_communication.put_letter_language(conn, household_id, language, principal.username, utc_now())
        await rt.audit(conn, principal, ROLES, "write", "letter_language", household_id)


async def set_reminder_contact(rt: IntakeRuntime, principal: Principal, person_id: uuid.UUID, body: ReminderContactIn) -> ContactOut:
    """Stores the address sealed under the person's data key with the consent; without consent it is deleted."""
    ring = rt.keyring
    now = utc_now()
    async with rt.db.begin() as conn:
        person = await store.person_row(conn, person_id)
        wrapped = (await store.wrapped_keys(conn, [person_id])).get(person_id) if person is not None else None
        if person is None or wrapped is None:
            await rt.audit(conn, principal, ROLES, "write", "reminder_contact", person_id, "not_found")
            raise NotFound("no such person (or the person's data was erased)")
        if body.consent and body.email:
            sealed = ring.seal(ring.unwrap(wrapped), person_id, {"email": body.email})
            await store_communication.put_reminder_contact(conn, person_id, person.household_id, sealed, principal.username, now)
        else:
            await store_communication.delete_reminder_contact(conn, person_id)
        await rt.audit(conn, principal, ROLES, "write", "reminder_contact", person_id)
    return ContactOut(
        person_id=person_id, email=body.email if body.consent else None, reminders_by_email=body.consent, consent_at=now if body.consent else None
    )


def _open_email(rt: IntakeRuntime, person_id: uuid.UUID, sealed: bytes | None, wrapped: bytes | None) -> str | None:
    if sealed is None:
        return None
    ring = rt.keyring
    try:
        return ring.open(ring.unwrap(wrapped), person_id, sealed).get("email")
    except KeyUnavailable:
        return None  # erased: no reminder, nothing to show


async def send_due_reminders(rt: IntakeRuntime, now: datetime) -> RemindersResult:
    """Sends every reminder due at `now`: claim (one row per appointment) -> send -> mark sent."""
    s = rt.settings
    async with rt.db.read() as conn:
        candidates = await store_communication.reminder_candidates(conn, now, now + LOOKAHEAD)
    sent = failed = 0
    for row in candidates:
        if not reminder_to_send(consent=True, has_address=row.sealed is not None, clearing_status=row.status, appointment_at=row.appointment_at,
                                already_sent=row.reminder_status == "sent", now=now, hour=s.reminder_hour):
            continue
        if not s.smtp_host:
            failed += 1
            continue
        outcome = await _send_one(rt, row, now)
        sent, failed = sent + (outcome == "sent"), failed + (outcome == "failed")
    return RemindersResult(sent=sent, failed=failed)


async def _send_one(rt: IntakeRuntime, row: sa.Row, now: datetime) -> str | None:
    """One due reminder: "sent", "failed" (the relay refused; the claim is given back) or None (taken by
    another run, or the address was erased meanwhile)."""
    s = rt.settings
    try:
        async with rt.db.begin() as conn:
            stale_before = now - timedelta(minutes=2 * s.reminder_interval_minutes)
            claimed = await store_communication.claim_reminder(conn, row.clearing_id, row.appointment_at, now, stale_before)
            if not claimed:
                return None
            wrapped = (await store.wrapped_keys(conn, [row.person_id])).get(row.person_id)
            await audit.record(conn, rt.audit_chain, actor=SYSTEM_ACTOR, role="system", action="read", record_type="reminder_contact", record_id=row.person_id)
    except sa.exc.IntegrityError:
        return None  # another run claimed it first
    address = _open_email(rt, row.person_id, row.sealed, wrapped)
    if address is None:
        async with rt.db.begin() as conn:
            await store_communication.release_reminder(conn, row.clearing_id, row.appointment_at)
        return None
    msg = communication.reminder_message(language=row.language or DEFAULT_LETTER_LANGUAGE, appointment_at=row.appointment_at, place=s.abra_place,
                                         to=address, sender=s.smtp_from, clearing_id=row.clearing_id)
    try:
        await asyncio.to_thread(communication.send, s.smtp_host, s.smtp_port, s.smtp_timeout_s, msg)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("reminder for clearing %s not handed to the relay: %s", row.clearing_id, type(exc).__name__)
        async with rt.db.begin() as conn:
            await store_communication.release_reminder(conn, row.clearing_id, row.appointment_at)
        return "failed"
    async with rt.db.begin() as conn:
        await store_communication.mark_reminder_sent(conn, row.clearing_id, row.appointment_at, utc_now())
    log.info("reminder for clearing %s sent", row.clearing_id)
    return "sent"


async def ensure_schedule(rt: IntakeRuntime) -> None:
    """Creates the reminder schedule once (a restart finds it running)."""
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleIntervalSpec, ScheduleSpec

    if not rt.settings.reminders_enabled or rt.temporal is None:
        return
    sid = reminders_schedule_id(rt.platform.tenant)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(ClearingReminders.run, RemindersInput(tenant=rt.platform.tenant), id=sid, task_queue=TaskQueues.INTAKE),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=rt.settings.reminder_interval_minutes))]),
    )
    try:
        await rt.temporal.create_schedule(sid, schedule)
        log.info("schedule %s created", sid)
    except ScheduleAlreadyRunningError:
        pass
