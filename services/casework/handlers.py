"""Casework's commands and reactions to events: opening, assigning, closing cases; caseworkers;
consents; integration plans; referrals. Every state change and the events it causes are written in
one transaction (outbox); workflows are started by business key before or after, idempotently."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.casework import store
from services.casework.domain import (
    INTEGRATION_POINT_PARTNERS,
    PROGRAMME_ABRA,
    PROGRAMME_SOCIAL_CASEWORK,
    CaseworkerSlot,
    GoalChangeIn,
    GoalIn,
    GoalStatus,
    Phase,
    PlanAgreeIn,
    ReferralIn,
    advance_to,
    assignment_candidates,
    case_id_for_clearing,
    case_id_for_intake,
    consent_missing_reason,
    effective_cap,
    transition,
)
from services.contracts.activities import REVIEW_CYCLE_WORKFLOW, ReviewCycleInput, TaskQueues, review_cycle_workflow_id
from services.contracts.casework_workflows import (
    CASE_ONBOARDING_WORKFLOW,
    REFERRAL_WORKFLOW,
    CaseOnboardingInput,
    ReferralInput,
    case_onboarding_workflow_id,
    partner_process,
    referral_workflow_id,
)
from services.contracts.events import (
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CasePhaseChanged,
    CaseQueued,
    ClearingClosed,
    ClearingCompleted,
    ConsentChanged,
    GoalSet,
    IntakeCompleted,
    IntakeCorrected,
    PlanAgreed,
    ReferralClosed,
    ReferralHandedOver,
    ReferralMade,
    ReferralStepRecorded,
)
from services.contracts.vocab import Partner, Purpose, ResidenceStatus, Route
from services.contracts.workdays import working_days_between
from services.kit import telemetry
from services.kit.alerts import raise_alert, resolve_alerts
from services.kit.auth import Principal
from services.kit.broker import Delivery
from services.kit.db import upsert, utc_now
from services.kit.errors import Conflict, Invalid, NotFound
from services.kit.outbox import Tx
from services.kit.service import Runtime

log = logging.getLogger(__name__)
SYSTEM = "system"


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


def _envelope(rt: Runtime, correlation_id: uuid.UUID, causation_id: uuid.UUID | None = None) -> dict[str, Any]:
    return dict(tenant=rt.platform.tenant, correlation_id=correlation_id, causation_id=causation_id)


# --- workflows --------------------------------------------------------------------------------------


async def _start(rt: Runtime, workflow: str, arg: Any, workflow_id: str) -> None:
    assert rt.temporal is not None
    try:
        await rt.temporal.start_workflow(
            workflow, arg, id=workflow_id, task_queue=TaskQueues.CASEWORK,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass  # it ran and ended before: a redelivery must not start a second one


async def start_review_cycle(rt: Runtime, case_id: uuid.UUID) -> None:
    s = rt.settings
    await _start(
        rt, REVIEW_CYCLE_WORKFLOW,
        ReviewCycleInput(
            case_id=case_id, tenant=rt.platform.tenant, interval_days=s.review_interval_days,
            escalate_after_days=getattr(s, "review_escalation_days", 14),
        ),
        review_cycle_workflow_id(case_id),
    )


async def start_case_workflows(rt: Runtime, case_id: uuid.UUID) -> None:
    """Review cycle and onboarding of a committed case (business-key ids: a repeated start joins them)."""
    await start_review_cycle(rt, case_id)
    s = rt.settings
    await _start(
        rt, CASE_ONBOARDING_WORKFLOW,
        CaseOnboardingInput(case_id=case_id, tenant=rt.platform.tenant, first_contact_days=s.first_contact_days, reminder_days=s.first_contact_reminder_days),
        case_onboarding_workflow_id(case_id),
    )


async def start_referral_workflow(rt: Runtime, row: sa.Row) -> None:
    s = rt.settings
    await _start(
        rt, REFERRAL_WORKFLOW,
        ReferralInput(
            referral_id=row.id, case_id=row.case_id, tenant=rt.platform.tenant, partner=Partner(row.partner), made_on=row.made_on,
            acknowledgement_working_days=s.referral_acknowledgement_working_days,
            first_appointment_working_days=s.referral_first_appointment_working_days,
        ),
        referral_workflow_id(row.id),
    )


async def ensure_referral_workflow(rt: Runtime, referral_id: uuid.UUID) -> None:
    """Starts an open referral's workflow if it is not running yet (idempotent)."""
    async with rt.db.read() as conn:
        row = await store.get_referral(conn, referral_id)
    if row is not None and row.status == "open":
        await start_referral_workflow(rt, row)


