"""Intake's reminder run against a real database (SQLite and PostgreSQL) and the real mail sink (issue 14):
a due reminder goes out once per appointment, only with consent, in the household's language; a relay
that is down fails the run's mail without losing it (the next run sends it); a rebooked appointment gets
its own reminder; an erased person gets none; the address is sealed in the database."""

from __future__ import annotations

import asyncio
import email
import email.policy
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from deploy.stack import _smtp_ready, free_port
from services.intake import api_communication, handlers, handlers_communication, store, store_clearing
from services.intake.crypto import generate_master_key
from services.intake.runtime import IntakeRuntime
from services.intake.schemas import IntakeIn
from services.intake.schemas_communication import LetterLanguageIn, ReminderContactIn
from services.intake.settings import IntakeSettings
from services.kit.auth import Principal
from services.kit.db import Database
from services.kit.migrations import upgrade
from services.kit.outbox import Outbox
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings
from tests.support.servers import wait_until
from tests.support.stack import intake_payload, person

FRONT_DESK = Principal("frontdesk", frozenset({"front_desk"}))
OPERATOR = Principal("operator", frozenset({"operator"}))
NOW = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # Tuesday 11:00 in Hamm
APPOINTMENT = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)  # Wednesday: the reminder is due since Tuesday 09:00


@pytest.fixture
def sink(tmp_path: Path):  # type: ignore[no-untyped-def]
    port, folder = free_port(), tmp_path / "mail"
    proc = subprocess.Popen([sys.executable, "-m", "deploy.mailsink", "--port", str(port), "--dir", str(folder)])
    wait_until(lambda: _smtp_ready(port), proc, "mail sink")
    yield port, folder
    proc.terminate()
    proc.wait(10)


@pytest.fixture
async def rt(database_url: str, sink: tuple[int, Path]):  # type: ignore[no-untyped-def]
    await asyncio.to_thread(upgrade, "intake", database_url)
    db = Database(database_url)
    settings = IntakeSettings(master_key=generate_master_key(), smtp_host="127.0.0.1", smtp_port=sink[0])
    yield IntakeRuntime("intake", PlatformSettings(), settings, db, store.kit, Outbox(db, store.kit), None, None)  # type: ignore[arg-type]
    await db.dispose()


async def newcomer(rt: Runtime, given: str, appointment: datetime = APPOINTMENT) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A Romanian adult's intake with a booked clearing appointment: (household, person, clearing)."""
    payload = intake_payload(person(given, f"Pop{uuid.uuid4().hex[:6]}", "1990-01-01", "RO", move_in_date="2026-12-01"))
    created, _ = await handlers.complete_intake(rt, FRONT_DESK, IntakeIn.model_validate(payload), str(uuid.uuid4()))
    household, pid = uuid.UUID(str(created.household_id)), uuid.UUID(str(created.person_ids[0]))
    async with rt.db.begin() as conn:  # what the clearing workflow's booking activity records
        await conn.execute(store.clearings.update().where(store.clearings.c.person_id == pid).values(appointment_at=appointment, attempt=1))
        clearing = (await store_clearing.clearing_of_person(conn, pid)).id
    return household, pid, clearing


def kept(folder: Path, clearing: uuid.UUID) -> list[email.message.EmailMessage]:
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(folder.glob("*.eml"))]
    return [m for m in mails if str(m["Message-ID"]).strip().startswith(f"<clearing-reminder-{clearing}-")]  # type: ignore[misc]


class TestTheReminderRun:
    async def test_once_with_consent_in_the_households_language_and_never_without(self, rt: Runtime, sink: tuple[int, Path]) -> None:
        _, folder = sink
        household, pid, clearing = await newcomer(rt, "Ana")
        _, _, silent = await newcomer(rt, "Ion")
        await api_communication.put_letter_language(household, LetterLanguageIn(language="uk"), rt, FRONT_DESK)
        await api_communication.put_reminder_contact(pid, ReminderContactIn(email="ana@example.org", consent=True), rt, FRONT_DESK)

        # 08:00 in Hamm: not due yet
        assert await handlers_communication.send_due_reminders(rt, NOW - timedelta(hours=3)) == handlers_communication.RemindersResult(sent=0)
        assert (await handlers_communication.send_due_reminders(rt, NOW)).sent == 1
        assert (await handlers_communication.send_due_reminders(rt, NOW + timedelta(minutes=15))).sent == 0  # once
        (mail,) = kept(folder, clearing)
        assert str(mail["To"]) == "ana@example.org" and str(mail["Content-Language"]) == "uk"
        assert str(mail["Subject"]) == "Нагадування: ваш прийом в ABRA середа, 9 грудня 2026\u202fр."
        assert kept(folder, silent) == []
        async with rt.db.read() as conn:
            sealed = (await conn.execute(sa.select(store.reminder_contacts.c.sealed))).scalars().all()
            audit = (await conn.execute(sa.select(store.kit.audit.c.actor).where(store.kit.audit.c.record_type == "reminder_contact"))).scalars().all()
        assert all(b"ana@example.org" not in blob for blob in sealed)
        assert "intake-reminders" in audit and "frontdesk" in audit

    async def test_a_relay_that_is_down_loses_nothing(self, rt: Runtime, sink: tuple[int, Path]) -> None:
        port, folder = sink
        _, pid, clearing = await newcomer(rt, "Maria")
        await api_communication.put_reminder_contact(pid, ReminderContactIn(email="maria@example.org", consent=True), rt, FRONT_DESK)
        rt.settings.smtp_port = free_port()  # nobody listens there
        assert await handlers_communication.send_due_reminders(rt, NOW) == handlers_communication.RemindersResult(sent=0, failed=1)
        rt.settings.smtp_port = port
        assert (await handlers_communication.send_due_reminders(rt, NOW + timedelta(minutes=15))).sent == 1
        assert len(kept(folder, clearing)) == 1

    async def test_a_rebooked_appointment_gets_its_own_reminder(self, rt: Runtime, sink: tuple[int, Path]) -> None:
        _, folder = sink
        _, pid, clearing = await newcomer(rt, "Elena")
        await api_communication.put_reminder_contact(pid, ReminderContactIn(email="elena@example.org", consent=True), rt, FRONT_DESK)
        assert (await handlers_communication.send_due_reminders(rt, NOW)).sent == 1
        later = APPOINTMENT + timedelta(days=7)
        async with rt.db.begin() as conn:
            await conn.execute(store.clearings.update().where(store.clearings.c.id == clearing).values(appointment_at=later, attempt=2))
        assert (await handlers_communication.send_due_reminders(rt, NOW + timedelta(days=7))).sent == 1
        assert len(kept(folder, clearing)) == 2

    async def test_withdrawn_consent_or_erasure_sends_nothing(self, rt: Runtime, sink: tuple[int, Path]) -> None:
        _, folder = sink
        _, withdrawn, c1 = await newcomer(rt, "Radu")
        _, erased, c2 = await newcomer(rt, "Dan")
        for pid in (withdrawn, erased):
            await api_communication.put_reminder_contact(pid, ReminderContactIn(email="x@example.org", consent=True), rt, FRONT_DESK)
        await api_communication.put_reminder_contact(withdrawn, ReminderContactIn(email=None, consent=False), rt, FRONT_DESK)
        await handlers.erase_person(rt, OPERATOR, erased, ("operator",))
        assert (await handlers_communication.send_due_reminders(rt, NOW)).sent == 0
        assert kept(folder, c1) == [] and kept(folder, c2) == []
