"""Funding's proof-of-use commands (Verwendungsnachweis; DOMAIN.md flow 6, seed 002 §5): receipts, the
submission and its review, the settlement of unspent money, the reminders, and the first version's
proof of use that returned unspent money at once."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, time
from typing import Any

from services.contracts.funding import ProofOfUseOverdue, ProofOfUseReceived
from services.contracts.funding_workflows import (
    ProofRecorded,
    ProofReminderInput,
    ProofState,
    RecordProofInput,
    ReviewProofInput,
    SettleProofInput,
    SubmitProofInput,
)
from services.contracts.workdays import BERLIN, city_today
from services.funding import ledger, mail, store_mail, store_measures
from services.funding.domain import (
    Fund,
    MeasureStatus,
    PayloadTooLarge,
    clean_filename,
    overspent_problem,
    proof_expected,
    proof_problem,
    proof_reclaimable,
    proof_reviewable,
    receipt_media_type,
    receipt_problem,
    review_problem,
    settlement,
)
from services.funding.handlers_measures import own
from services.funding.runtime import FundingRuntime
from services.funding.schemas import ProofReview, ProofSubmit
from services.kit.alerts import raise_alert, resolve_alerts
from services.kit.auth import Principal, Role
from services.kit.db import utc_now
from services.kit.errors import Conflict, Invalid, NotFound


async def _locked_measure(conn: Any, application_id: uuid.UUID, *, lock: bool = True) -> Any:
    row = await store_measures.get_measure(conn, application_id, lock=lock)
    if row is None:
        raise NotFound(f"application {application_id} not found")
    return row


async def upload_receipt(rt: FundingRuntime, principal: Principal, application_id: uuid.UUID, filename: str | None, data: bytes) -> Any:
    """A receipt of the proof of use is stored in funding's database with its SHA-256 (the same file
    twice is kept once). Refused, with nothing stored: not a PDF, PNG or JPEG by its magic bytes (422),
    above the size limit or the total per measure (413)."""
    s = rt.settings
    async with rt.db.begin() as conn:
        row = await _locked_measure(conn, application_id)
        own(principal, row)
        if not proof_expected(row.status):
            raise Conflict(f"the application is {row.status}; receipts belong to a proof of use being prepared")
        digest = hashlib.sha256(data).hexdigest()
        same = await store_measures.receipt_by_hash(conn, application_id, digest)
        if same is not None:
            return same
        stored = await store_measures.receipts_total(conn, application_id)
        refused = receipt_problem(len(data), data[:16], stored, s.receipt_max_bytes, s.receipts_total_max_bytes)
        if refused is not None:
            status, reason = refused
            raise (PayloadTooLarge if status == 413 else Invalid)(reason, field="file")
        await store_measures.insert_receipt(conn, id=uuid.uuid4(), application_id=application_id, filename=clean_filename(filename),
                                            media_type=receipt_media_type(data[:16]), size_bytes=len(data), sha256=digest, content=data,
                                            uploaded_by=principal.username, uploaded_at=utc_now())
        await rt.audit(conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "upload_receipt", "measure_application", application_id)
        return await store_measures.receipt_by_hash(conn, application_id, digest)


async def prepare_proof(rt: FundingRuntime, principal: Principal, application_id: uuid.UUID, cmd: ProofSubmit) -> tuple[int, int, int]:
    """Checks a proof of use against the measure and stores it as the next version's draft (its texts
    stay in funding's database; the workflow gets the version). Returns (version, spent, receipts)."""
    async with rt.db.begin() as conn:
        row = await _locked_measure(conn, application_id)
        own(principal, row)
        if not proof_expected(row.status):
            raise Conflict(f"the application is {row.status}; a proof of use is submitted after payout or when rework was asked for")
        problem = proof_problem(cmd.items, row.paid_cents, row.period_start, city_today())
        if problem:
            raise Invalid(problem[1], field=problem[0])
        known = {r.id for r in await store_measures.receipts_of(conn, application_id)}
        for i, rid in enumerate(cmd.receipt_ids):
            if rid not in known:
                raise Invalid("unknown receipt of this measure (upload it first)", field=f"receipt_ids.{i}")
        version = row.proof_version + 1
        draft = {"version": version, "items": [i.model_dump(mode="json") for i in cmd.items], "report": cmd.report,
                 "receipt_ids": [str(r) for r in dict.fromkeys(cmd.receipt_ids)]}
        await store_measures.update_measure(conn, application_id, proof_draft=draft)
        await rt.audit(conn, principal, (Role.FUND_APPLICANT, Role.FUND_MANAGER), "prepare_proof", "measure_application", application_id)
    return version, sum(i.amount_cents for i in cmd.items), len(draft["receipt_ids"])