async def _signal(rt: Runtime, workflow_id: str, signal: str, *args: Any, strict: bool = False) -> None:
    """Tells a running workflow about a change; a workflow that has ended (or never started) needs no
    telling. Other failures are logged, or raised when `strict` (a consumer then retries)."""
    assert rt.temporal is not None
    try:
        await rt.temporal.get_workflow_handle(workflow_id).signal(signal, *args)
    except Exception as exc:
        if isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND:
            return
        if strict:
            raise
        reason = exc.status.name if isinstance(exc, RPCError) and exc.status else type(exc).__name__
        log.info("signal %s to %s not delivered: %s", signal, workflow_id, reason)


# --- caseworker register --------------------------------------------------------------------------


async def seed_caseworkers(rt: Runtime) -> None:
    """Loads the caseworker register from the data file at start; entries the team lead changed stay."""
    path = Path(rt.settings.caseworkers_file)
    if not path.exists():
        return
    entries = json.loads(path.read_text(encoding="utf-8"))["caseworkers"]
    async with rt.db.begin() as conn:
        for e in entries:
            fte = float(e.get("fte", 1.0))
            await upsert(
                conn, store.caseworkers,
                dict(
                    username=e["username"], districts=json.dumps(e["districts"]), languages=json.dumps(e.get("languages", [])), fte=fte,
                    cap=effective_cap(fte, rt.settings.caseload_cap_per_fte, e.get("cap")), caseload=0, on_leave=False, substitute=None,
                ),
                keys=("username",), only_insert=True,
            )


def _slot(row: sa.Row) -> CaseworkerSlot:
    return CaseworkerSlot(row.username, tuple(store.as_list(row.districts)), tuple(store.as_list(row.languages)), row.caseload, row.cap, not row.on_leave)


async def assign_or_queue(rt: Runtime, tx: Tx, case: sa.Row, *, by: str, reason: str, causation_id: uuid.UUID | None = None) -> str | None:
    """Gives an unassigned case to a caseworker of its district with room (shared language first);
    when all are full it is queued, CaseQueued is published and the team lead alerted (000: caseload
    1:190 per FTE). Returns the caseworker or None when queued."""
    rows = await store.all_caseworkers(tx.conn)
    for username in assignment_candidates([_slot(r) for r in rows], case.district, set(store.as_list(case.languages))):
        if await store.take_place(tx.conn, username):
            await tx.conn.execute(store.cases.update().where(store.cases.c.id == case.id).values(caseworker=username, queued_at=None))
            await tx.conn.execute(store.assignments.insert().values(case_id=case.id, caseworker=username, reason=reason, at=utc_now(), by=by))
            await store.note(tx.conn, case.id, "assigned", by, caseworker=username, reason=reason)
            await tx.emit(CaseAssigned(**_envelope(rt, case.id, causation_id), case_id=case.id, caseworker=username, reason=reason))
            if reason == "from_queue":
                await resolve_alerts(tx.conn, rt.tables, subject_id=case.id, by=by, kinds=("caseload_full",))
            return username
    if case.queued_at is None:
        await tx.conn.execute(store.cases.update().where(store.cases.c.id == case.id).values(queued_at=utc_now()))
        await store.note(tx.conn, case.id, "queued", SYSTEM, district=case.district)
        await tx.emit(CaseQueued(**_envelope(rt, case.id, causation_id), case_id=case.id, district=case.district))
        await raise_alert(
            tx.conn, rt.tables, key=f"caseload-full-{case.id}", kind="caseload_full", role="team_lead", subject_type="case", subject_id=case.id,
            message=f"Alle Fallmanager/innen im Sozialraum {case.district} sind ausgelastet: Fall {case.id} wartet auf Zuweisung.",
        )
    return None


async def drain_queue(rt: Runtime, tx: Tx, districts: list[str], by: str) -> None:
    """Assigns queued cases (oldest first) of these districts while someone has room."""
    for case in await store.oldest_queued(tx.conn, districts, limit=50):
        if await assign_or_queue(rt, tx, case, by=by, reason="from_queue") is None:
            break


# --- opening cases ----------------------------------------------------------------------------------


async def _open_case(
    rt: Runtime, tx: Tx, *, case_id: uuid.UUID, household_id: uuid.UUID, intake_id: uuid.UUID | None, clearing_id: uuid.UUID | None,
    programme: str, district: str, members: list[Member], causation_id: uuid.UUID,
) -> None:
    now = utc_now()
    languages = sorted({lang for m in members for lang in m.languages})
    await tx.conn.execute(
        store.cases.insert().values(
            id=case_id, household_id=household_id, intake_id=intake_id, clearing_id=clearing_id, programme=programme,
            district=district, phase=Phase.ENTRY, opened_at=now, languages=json.dumps(languages), workflows_pending=True,
        )
    )
    await _add_members(tx, case_id, members, rt)
    await store.note(tx.conn, case_id, "opened", SYSTEM, programme=programme, district=district, members=len(members))
    await tx.emit(
        CaseOpened(
            **_envelope(rt, case_id, causation_id), occurred_at=now, case_id=case_id, household_id=household_id, intake_id=intake_id,
            programme=programme, district=district, member_ids=[m.person_id for m in members],
        )
    )
    case = await store.get_case(tx.conn, case_id)
    await assign_or_queue(rt, tx, case, by=SYSTEM, reason="initial", causation_id=causation_id)


