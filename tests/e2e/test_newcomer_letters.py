"""Newcomer communication in their language through the whole embedded stack (issue 14): the clerk picks
the language with the newcomer, intake remembers it per household, the summary and the ABRA invitation
print in it (Arabic right to left, shaped in the PDF), and intake's reminder schedule sends the e-mail
reminder the working day before the clearing appointment to a consenting newcomer only, once."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pypdfium2 as pdfium
import pytest

from services.contracts.intake_reminders import RemindersResult, reminders_schedule_id
from services.contracts.workdays import BERLIN
from tests.e2e.test_web import romanian_with_appointment
from tests.support.eventually import eventually
from tests.support.stack import RunningStack
from tests.support.web import csrf_of, sign_in, web_client
from tests.unit.test_newcomer_languages import presentation_forms, unicode_targets

pytestmark = pytest.mark.stack
PLACE = "Beratungsstelle ABRA, Kommunales Jobcenter Hamm"  # INTAKE_ABRA_PLACE's default, printed as it is


async def soon_slot(stack: RunningStack) -> None:
    """A slot 40 minutes from now: the booking takes it (or an earlier one), so the appointment is today
    and its reminder is due at once (the working day before has begun)."""
    starts = (datetime.now(BERLIN) + timedelta(minutes=40)).replace(second=0, microsecond=0)
    async with stack.client("intake", "abra") as c:
        r = await c.post("/abra/slots", json={"slots": [{"starts_at": starts.isoformat(), "capacity": 4}]})
    assert r.status_code == 201, r.text


async def choose(c: Any, intake_id: str, language: str, back: str = "zusammenfassung") -> None:
    page = await c.get(f"/haushalt/{intake_id}/{back}")
    r = await c.post(f"/haushalt/{intake_id}/sprache", data={"csrf_token": csrf_of(page.text), "sprache": language, "weiter": back})
    assert r.status_code == 303 and r.headers["location"] == f"/haushalt/{intake_id}/{back}", r.text


def pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return " ".join(" ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).split())
    finally:
        doc.close()


class TestTheSummaryAndTheInvitationInTheNewcomersLanguage:
    async def test_the_clerk_prints_the_summary_in_arabic_then_romanian_and_the_choice_is_remembered(self, stack: RunningStack) -> None:
        tag = uuid.uuid4().hex[:6]
        created, _ = await romanian_with_appointment(stack, "Ștefan", f"Bălănescu{tag}")
        intake_id = created["intake_id"]
        async with web_client(stack) as c:
            await sign_in(stack, c, "frontdesk")
            german = await c.get(f"/haushalt/{intake_id}/zusammenfassung")
            assert german.status_code == 200 and '<html lang="de" dir="ltr">' in german.text
            assert "Willkommen in Hamm – Ihre nächsten Schritte" in german.text

            await choose(c, intake_id, "ar")
            arabic = await c.get(f"/haushalt/{intake_id}/zusammenfassung")
            assert '<html lang="ar" dir="rtl">' in arabic.text
            assert "<title>مرحبًا بك في Hamm – خطواتك القادمة</title>" in arabic.text
            assert "موعدك لدى ABRA (مقابلة قبل التسجيل)" in arabic.text and "يرجى إحضار بطاقة الهوية أو جواز السفر." in arabic.text
            assert f"\u2068Ștefan Bălănescu{tag}\u2069" in arabic.text  # the name as recorded, isolated in the Arabic sentence
            assert '<div class="no-print clerk-bar" lang="de" dir="ltr">' in arabic.text  # the clerk's controls stay German
            assert '<option value="ar" lang="ar" selected>العربية (Arabisch)</option>' in arabic.text
            letter = await c.get(f"/haushalt/{intake_id}/abra-einladung")  # remembered for the household's other letters
            assert '<html lang="ar" dir="rtl">' in letter.text and "دعوة إلى مقابلة لدى ABRA" in letter.text

            await choose(c, intake_id, "ro", back="abra-einladung")
            romanian = await c.get(f"/haushalt/{intake_id}/zusammenfassung")
            invitation = await c.get(f"/haushalt/{intake_id}/abra-einladung")
        assert '<html lang="ro" dir="ltr">' in romanian.text and "Bine ați venit în Hamm – pașii următori" in romanian.text
        assert "Programarea dumneavoastră la ABRA" in romanian.text
        assert '<html lang="ro" dir="ltr">' in invitation.text and "Invitație la discuția cu ABRA" in invitation.text
        assert f"Bună ziua, Ștefan Bălănescu{tag}," in invitation.text and f"<dd>{PLACE}</dd>" in invitation.text
        assert "Vă rugăm să aduceți:" in invitation.text and "cartea de identitate sau pașaportul" in invitation.text

    async def test_the_arabic_pdfs_contain_shaped_arabic_text(self, stack: RunningStack) -> None:
        tag = uuid.uuid4().hex[:6]
        created, _ = await romanian_with_appointment(stack, "Mihai", f"Ionescu{tag}")
        intake_id = created["intake_id"]
        async with web_client(stack) as c:
            await sign_in(stack, c, "frontdesk")
            await choose(c, intake_id, "ar")
            summary = await c.get(f"/haushalt/{intake_id}/zusammenfassung.pdf")
            letter = await c.get(f"/haushalt/{intake_id}/abra-einladung.pdf")
        assert summary.status_code == 200 and summary.headers["content-type"] == "application/pdf"
        assert letter.headers["content-disposition"] == f'attachment; filename="ankommen-abra-einladung-{intake_id}.pdf"'
        text = pdf_text(summary.content)
        assert "مرحبًا بك في Hamm".replace("ً", "") in text and "أسرتك" in text and f"Mihai Ionescu{tag}" in text
        assert {0xFE94, 0xFEE4} <= presentation_forms(unicode_targets(summary.content))  # joined letter forms: shaped
        assert b"/Lang (ar)" in summary.content
        letter_text = pdf_text(letter.content)
        assert "دعوة إلى مقابلة لدى ABRA" in letter_text and PLACE.split(",")[0] in letter_text
        assert presentation_forms(unicode_targets(letter.content))

    async def test_a_language_not_offered_changes_nothing(self, stack: RunningStack) -> None:
        tag = uuid.uuid4().hex[:6]
        created, _ = await romanian_with_appointment(stack, "Ana", f"Marin{tag}")
        intake_id = created["intake_id"]
        async with web_client(stack) as c:
            await sign_in(stack, c, "frontdesk")
            await choose(c, intake_id, "bg")
            page = await c.get(f"/haushalt/{intake_id}/zusammenfassung")
            r = await c.post(f"/haushalt/{intake_id}/sprache", data={"csrf_token": csrf_of(page.text), "sprache": "tr", "weiter": "zusammenfassung"})
            assert r.status_code == 422 and "Bitte eine Sprache aus der Liste wählen." in r.text
            after = await c.get(f"/haushalt/{intake_id}/zusammenfassung")
        assert '<html lang="bg" dir="ltr">' in after.text
        async with stack.client("intake", "frontdesk") as api:
            refused = await api.put(f"/households/{created['household_id']}/letter-language", json={"language": "tr"})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == "language"

    async def test_only_the_front_desk_sees_the_invitation(self, stack: RunningStack) -> None:
        created, _ = await romanian_with_appointment(stack, "Dan", f"Pop{uuid.uuid4().hex[:6]}")
        async with web_client(stack) as c:
            await sign_in(stack, c, "caseworker")
            r = await c.get(f"/haushalt/{created['intake_id']}/abra-einladung")
        assert r.status_code == 403 and "Keine Berechtigung" in r.text


def sink(stack: RunningStack) -> list[EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted((stack.data_dir / "mail").glob("*.eml"))]  # type: ignore[misc]


def reminders_for(stack: RunningStack, clearing_id: str) -> list[EmailMessage]:
    return [m for m in sink(stack) if str(m["Message-ID"] or "").strip().startswith(f"<clearing-reminder-{clearing_id}-")]


async def run_the_schedule(stack: RunningStack) -> RemindersResult:
    """Triggers intake's reminder schedule now (instead of waiting for its interval) and waits for that run."""
    client = await stack.temporal()
    handle = client.get_schedule_handle(reminders_schedule_id("hamm"))
    before = (await handle.describe()).info.num_actions
    await handle.trigger()

    async def started() -> Any:
        info = (await handle.describe()).info
        assert info.num_actions > before and info.recent_actions, info
        return info.recent_actions[-1].action

    action = await eventually(started, timeout=30, interval=0.3)
    return await client.get_workflow_handle(action.workflow_id, run_id=action.first_execution_run_id, result_type=RemindersResult).result()