def _proof_state(row: Any) -> ProofState:
    return ProofState(status=row.status, version=row.proof_version, spent_cents=row.spent_cents or 0, returned_cents=row.returned_cents or 0,
                      released_cents=row.released_cents or 0, days_late=row.days_late or 0)


async def submit_proof(rt: FundingRuntime, inp: SubmitProofInput) -> ProofState:
    """The workflow takes the stored draft as version N of the proof of use: it waits for review; the
    fund managers are alerted, the reminders end. Idempotent per version."""
    async with rt.outbox.transaction() as tx:
        row = await _locked_measure(tx.conn, inp.application_id)
        if row.proof_version >= inp.version:
            return _proof_state(row)
        if not proof_expected(row.status):
            raise Conflict(f"the application is {row.status}; no proof of use is expected")
        draft = row.proof_draft or {}
        if draft.get("version") != inp.version:
            raise Conflict("the proof of use changed meanwhile; please submit it again")
        spent = sum(int(i["amount_cents"]) for i in draft["items"])
        over = overspent_problem(spent, row.paid_cents)
        if over:
            raise Invalid(over, field="items")
        receipt_ids = [uuid.UUID(r) for r in draft["receipt_ids"]]
        await store_measures.attach_receipts(tx.conn, row.id, receipt_ids, inp.version)
        await store_measures.update_measure(
            tx.conn, row.id, status=MeasureStatus.PROOF_SUBMITTED.value, proof_items=draft["items"], proof_report=draft["report"],
            spent_cents=spent, receipts=len(receipt_ids), proof_version=inp.version, proof_draft=None,
            proof_received_at=row.proof_received_at or utc_now(),
            days_late=row.days_late if row.days_late is not None else max(0, (inp.received_on - inp.due_on).days),
        )
        await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=inp.submitted_by)
        await raise_alert(
            tx.conn, rt.tables, key=f"proof-of-use-review-{row.id}-{inp.version}", kind="proof_of_use_review", role=Role.FUND_MANAGER.value,
            subject_type="measure_application", subject_id=row.id,
            message=f"Verwendungsnachweis für Maßnahme {row.id} (Fassung {inp.version}) liegt zur Prüfung vor.",
        )
        return _proof_state(await store_measures.get_measure(tx.conn, inp.application_id))


async def prepare_review(rt: FundingRuntime, principal: Principal, application_id: uuid.UUID, cmd: ProofReview) -> int:
    """Checks a review and stores its reason for the workflow's step; returns the version under review."""
    problem = review_problem(cmd)
    if problem:
        raise Invalid(problem[1], field=problem[0])
    async with rt.db.begin() as conn:
        row = await _locked_measure(conn, application_id)
        if not proof_reviewable(row.status):
            raise Conflict(f"the application is {row.status}; no proof of use is waiting for review")
        await store_measures.update_measure(conn, application_id, review_draft=(cmd.reason or "").strip() or None)
        await rt.audit(conn, principal, (Role.FUND_MANAGER,), f"review_{cmd.decision}", "measure_application", application_id)
        return int(row.proof_version)