async def _consent_changed(rt: Runtime, tx: Tx, person_id: uuid.UUID, partner: str, purpose: str) -> None:
    """Announces the register's state of one consent (ConsentChanged), for intake's handover check."""
    row = (await tx.conn.execute(sa.select(store.consents).where(
        store.consents.c.person_id == person_id, store.consents.c.partner == partner, store.consents.c.purpose == purpose))).first()
    if row is not None:
        await tx.emit(ConsentChanged(**_envelope(rt, person_id), person_id=person_id, partner=Partner(partner), purpose=Purpose(purpose),
                                     given_on=row.given_on, withdrawn=row.withdrawn_at is not None))


async def _add_members(tx: Tx, case_id: uuid.UUID, members: list[Member], rt: Runtime | None = None) -> None:
    for m in members:
        await upsert(
            tx.conn, store.members,
            dict(case_id=case_id, person_id=m.person_id, adult=m.adult, employable=m.employable, residence_status=m.residence_status, active=True),
            keys=("case_id", "person_id"),
        )
        for c in m.consents:
            await upsert(
                tx.conn, store.consents,
                dict(person_id=m.person_id, partner=c.partner.value, purpose=c.purpose.value, given_on=c.given_on, source="intake", recorded_by=None, withdrawn_at=None),
                keys=("person_id", "partner", "purpose"), only_insert=True,
            )
            if rt is not None:
                await _consent_changed(rt, tx, m.person_id, c.partner.value, c.purpose.value)


def _wants_casework(persons: list[Any]) -> bool:
    return any(Route.CASEWORK in p.routes for p in persons)


async def open_case_for_intake(rt: Runtime, event: IntakeCompleted, delivery: Delivery) -> None:
    """A completed intake opens one case in Soziales Fallmanagement for the household when at least one
    person has the casework route (DOMAIN.md flow 1); the case holds all members of the household.

    Crash safety: the case, the inbox record and the events are committed together, marked as
    waiting for its workflows; then the review cycle and onboarding are started (business-key ids,
    idempotent) and the mark is cleared. A crash in between is healed by a redelivery or at the next
    start (`start_pending_workflows`). Starting after the commit means a workflow never runs ahead
    of its case."""
    case_id = case_id_for_intake(event.intake_id)
    telemetry.mark(intake_id=event.intake_id, case_id=case_id)
    if await delivery.already_handled():
        await ensure_case_workflows(rt, case_id)
        return
    if not _wants_casework(event.persons):
        async with delivery.transaction():
            return
    await commit_intake_case(rt, event, delivery)
    await ensure_case_workflows(rt, case_id)


async def commit_intake_case(rt: Runtime, event: IntakeCompleted, delivery: Delivery) -> None:
    """The case, its members, consents, assignment (or queue place), the inbox record and the events, in one transaction."""
    case_id = case_id_for_intake(event.intake_id)
    async with delivery.transaction() as tx:
        if await store.get_case(tx.conn, case_id) is not None:
            return
        await _open_case(
            rt, tx, case_id=case_id, household_id=event.household_id, intake_id=event.intake_id, clearing_id=None,
            programme=PROGRAMME_SOCIAL_CASEWORK, district=event.district, members=_members_of(event.persons), causation_id=event.event_id,
        )


async def ensure_case_workflows(rt: Runtime, case_id: uuid.UUID) -> None:
    """Starts the case's workflows if its commit marked them as still to start, then clears the mark."""
    async with rt.db.read() as conn:
        case = await store.get_case(conn, case_id)
    if case is None or not case.workflows_pending:
        return
    await start_case_workflows(rt, case_id)
    async with rt.db.begin() as conn:
        await conn.execute(store.cases.update().where(store.cases.c.id == case_id).values(workflows_pending=False))


async def start_pending_workflows(rt: Runtime) -> None:
    """At start: cases committed without their workflows (a crash in between) get them now."""
    async with rt.db.read() as conn:
        pending = [r.id for r in (await conn.execute(sa.select(store.cases.c.id).where(store.cases.c.workflows_pending.is_(True)))).all()]
    for case_id in pending:
        await ensure_case_workflows(rt, case_id)


async def open_case_for_clearing(rt: Runtime, event: ClearingCompleted | ClearingClosed, delivery: Delivery) -> None:
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


