"""Casework's reactions to events and the case's lifecycle: opening cases from completed intakes and
ABRA clearings, following intake corrections, closing cases and ending their workflows. Every state
change and the events it causes are written in one transaction (outbox); the workflows are started by
business key after the commit, idempotently (handlers_workflows). The register and assignment are in
handlers_assign, plans in handlers_plans, consents and referrals in handlers_referrals."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from services.casework import store, store_referrals
from services.casework.domain import PROGRAMME_ABRA, PROGRAMME_SOCIAL_CASEWORK, Phase, case_id_for_clearing, case_id_for_intake
from services.casework.handlers_assign import SYSTEM, assign_or_queue, change_phase, drain_queue, envelope, seed_caseworkers
from services.casework.handlers_erasure import ensure_retention_schedule
from services.casework.handlers_referrals import cancel_referrals, consent_changed, hand_over
from services.casework.handlers_workflows import case_starts, ensure_case_workflows, ensure_referral_workflows, signal, start_pending_workflows
from services.casework.runtime import CaseworkRuntime
from services.contracts.activities import review_cycle_workflow_id
from services.contracts.casework_workflows import case_onboarding_workflow_id, referral_workflow_id
from services.contracts.events import CaseClosed, CaseOpened, ClearingClosed, ClearingCompleted, IntakeCompleted, IntakeCorrected
from services.contracts.vocab import Partner, ResidenceStatus, Route
from services.kit import telemetry
from services.kit.alerts import resolve_alerts
from services.kit.auth import Principal
from services.kit.broker import Delivery
from services.kit.db import utc_now
from services.kit.errors import Conflict, NotFound
from services.kit.outbox import Tx
from workflows.case_onboarding import CaseOnboarding
from workflows.referral import Referral
from workflows.review_cycle import ReviewCycle

__all__ = ["SYSTEM", "case_id_for_intake", "ensure_case_workflows"]  # used by the activities and the tests


@dataclass(frozen=True)
class Member:
    person_id: uuid.UUID
    adult: bool
    employable: bool
    residence_status: str
    languages: tuple[str, ...] = ()
    consents: tuple[Any, ...] = ()


def _members_of(persons: list[Any]) -> list[Member]:
    return [
        Member(p.person_id, p.adult, p.employable, p.residence_status.value, tuple(p.languages), tuple(p.consents)) for p in persons
    ]


def _wants_casework(persons: list[Any]) -> bool:
    return any(Route.CASEWORK in p.routes for p in persons)


# --- opening cases ----------------------------------------------------------------------------------


async def _open_case(
    rt: CaseworkRuntime, tx: Tx, *, case_id: uuid.UUID, household_id: uuid.UUID, intake_id: uuid.UUID | None, clearing_id: uuid.UUID | None,
    programme: str, district: str, members: list[Member], causation_id: uuid.UUID,
) -> None:
    now = utc_now()
    languages = sorted({lang for m in members for lang in m.languages})
    await store.insert_case(
        tx.conn, id=case_id, household_id=household_id, intake_id=intake_id, clearing_id=clearing_id, programme=programme,
        district=district, phase=Phase.ENTRY, opened_at=now, languages=json.dumps(languages), **case_starts(rt).mark,
    )
    await _add_members(tx, case_id, members, rt)
    await store.note(tx.conn, case_id, "opened", SYSTEM, programme=programme, district=district, members=len(members))
    await tx.emit(
        CaseOpened(
            **envelope(rt, case_id, causation_id), occurred_at=now, case_id=case_id, household_id=household_id, intake_id=intake_id,
            programme=programme, district=district, member_ids=[m.person_id for m in members],
        )
    )
    case = await store.get_case(tx.conn, case_id)
    await assign_or_queue(rt, tx, case, by=SYSTEM, reason="initial", causation_id=causation_id)


async def _add_members(tx: Tx, case_id: uuid.UUID, members: list[Member], rt: CaseworkRuntime) -> None:
    """The members with their details; the consents the intake recorded are imported once (ConsentChanged each)."""
    for m in members:
        await store.save_member(tx.conn, case_id, m.person_id, adult=m.adult, employable=m.employable, residence_status=m.residence_status)
        for c in m.consents:
            await store_referrals.save_consent(
                tx.conn, m.person_id, c.partner.value, c.purpose.value, c.given_on, source="intake", recorded_by=None, only_insert=True,
            )
            await consent_changed(rt, tx, m.person_id, c.partner.value, c.purpose.value)


async def open_case_for_intake(rt: CaseworkRuntime, event: IntakeCompleted, delivery: Delivery) -> None:
    """A completed intake opens one case in Soziales Fallmanagement for the household when at least one
    person has the casework route (DOMAIN.md flow 1); the case holds all members of the household.

    Crash safety: the case, the inbox record and the events are committed together, marked as
    waiting for its workflows; then the review cycle and onboarding are started (business-key ids,
    idempotent) and the mark is cleared. A crash in between is healed by a redelivery or at the next
    start (`start_pending_workflows`). Starting after the commit means a workflow never runs ahead
    of its case."""
    case_id = case_id_for_intake(event.intake_id)
    telemetry.mark(intake_id=event.intake_id, case_id=case_id)
    if not _wants_casework(event.persons):
        return  # no case: nothing to do and nothing to remember (a redelivery decides the same), no database
    if await delivery.already_handled():
        await ensure_case_workflows(rt, case_id)
        return
    await commit_intake_case(rt, event, delivery)
    await ensure_case_workflows(rt, case_id)


async def commit_intake_case(rt: CaseworkRuntime, event: IntakeCompleted | IntakeCorrected, delivery: Delivery) -> None:
    """The case, its members, consents, assignment (or queue place), the inbox record and the events, in one transaction."""
    case_id = case_id_for_intake(event.intake_id)
    async with delivery.transaction() as tx:
        if await store.get_case(tx.conn, case_id) is not None:
            return
        await _open_case(
            rt, tx, case_id=case_id, household_id=event.household_id, intake_id=event.intake_id, clearing_id=None,
            programme=PROGRAMME_SOCIAL_CASEWORK, district=event.district, members=_members_of(event.persons), causation_id=event.event_id,
        )


async def open_case_for_clearing(rt: CaseworkRuntime, event: ClearingCompleted | ClearingClosed, delivery: Delivery) -> None:
    """A clearing with a recommendation for long-term coaching opens a case in programme ABRA
    (000 "Projekt ABRA"); ClearingCompleted and ClearingClosed of the same clearing open it once."""
    case_id = case_id_for_clearing(event.clearing_id)
    telemetry.mark(case_id=case_id, clearing_id=event.clearing_id)
    if await delivery.already_handled():
        await ensure_case_workflows(rt, case_id)
        return
    if not event.long_term_coaching:
        async with delivery.transaction():
            return
    async with delivery.transaction() as tx:
        if await store.get_case(tx.conn, case_id) is None:
            member = Member(event.person_id, True, True, ResidenceStatus.EU_FREE_MOVEMENT.value)
            await _open_case(
                rt, tx, case_id=case_id, household_id=event.household_id, intake_id=None, clearing_id=event.clearing_id,
                programme=PROGRAMME_ABRA, district=event.district, members=[member], causation_id=event.event_id,
            )
    await ensure_case_workflows(rt, case_id)


async def apply_intake_correction(rt: CaseworkRuntime, event: IntakeCorrected, delivery: Delivery) -> None:
    """Follows a corrected intake: opens the case if the casework route appears, adds and removes
    members, and on a change of legal regime (asylum seeker -> recognised refugee) hands the person's
    open employment agency referrals over to the job centre with their history, keeping running
    measures (000 "Projekt Integration Point": SGB III -> SGB II)."""
    case_id = case_id_for_intake(event.intake_id)
    telemetry.mark(intake_id=event.intake_id, case_id=case_id)
    if await delivery.already_handled():
        return
    async with rt.db.read() as conn:
        exists = await store.get_case(conn, case_id) is not None
    if not exists:
        if _wants_casework(event.persons):
            await commit_intake_case(rt, event, delivery)
        else:
            async with delivery.transaction():
                pass
        await ensure_case_workflows(rt, case_id)
        return
    handed: list[uuid.UUID] = []
    async with delivery.transaction() as tx:
        before = await store.members_of(tx.conn, case_id)
        for person in event.persons:
            old = before.get(person.person_id)
            if old is not None and old.residence_status == ResidenceStatus.ASYLUM_SEEKER and person.residence_status == ResidenceStatus.RECOGNISED_REFUGEE:
                handed += await hand_over(rt, tx, case_id, person.person_id, event.event_id)
        await _add_members(tx, case_id, _members_of(event.persons), rt)
        if event.removed_person_ids:
            await store.deactivate_members(tx.conn, case_id, list(event.removed_person_ids))
        await store.note(
            tx.conn, case_id, "members_updated", SYSTEM, correction_no=event.correction_no,
            added=len([p for p in event.persons if p.person_id not in before]), removed=len(event.removed_person_ids),
        )
    for referral_id in handed:
        await signal(rt, referral_workflow_id(referral_id), Referral.handed_over, Partner.JOB_CENTRE.value)


# --- closing ------------------------------------------------------------------------------------------


async def close_case(rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID, reason: str) -> None:
    """Closes a case with its reason; the caseworker's place goes to the oldest queued case of their
    districts; open referrals close (case_closed); the case's workflows end."""
    async with rt.outbox.transaction() as tx:
        case = await store.get_case(tx.conn, case_id)
        if case is None:
            raise NotFound("no such case")
        if case.closed_at is not None:
            raise Conflict("the case is already closed", field="reason")
        await change_phase(rt, tx, case, Phase.CLOSED, principal.username)
        await store.update_case(tx.conn, case_id, closed_at=utc_now(), close_reason=reason, queued_at=None)
        await store.note(tx.conn, case_id, "closed", principal.username, reason=reason)
        await tx.emit(CaseClosed(**envelope(rt, case_id), case_id=case_id, programme=case.programme, district=case.district, reason=reason))
        cancelled = await cancel_referrals(rt, tx, await store_referrals.open_referrals_of_case(tx.conn, case_id), "case_closed", principal.username)
        await resolve_alerts(tx.conn, rt.tables, subject_id=case_id, by=principal.username)
        if case.caseworker:
            await store.free_place(tx.conn, case.caseworker)
            cw = await store.get_caseworker(tx.conn, case.caseworker)
            if cw is not None:
                await drain_queue(rt, tx, store.as_list(cw.districts), principal.username)
    await signal(rt, review_cycle_workflow_id(case_id), ReviewCycle.case_closed)
    await signal(rt, case_onboarding_workflow_id(case_id), CaseOnboarding.case_closed)
    for referral_id in cancelled:
        await signal(rt, referral_workflow_id(referral_id), Referral.cancel)


async def end_case_workflows(rt: CaseworkRuntime, event: CaseClosed, delivery: Delivery) -> None:
    """Casework consumes its own CaseClosed: the event was committed with the closure, so the review
    cycle, onboarding and referral workflows of the case are told even if the process died between
    that commit and the signals `close_case` sends at once. Signals are idempotent; one that cannot
    reach a running workflow fails the delivery, which is then retried (or dead-lettered)."""
    telemetry.mark(case_id=event.case_id)
    async with rt.db.read() as conn:
        referral_ids = await store_referrals.referral_ids_closed_with_case(conn, event.case_id)
    await signal(rt, review_cycle_workflow_id(event.case_id), ReviewCycle.case_closed, strict=True)
    await signal(rt, case_onboarding_workflow_id(event.case_id), CaseOnboarding.case_closed, strict=True)
    for referral_id in referral_ids:
        await signal(rt, referral_workflow_id(referral_id), Referral.cancel, strict=True)


async def on_start(rt: CaseworkRuntime) -> None:
    await seed_caseworkers(rt)
    await start_pending_workflows(rt)
    await ensure_referral_workflows(rt)
    await ensure_retention_schedule(rt)