async def _settle(tx: Any, row: Any, actor: str, tenant: str) -> None:
    """Unspent paid money returns to the budget and undrawn granted money is released, once (status guard
    under the row lock; the ledger keeps the budget from going negative)."""
    returned, released = settlement(row.amount_cents, row.paid_cents, row.spent_cents or 0)
    await ledger.give_back(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, returned, row.id, actor)
    await ledger.release(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, released, row.id, actor)
    await store_measures.update_measure(tx.conn, row.id, status=MeasureStatus.SETTLED.value, returned_cents=returned, released_cents=released)
    await tx.emit(ProofOfUseReceived(tenant=tenant, correlation_id=row.id, application_id=row.id, spent_cents=row.spent_cents or 0,
                                     returned_cents=returned, receipts=row.receipts or 0, days_late=row.days_late or 0))


async def _ask_rework(rt: FundingRuntime, tx: Any, row: Any, version: int, actor: str) -> None:
    """The organisation is alerted and mailed the reason, and submits again."""
    reason = row.review_draft or "Bitte ergänzen Sie den Verwendungsnachweis."
    await store_measures.update_measure(tx.conn, row.id, status=MeasureStatus.REWORK_REQUESTED.value, rework_reason=reason, review_draft=None,
                                        reviewed_by=actor)
    await raise_alert(
        tx.conn, rt.tables, key=f"proof-of-use-rework-{row.id}-{version}", kind="proof_of_use_rework", role=Role.FUND_APPLICANT.value,
        assignee=row.applicant, subject_type="measure_application", subject_id=row.id,
        message=f"Verwendungsnachweis für Maßnahme {row.id}: bitte überarbeiten und erneut einreichen.",
    )
    if row.contact_email:
        subject, body = mail.rework_mail(row.title, reason)
        await store_mail.enqueue_mail(tx.conn, key=f"rework-{row.id}-{version}", kind="rework", application_id=row.id,
                                      recipient=row.contact_email, subject=subject, body=body, now=utc_now())


async def review_proof(rt: FundingRuntime, inp: ReviewProofInput) -> ProofState:
    """The fund manager accepts version N or asks for rework (the organisation is mailed the reason and
    submits again). An accepted proof with nothing to give back settles at once. Idempotent."""
    cmd = inp.command
    async with rt.outbox.transaction() as tx:
        row = await _locked_measure(tx.conn, inp.application_id)
        if row.proof_version != cmd.version:
            raise Conflict(f"version {cmd.version} is not the proof of use under review")
        if not proof_reviewable(row.status):
            return _proof_state(row)  # this version was reviewed already
        await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=cmd.actor)
        if cmd.decision == "rework":
            await _ask_rework(rt, tx, row, cmd.version, cmd.actor)
        else:
            await store_measures.update_measure(tx.conn, row.id, status=MeasureStatus.PROOF_ACCEPTED.value, rework_reason=None, review_draft=None,
                                                reviewed_by=cmd.actor)
            row = await store_measures.get_measure(tx.conn, inp.application_id)
            if settlement(row.amount_cents, row.paid_cents, row.spent_cents or 0) == (0, 0):
                await _settle(tx, row, cmd.actor, inp.tenant)
        return _proof_state(await store_measures.get_measure(tx.conn, inp.application_id))


async def settle_proof(rt: FundingRuntime, inp: SettleProofInput) -> ProofState:
    """The fund manager reclaims the unspent rest after accepting the proof of use. Exactly once."""
    async with rt.outbox.transaction() as tx:
        row = await _locked_measure(tx.conn, inp.application_id)
        if row.status == MeasureStatus.SETTLED:
            return _proof_state(row)
        if not proof_reclaimable(row.status):
            raise Conflict(f"the application is {row.status}; unspent money is reclaimed after the proof of use is accepted")
        await _settle(tx, row, inp.actor, inp.tenant)
        return _proof_state(await store_measures.get_measure(tx.conn, inp.application_id))