async def apply_intake_correction(rt: Runtime, event: IntakeCorrected, delivery: Delivery) -> None:
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
        async with delivery.transaction() as tx:
            if _wants_casework(event.persons) and await store.get_case(tx.conn, case_id) is None:
                await _open_case(
                    rt, tx, case_id=case_id, household_id=event.household_id, intake_id=event.intake_id, clearing_id=None,
                    programme=PROGRAMME_SOCIAL_CASEWORK, district=event.district, members=_members_of(event.persons), causation_id=event.event_id,
                )
        await ensure_case_workflows(rt, case_id)
        return
    handed: list[uuid.UUID] = []
    async with delivery.transaction() as tx:
        before = {r.person_id: r for r in (await tx.conn.execute(sa.select(store.members).where(store.members.c.case_id == case_id))).all()}
        for person in event.persons:
            old = before.get(person.person_id)
            if old is not None and old.residence_status == ResidenceStatus.ASYLUM_SEEKER and person.residence_status == ResidenceStatus.RECOGNISED_REFUGEE:
                handed += await _hand_over(rt, tx, case_id, person.person_id, event.event_id)
        await _add_members(tx, case_id, _members_of(event.persons), rt)
        if event.removed_person_ids:
            await tx.conn.execute(
                store.members.update().where(store.members.c.case_id == case_id, store.members.c.person_id.in_(event.removed_person_ids)).values(active=False)
            )
        await store.note(
            tx.conn, case_id, "members_updated", SYSTEM, correction_no=event.correction_no,
            added=len([p for p in event.persons if p.person_id not in before]), removed=len(event.removed_person_ids),
        )
    for referral_id in handed:
        await _signal(rt, referral_workflow_id(referral_id), "handed_over", Partner.JOB_CENTRE.value)


async def _hand_over(rt: Runtime, tx: Tx, case_id: uuid.UUID, person_id: uuid.UUID, causation_id: uuid.UUID) -> list[uuid.UUID]:
    rows = (
        await tx.conn.execute(
            sa.select(store.referrals).where(
                store.referrals.c.person_id == person_id, store.referrals.c.partner == Partner.EMPLOYMENT_AGENCY.value, store.referrals.c.status == "open",
            )
        )
    ).all()
    today = date.today()
    for r in rows:
        await tx.conn.execute(
            store.referrals.update().where(store.referrals.c.id == r.id).values(partner=Partner.JOB_CENTRE.value, handed_over_from=Partner.EMPLOYMENT_AGENCY.value)
        )
        await store.note(tx.conn, case_id, "referral_handed_over", SYSTEM, referral_id=r.id, from_partner="employment_agency", to_partner="job_centre", measure=r.measure)
        env = _envelope(rt, r.id, causation_id)
        await tx.emit(ReferralStepRecorded(
            **env, referral_id=r.id, case_id=case_id, person_id=person_id, partner=Partner.JOB_CENTRE, step="handed_over",
            measure=r.measure, working_days_since_referral=working_days_between(r.made_on, today),
        ))
        await tx.emit(ReferralHandedOver(**env, referral_id=r.id, case_id=case_id, person_id=person_id, from_partner=Partner.EMPLOYMENT_AGENCY, to_partner=Partner.JOB_CENTRE))
    return [r.id for r in rows]


# --- closing, phases, reassignment ------------------------------------------------------------------


async def _change_phase(rt: Runtime, tx: Tx, case: sa.Row, target: Phase, actor: str) -> None:
    new = transition(Phase(case.phase), target)
    await tx.conn.execute(store.cases.update().where(store.cases.c.id == case.id).values(phase=new))
    await store.note(tx.conn, case.id, "phase_changed", actor, from_phase=case.phase, to_phase=new)
    await tx.emit(CasePhaseChanged(**_envelope(rt, case.id), case_id=case.id, from_phase=case.phase, to_phase=new))


async def advance_phase(rt: Runtime, tx: Tx, case_id: uuid.UUID, target: Phase, actor: str) -> None:
    case = await store.get_case(tx.conn, case_id)
    if case is not None and advance_to(Phase(case.phase), target) is not None:
        await _change_phase(rt, tx, case, target, actor)


async def close_case(rt: Runtime, principal: Principal, case_id: uuid.UUID, reason: str) -> None:
    """Closes a case with its reason; the caseworker's place goes to the oldest queued case of their
    districts; open referrals close (case_closed); the case's workflows end."""
    cancelled: list[uuid.UUID] = []
    async with rt.outbox.transaction() as tx:
        case = await store.get_case(tx.conn, case_id)
        if case is None:
            raise NotFound("no such case")
        if case.closed_at is not None:
            raise Conflict("the case is already closed", field="reason")
        await _change_phase(rt, tx, case, Phase.CLOSED, principal.username)
        await tx.conn.execute(store.cases.update().where(store.cases.c.id == case_id).values(closed_at=utc_now(), close_reason=reason, queued_at=None))
        await store.note(tx.conn, case_id, "closed", principal.username, reason=reason)
        await tx.emit(CaseClosed(**_envelope(rt, case_id), case_id=case_id, programme=case.programme, district=case.district, reason=reason))
        cancelled = await _cancel_referrals(rt, tx, sa.and_(store.referrals.c.case_id == case_id), "case_closed", principal.username)
        await resolve_alerts(tx.conn, rt.tables, subject_id=case_id, by=principal.username)
        if case.caseworker:
            await store.free_place(tx.conn, case.caseworker)
            cw = await store.get_caseworker(tx.conn, case.caseworker)
            if cw is not None:
                await drain_queue(rt, tx, store.as_list(cw.districts), principal.username)
    await _signal(rt, review_cycle_workflow_id(case_id), "case_closed")
    await _signal(rt, case_onboarding_workflow_id(case_id), "case_closed")
    for referral_id in cancelled:
        await _signal(rt, referral_workflow_id(referral_id), "cancel")