class TestTheAppointmentReminder:
    async def test_a_consenting_newcomer_gets_one_reminder_in_their_language_and_one_without_consent_none(self, stack: RunningStack) -> None:
        await soon_slot(stack)
        tag = uuid.uuid4().hex[:6]
        address = f"elena.{tag}@example.org"
        consenting, booked = await romanian_with_appointment(stack, "Elena", f"Dumitru{tag}")
        silent, silent_booked = await romanian_with_appointment(stack, "Vasile", f"Stan{tag}")
        async with web_client(stack) as c:
            await sign_in(stack, c, "frontdesk")
            await choose(c, consenting["intake_id"], "ar", back="abra-einladung")
            page = await c.get(f"/haushalt/{consenting['intake_id']}/abra-einladung")
            assert "Erinnerung per E-Mail (freiwillig)" in page.text
            r = await c.post(f"/haushalt/{consenting['intake_id']}/erinnerung", data={
                "csrf_token": csrf_of(page.text), "person_id": consenting["person_ids"][0], "email": address, "einwilligung": "ja"})
            assert r.status_code == 303, r.text
            saved = await c.get(f"/haushalt/{consenting['intake_id']}/abra-einladung")
            assert "Erinnerung per E-Mail gespeichert." in saved.text and "ستصلك رسالة تذكير بالبريد الإلكتروني" in saved.text
            other = await c.get(f"/haushalt/{silent['intake_id']}/abra-einladung")  # an address typed, consent not ticked
            refused = await c.post(f"/haushalt/{silent['intake_id']}/erinnerung", data={
                "csrf_token": csrf_of(other.text), "person_id": silent["person_ids"][0], "email": f"vasile.{tag}@example.org"})
            assert refused.status_code == 422 and "Ohne Einwilligung wird keine Adresse gespeichert." in refused.text
            assert 'id="fehler"' in refused.text and 'aria-invalid="true"' in refused.text

        result = await run_the_schedule(stack)
        assert result.failed == 0

        async def one_reminder() -> EmailMessage:
            (mail,) = reminders_for(stack, booked["clearing_id"])
            return mail

        mail = await eventually(one_reminder, timeout=20, interval=0.3)
        assert str(mail["To"]) == address and str(mail["Content-Language"]) == "ar"
        assert str(mail["Subject"]).startswith("تذكير: موعدك لدى ABRA في")
        body = mail.get_body(("plain",)).get_content()
        assert f"المكان: {PLACE}" in body and "Elena" not in body  # no name in the mail either
        assert reminders_for(stack, silent_booked["clearing_id"]) == []

        await run_the_schedule(stack)  # a second run sends nothing twice
        assert len(reminders_for(stack, booked["clearing_id"])) == 1 and reminders_for(stack, silent_booked["clearing_id"]) == []

        for path in [*(stack.data_dir / "logs").glob("*"), *(stack.data_dir / "traces").glob("*")]:
            if path.is_file():
                assert address.encode() not in path.read_bytes(), path  # no address in logs or spans

    async def test_withdrawing_consent_deletes_the_address(self, stack: RunningStack) -> None:
        created, _ = await romanian_with_appointment(stack, "Ioana", f"Radu{uuid.uuid4().hex[:6]}")
        pid = created["person_ids"][0]
        async with stack.client("intake", "frontdesk") as api:
            assert (await api.put(f"/persons/{pid}/reminder-contact", json={"email": "ioana@example.org", "consent": True})).status_code == 200
            given = (await api.get(f"/households/{created['household_id']}/communication")).json()
            assert [p["email"] for p in given["persons"]] == ["ioana@example.org"] and given["abra_place"] == PLACE
            bad = await api.put(f"/persons/{pid}/reminder-contact", json={"email": "ioana@", "consent": True})
            assert bad.status_code == 422 and "not a valid e-mail address" in str(bad.json())
            still = (await api.get(f"/households/{created['household_id']}/communication")).json()
            assert still["persons"][0]["email"] == "ioana@example.org"  # a refused change changes nothing
            assert (await api.put(f"/persons/{pid}/reminder-contact", json={"email": None, "consent": False})).status_code == 200
            withdrawn = (await api.get(f"/households/{created['household_id']}/communication")).json()
        assert withdrawn["persons"][0] == {"person_id": pid, "email": None, "reminders_by_email": False, "consent_at": None}