async def proof_reminder(rt: FundingRuntime, inp: ProofReminderInput) -> None:
    """Reminders before the proof of use is due go to the applicant; once overdue, the fund managers are alerted."""
    async with rt.outbox.transaction() as tx:
        row = await _locked_measure(tx.conn, inp.application_id, lock=False)
        if row.proof_received_at is not None or row.proof_version:
            return
        due_at = datetime.combine(inp.due_on, time(23, 59, 59), tzinfo=BERLIN)
        if inp.kind == "overdue":
            raised = await raise_alert(
                tx.conn, rt.tables, key=f"proof-of-use-overdue-{row.id}", kind="proof_of_use_overdue", role=Role.FUND_MANAGER.value,
                subject_type="measure_application", subject_id=row.id, due_at=due_at,
                message=f"Verwendungsnachweis für Maßnahme {row.id} war bis {inp.due_on.isoformat()} fällig und fehlt.",
            )
            if raised:
                await tx.emit(ProofOfUseOverdue(tenant=inp.tenant, correlation_id=row.id, application_id=row.id, due_on=inp.due_on))
            return
        await raise_alert(
            tx.conn, rt.tables, key=f"proof-of-use-{inp.kind}-{row.id}", kind=f"proof_of_use_{inp.kind}", role=Role.FUND_APPLICANT.value,
            assignee=row.applicant, subject_type="measure_application", subject_id=row.id, due_at=due_at,
            message=f"Erinnerung: Verwendungsnachweis für Maßnahme {row.id} ist am {inp.due_on.isoformat()} fällig.",
        )
        if row.contact_email:
            weeks = int(inp.kind.removeprefix("reminder_").removesuffix("w")) if inp.kind.startswith("reminder_") else None
            subject, body = mail.reminder_mail(row.title, inp.due_on, weeks)
            await store_mail.enqueue_mail(tx.conn, key=f"proof-{inp.kind}-{row.id}", kind="proof_reminder", application_id=row.id,
                                          recipient=row.contact_email, subject=subject, body=body, now=utc_now())


async def record_proof(rt: FundingRuntime, inp: RecordProofInput) -> ProofRecorded:
    """The proof of use (spent amount, receipts) is recorded; unspent money returns to the budget
    (ledger return entry). Idempotent."""
    sub = inp.submission
    async with rt.outbox.transaction() as tx:
        row = await _locked_measure(tx.conn, inp.application_id)
        days_late = max(0, (inp.received_on - inp.due_on).days)
        if row.proof_received_at is not None:
            return ProofRecorded(spent_cents=row.spent_cents, returned_cents=row.returned_cents, days_late=days_late)
        if row.status != MeasureStatus.PAID:
            raise Conflict(f"the application is {row.status}, not paid")
        if sub.spent_cents > row.paid_cents:
            raise Invalid(f"spent_cents exceeds the {row.paid_cents} cents paid", field="spent_cents")
        returned = row.paid_cents - sub.spent_cents
        await ledger.give_back(tx.conn, Fund.DISCRETIONARY, row.fiscal_year, returned, row.id, sub.submitted_by)
        await store_measures.update_measure(tx.conn, row.id, status=MeasureStatus.PROOF_RECEIVED.value, spent_cents=sub.spent_cents,
                                            returned_cents=returned, receipts=sub.receipts, proof_received_at=utc_now())
        await tx.emit(ProofOfUseReceived(tenant=inp.tenant, correlation_id=row.id, application_id=row.id, spent_cents=sub.spent_cents,
                                         returned_cents=returned, receipts=sub.receipts, days_late=days_late))
        await resolve_alerts(tx.conn, rt.tables, subject_id=row.id, by=sub.submitted_by)
        return ProofRecorded(spent_cents=sub.spent_cents, returned_cents=returned, days_late=days_late)