async def end_case_workflows(rt: Runtime, event: CaseClosed, delivery: Delivery) -> None:
    """Casework consumes its own CaseClosed: the event was committed with the closure, so the review
    cycle, onboarding and referral workflows of the case are told even if the process died between
    that commit and the signals `close_case` sends at once. Signals are idempotent; one that cannot
    reach a running workflow fails the delivery, which is then retried (or dead-lettered)."""
    telemetry.mark(case_id=event.case_id)
    async with rt.db.read() as conn:
        referral_ids = (
            await conn.execute(
                sa.select(store.referrals.c.id).where(store.referrals.c.case_id == event.case_id, store.referrals.c.outcome == "case_closed")
            )
        ).scalars().all()
    await _signal(rt, review_cycle_workflow_id(event.case_id), "case_closed", strict=True)
    await _signal(rt, case_onboarding_workflow_id(event.case_id), "case_closed", strict=True)
    for referral_id in referral_ids:
        await _signal(rt, referral_workflow_id(referral_id), "cancel", strict=True)


async def _cancel_referrals(rt: Runtime, tx: Tx, where: Any, outcome: str, actor: str) -> list[uuid.UUID]:
    rows = (await tx.conn.execute(sa.select(store.referrals).where(where, store.referrals.c.status == "open"))).all()
    for r in rows:
        await tx.conn.execute(store.referrals.update().where(store.referrals.c.id == r.id).values(status="closed", outcome=outcome))
        await store.note(tx.conn, r.case_id, "referral_closed", actor, referral_id=r.id, partner=r.partner, outcome=outcome)
        await tx.emit(ReferralClosed(**_envelope(rt, r.id), referral_id=r.id, case_id=r.case_id, partner=Partner(r.partner), outcome=outcome))
        await resolve_alerts(tx.conn, rt.tables, subject_id=r.id, by=actor)
    return [r.id for r in rows]


async def reassign(rt: Runtime, principal: Principal, case_id: uuid.UUID, username: str) -> None:
    """The team lead moves a case to another caseworker (within their cap); the history keeps both."""
    async with rt.outbox.transaction() as tx:
        case = await store.get_case(tx.conn, case_id)
        if case is None:
            raise NotFound("no such case")
        if case.closed_at is not None:
            raise Conflict("the case is closed")
        if await store.get_caseworker(tx.conn, username) is None:
            raise Invalid("no such caseworker", field="caseworker")
        if case.caseworker == username:
            raise Conflict("the case is already with this caseworker", field="caseworker")
        if not await store.take_place(tx.conn, username):
            raise Conflict("the caseworker has no room (caseload cap reached or on leave)", field="caseworker")
        if case.caseworker:
            await store.free_place(tx.conn, case.caseworker)
        await tx.conn.execute(store.cases.update().where(store.cases.c.id == case_id).values(caseworker=username, queued_at=None))
        await tx.conn.execute(store.assignments.insert().values(case_id=case_id, caseworker=username, reason="reassignment", at=utc_now(), by=principal.username))
        await store.note(tx.conn, case_id, "assigned", principal.username, caseworker=username, reason="reassignment", previous=case.caseworker)
        await tx.emit(CaseAssigned(**_envelope(rt, case_id), case_id=case_id, caseworker=username, previous_caseworker=case.caseworker, reason="reassignment"))
        await resolve_alerts(tx.conn, rt.tables, subject_id=case_id, by=principal.username, kinds=("caseload_full",))
        if case.caseworker:
            cw = await store.get_caseworker(tx.conn, case.caseworker)
            await drain_queue(rt, tx, store.as_list(cw.districts), principal.username)


async def add_caseworker(rt: Runtime, principal: Principal, new: Any) -> None:
    """A caseworker joins the register with districts, languages and FTE (cap 190 x FTE unless set, 000);
    queued cases of their districts are assigned to them right away."""
    async with rt.outbox.transaction() as tx:
        if await store.get_caseworker(tx.conn, new.username) is not None:
            raise Conflict("a caseworker with this user name is already in the register", field="username")
        districts = list(dict.fromkeys(new.districts))
        await store.insert_caseworker(tx.conn, username=new.username, districts=districts, languages=list(dict.fromkeys(new.languages)),
                                      fte=new.fte, cap=effective_cap(new.fte, rt.settings.caseload_cap_per_fte, new.cap))
        await drain_queue(rt, tx, districts, principal.username)


async def update_caseworker(rt: Runtime, principal: Principal, username: str, change: Any) -> None:
    async with rt.outbox.transaction() as tx:
        cw = await store.get_caseworker(tx.conn, username)
        if cw is None:
            raise NotFound("no such caseworker")
        values: dict[str, Any] = {}
        if change.districts is not None:
            values["districts"] = json.dumps(change.districts)
        if change.languages is not None:
            values["languages"] = json.dumps(change.languages)
        fte = change.fte if change.fte is not None else cw.fte
        if change.fte is not None or change.cap is not None:
            values["fte"] = fte
            values["cap"] = effective_cap(fte, rt.settings.caseload_cap_per_fte, change.cap)
        if values:
            await tx.conn.execute(store.caseworkers.update().where(store.caseworkers.c.username == username).values(**values))
        cw = await store.get_caseworker(tx.conn, username)
        await drain_queue(rt, tx, store.as_list(cw.districts), principal.username)


async def set_leave(rt: Runtime, principal: Principal, username: str, on_leave: bool, substitute: str | None) -> None:
    """Leave with a substitute: the substitute sees and works the cases (CaseAssigned reason
    substitution for each open case; substitution_ended when the leave ends). The caseload stays with
    the absent caseworker, so nothing moves back and forth."""
    async with rt.outbox.transaction() as tx:
        cw = await store.get_caseworker(tx.conn, username)
        if cw is None:
            raise NotFound("no such caseworker")
        if on_leave and substitute is not None and (substitute == username or await store.get_caseworker(tx.conn, substitute) is None):
            raise Invalid("the substitute must be another registered caseworker", field="substitute")
        if bool(cw.on_leave) == on_leave and cw.substitute == substitute:
            return
        await tx.conn.execute(
            store.caseworkers.update().where(store.caseworkers.c.username == username).values(on_leave=on_leave, substitute=substitute if on_leave else None)
        )
        open_cases = (await tx.conn.execute(sa.select(store.cases.c.id).where(store.cases.c.caseworker == username, store.cases.c.closed_at.is_(None)))).all()
        for (case_id,) in open_cases:
            if on_leave and substitute:
                reason, to, prev = "substitution", substitute, username
            elif not on_leave and cw.substitute:
                reason, to, prev = "substitution_ended", username, cw.substitute
            else:
                continue
            await tx.conn.execute(store.assignments.insert().values(case_id=case_id, caseworker=to, reason=reason, at=utc_now(), by=principal.username))
            await store.note(tx.conn, case_id, "assigned", principal.username, caseworker=to, reason=reason, previous=prev)
            await tx.emit(CaseAssigned(**_envelope(rt, case_id), case_id=case_id, caseworker=to, previous_caseworker=prev, reason=reason))
        if not on_leave:
            await drain_queue(rt, tx, store.as_list(cw.districts), principal.username)


# --- consents -----------------------------------------------------------------------------------------


async def _case_of_person(conn: Any, person_id: uuid.UUID) -> uuid.UUID | None:
    row = (await conn.execute(sa.select(store.members.c.case_id).where(store.members.c.person_id == person_id))).first()
    return row.case_id if row else None


async def record_consent(rt: Runtime, principal: Principal, case_id: uuid.UUID, person_id: uuid.UUID, partner: Partner, purpose: Purpose, given_on: date) -> None:
    async with rt.outbox.transaction() as tx:
        if await store.get_member(tx.conn, case_id, person_id) is None:
            raise Invalid("the person is not a member of this case", field="person_id")
        await upsert(
            tx.conn, store.consents,
            dict(person_id=person_id, partner=partner.value, purpose=purpose.value, given_on=given_on, source="caseworker", recorded_by=principal.username, withdrawn_at=None),
            keys=("person_id", "partner", "purpose"),
        )
        await store.note(tx.conn, case_id, "consent_given", principal.username, person_id=person_id, partner=partner.value, purpose=purpose.value, given_on=given_on)
        await _consent_changed(rt, tx, person_id, partner.value, purpose.value)


async def withdraw_consent(rt: Runtime, principal: Principal, case_id: uuid.UUID, person_id: uuid.UUID, partner: Partner, purpose: Purpose | None) -> int:
    """Withdrawal ends the consent and cancels the person's open referrals to that partner
    (ReferralClosed outcome consent_withdrawn, SGB X §67b)."""
    async with rt.outbox.transaction() as tx:
        if await store.get_member(tx.conn, case_id, person_id) is None:
            raise Invalid("the person is not a member of this case", field="person_id")
        c = store.consents.c
        cond = sa.and_(c.person_id == person_id, c.partner == partner.value, c.withdrawn_at.is_(None))
        if purpose is not None:
            cond = sa.and_(cond, c.purpose == purpose.value)
        ended = (await tx.conn.execute(sa.select(store.consents.c.purpose).where(cond))).scalars().all()
        result = await tx.conn.execute(store.consents.update().where(cond).values(withdrawn_at=utc_now()))
        if not result.rowcount:
            raise Invalid("no active consent for this partner", field="partner")
        for ended_purpose in ended:
            await _consent_changed(rt, tx, person_id, partner.value, ended_purpose)
        await store.note(tx.conn, case_id, "consent_withdrawn", principal.username, person_id=person_id, partner=partner.value, purpose=purpose.value if purpose else None)
        r = store.referrals.c
        where = sa.and_(r.person_id == person_id, r.partner == partner.value)
        if purpose is not None:
            where = sa.and_(where, r.purpose == purpose.value)
        cancelled = await _cancel_referrals(rt, tx, where, "consent_withdrawn", principal.username)
    for referral_id in cancelled:
        await _signal(rt, referral_workflow_id(referral_id), "cancel")
    return len(cancelled)


# --- integration plan (001 phase 2) -------------------------------------------------------------------


def _goal_snapshot(row: Any) -> dict[str, Any]:
    return dict(field_of_action=row["field_of_action"], title=row["title"], target_date=str(row["target_date"]), responsible=row["responsible"], status=row["status"],
                person_id=str(row["person_id"]) if row["person_id"] is not None else None)


async def _goal_changed(rt: Runtime, tx: Tx, goal: dict[str, Any], by: str) -> None:
    await tx.conn.execute(store.goal_revisions.insert().values(goal_id=goal["id"], revision=goal["revision"], snapshot=store.dumps(_goal_snapshot(goal)), at=utc_now(), by=by))
    await store.note(tx.conn, goal["case_id"], "goal_set", by, goal_id=goal["id"], revision=goal["revision"], **_goal_snapshot(goal))
    await tx.emit(GoalSet(
        **_envelope(rt, goal["case_id"]), case_id=goal["case_id"], goal_id=goal["id"], person_id=goal["person_id"], field_of_action=goal["field_of_action"],
        responsible=goal["responsible"], target_date=goal["target_date"], revision=goal["revision"], status=goal["status"],
    ))


async def record_resource_check(rt: Runtime, principal: Principal, case_id: uuid.UUID, answers: dict[str, str]) -> None:
    async with rt.outbox.transaction() as tx:
        await _open_case_row(tx, case_id)
        await upsert(tx.conn, store.plans, dict(case_id=case_id, resource_check=store.dumps(answers)), keys=("case_id",))
        await store.note(tx.conn, case_id, "resource_check", principal.username, questions=len(answers))


async def _open_case_row(tx: Tx, case_id: uuid.UUID) -> sa.Row:
    case = await store.get_case(tx.conn, case_id)
    if case is None:
        raise NotFound("no such case")
    if case.closed_at is not None:
        raise Conflict("the case is closed")
    return case


async def add_goal(rt: Runtime, principal: Principal, case_id: uuid.UUID, goal: GoalIn) -> uuid.UUID:
    async with rt.outbox.transaction() as tx:
        await _open_case_row(tx, case_id)
        if goal.person_id is not None and await store.get_member(tx.conn, case_id, goal.person_id) is None:
            raise Invalid("the person is not a member of this case", field="person_id")
        row = dict(
            id=uuid.uuid4(), case_id=case_id, person_id=goal.person_id, field_of_action=goal.field_of_action, title=goal.title,
            target_date=goal.target_date, responsible=goal.responsible.value, status=GoalStatus.OPEN.value, revision=1,
        )
        await tx.conn.execute(store.goals.insert().values(**row))
        await _goal_changed(rt, tx, row, principal.username)
        return row["id"]


async def change_goal(rt: Runtime, principal: Principal, case_id: uuid.UUID, goal_id: uuid.UUID, change: GoalChangeIn) -> None:
    """Adjusts a goal, also its field of action (1-18, 000 §4) or the person it is for (a member of the
    case, or none: the whole household); every change is a new revision, the old ones are kept, and
    GoalSet carries the new field and person so reporting counts the goal where it now is."""
    async with rt.outbox.transaction() as tx:
        await _open_case_row(tx, case_id)
        values = change.changes()
        person_id = values.get("person_id")
        if isinstance(person_id, uuid.UUID) and await store.get_member(tx.conn, case_id, person_id) is None:
            raise Invalid("the person is not a member of this case", field="person_id")
        await _set_goal(rt, tx, case_id, goal_id, values, principal.username)


async def _set_goal(rt: Runtime, tx: Tx, case_id: uuid.UUID, goal_id: uuid.UUID, values: dict[str, Any], by: str) -> None:
    row = (await tx.conn.execute(sa.select(store.goals).where(store.goals.c.id == goal_id, store.goals.c.case_id == case_id))).first()
    if row is None:
        raise NotFound("no such goal in this case")
    values = {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}
    goal = {**dict(row._mapping), **values}
    if all(goal[k] == row._mapping[k] for k in values):
        return
    goal["revision"] = row.revision + 1
    await tx.conn.execute(store.goals.update().where(store.goals.c.id == goal_id).values(**{k: goal[k] for k in (*values, "revision")}))
    await _goal_changed(rt, tx, goal, by)


async def agree_plan(rt: Runtime, principal: Principal, case_id: uuid.UUID, agreement: PlanAgreeIn) -> int:
    """Records the integration agreement, agreed by client and caseworker (001 phase 2); moves the
    case from planning into integration in the regular systems."""
    if not agreement.agreed_by_client:
        raise Invalid("the client has to agree to the integration agreement", field="agreed_by_client")
    if not agreement.agreed_by_caseworker:
        raise Invalid("the caseworker has to agree to the integration agreement", field="agreed_by_caseworker")
    async with rt.outbox.transaction() as tx:
        case = await _open_case_row(tx, case_id)
        goals = [g for g in await store.case_goals(tx.conn, case_id) if g.status != GoalStatus.DROPPED]
        if not goals:
            raise Invalid("an integration agreement needs at least one goal", field="goals")
        if Phase(case.phase) == Phase.ENTRY:
            raise Conflict("record the first contact before agreeing a plan")
        version = case.plan_version + 1
        await tx.conn.execute(store.cases.update().where(store.cases.c.id == case_id).values(plan_version=version))
        await upsert(tx.conn, store.plans, dict(case_id=case_id, agreed_on=agreement.agreed_on, version=version), keys=("case_id",))
        fields = sorted({g.field_of_action for g in goals})
        await store.note(tx.conn, case_id, "plan_agreed", principal.username, plan_version=version, goals=len(goals), agreed_on=agreement.agreed_on)
        await tx.emit(PlanAgreed(**_envelope(rt, case_id), case_id=case_id, plan_version=version, goal_count=len(goals), fields_of_action=fields))
        await advance_phase(rt, tx, case_id, Phase.INTEGRATION, principal.username)
        return version


# --- referrals (flow 4) -------------------------------------------------------------------------------


async def make_referral(rt: Runtime, principal: Principal, case_id: uuid.UUID, ref: ReferralIn) -> uuid.UUID:
    """Refers a member to a partner, only with the person's documented consent for that partner and
    purpose (422 otherwise); Integration Point referrals only for employable persons (000)."""
    referral_id = uuid.uuid4()
    async with rt.outbox.transaction() as tx:
        case = await _open_case_row(tx, case_id)
        member = await store.get_member(tx.conn, case_id, ref.person_id)
        if member is None or not member.active:
            raise Invalid("the person is not a member of this case", field="person_id")
        if partner_process(ref.partner.value) is None:
            raise Invalid(f"no referrals are made to {ref.partner.value}", field="partner")
        if ref.partner in INTEGRATION_POINT_PARTNERS and not member.employable:
            raise Invalid("only employable persons (15-64, able to work) are referred to the Integration Point", field="person_id")
        if await store.active_consent(tx.conn, ref.person_id, ref.partner.value, ref.purpose.value) is None:
            raise Invalid(consent_missing_reason(ref.partner, ref.purpose), field="partner")
        dup = (await tx.conn.execute(sa.select(store.referrals.c.id).where(
            store.referrals.c.person_id == ref.person_id, store.referrals.c.partner == ref.partner.value, store.referrals.c.status == "open"))).first()
        if dup is not None:
            raise Conflict(f"an open referral to this partner exists: {dup.id}", field="partner")
        today = date.today()
        await tx.conn.execute(store.referrals.insert().values(
            id=referral_id, case_id=case_id, person_id=ref.person_id, partner=ref.partner.value, purpose=ref.purpose.value, status="open",
            made_on=today, made_at=utc_now(), note=ref.note,
        ))
        await store.note(tx.conn, case_id, "referral_made", principal.username, referral_id=referral_id, partner=ref.partner.value, purpose=ref.purpose.value)
        await tx.emit(ReferralMade(
            **_envelope(rt, referral_id), referral_id=referral_id, case_id=case_id, person_id=ref.person_id, partner=ref.partner,
            purpose=ref.purpose, programme=case.programme, district=case.district,
        ))
        row = await store.get_referral(tx.conn, referral_id)
    await start_referral_workflow(rt, row)
    return referral_id


async def ensure_referral_workflows(rt: Runtime) -> None:
    """At start: every open referral has its workflow (a crash between commit and start is healed)."""
    async with rt.db.read() as conn:
        rows = (await conn.execute(sa.select(store.referrals).where(store.referrals.c.status == "open"))).all()
    for row in rows:
        await start_referral_workflow(rt, row)


async def on_start(rt: Runtime) -> None:
    await seed_caseworkers(rt)
    await start_pending_workflows(rt)
    await ensure_referral_workflows(rt)
