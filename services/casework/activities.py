"""Casework's Temporal activities: the effects of its workflows on its database and outbox.

Each activity is idempotent (a retry after a crash changes nothing twice): reminders and escalations
are keyed alerts, recorded steps carry the activity's id as a unique timeline key. Dates come from the
workflow (`workflow.now()`), so deadlines computed on virtual time stay consistent. Domain errors are
non-retryable."""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.casework import handlers, store
from services.casework.domain import GoalStatus, Phase
from services.contracts.activities import RECORD_REVIEW_DUE, RecordReviewDueInput, RecordReviewDueResult
from services.contracts.casework_workflows import (
    ONBOARDING_ESCALATE,
    ONBOARDING_REMIND,
    RECORD_FIRST_CONTACT,
    RECORD_REFERRAL_STEP,
    RECORD_REVIEW,
    REFERRAL_ESCALATE,
    REVIEW_ESCALATE,
    CaseDeadlineInput,
    RecordFirstContactInput,
    RecordReferralStepInput,
    RecordReviewInput,
    ReferralEscalateInput,
    StepResult,
    first_contact_error,
    partner_process,
)
from services.contracts.events import (
    CaseEscalated,
    FirstContactRecorded,
    ReferralClosed,
    ReferralEscalated,
    ReferralStepRecorded,
    ReviewCompleted,
    ReviewDue,
)
from services.contracts.vocab import FieldOfAction, Partner
from services.contracts.workdays import working_days_between
from services.kit import telemetry
from services.kit.alerts import raise_alert, resolve_alerts
from services.kit.db import utc_now
from services.kit.errors import DomainError
from services.kit.service import Runtime

SYSTEM = handlers.SYSTEM


def _env(inp_tenant: str, correlation: uuid.UUID) -> dict:
    return dict(tenant=inp_tenant, correlation_id=correlation)


def _key() -> str:
    info = activity.info()
    return f"act-{info.workflow_run_id}-{info.activity_id}"


def activities(rt: Runtime) -> list:
    @activity.defn(name=RECORD_REVIEW_DUE)
    async def record_review_due(inp: RecordReviewDueInput) -> RecordReviewDueResult:
        """A review came due (001 phase 4): recorded and announced once per case and cycle (ReviewDue),
        with a reminder to the responsible caseworker on the due date."""
        telemetry.mark(case_id=inp.case_id)
        async with rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None or case.closed_at is not None:
                return RecordReviewDueResult(case_open=False)
            exists = (
                await tx.conn.execute(
                    store.reviews_due.select().where(store.reviews_due.c.case_id == inp.case_id, store.reviews_due.c.cycle == inp.cycle)
                )
            ).first()
            if exists is None:
                await tx.conn.execute(store.reviews_due.insert().values(case_id=inp.case_id, cycle=inp.cycle, due_on=inp.due_on, recorded_at=utc_now()))
                await tx.emit(ReviewDue(tenant=inp.tenant, correlation_id=inp.case_id, case_id=inp.case_id, cycle=inp.cycle, due_on=inp.due_on))
                await store.note(tx.conn, inp.case_id, "review_due", SYSTEM, cycle=inp.cycle, due_on=inp.due_on)
                await raise_alert(
                    tx.conn, rt.tables, key=f"review-due-{inp.case_id}-{inp.cycle}", kind="review_due", role="caseworker",
                    assignee=case.caseworker, subject_type="case", subject_id=inp.case_id,
                    message=f"Überprüfung {inp.cycle} des Falls {inp.case_id} ist am {inp.due_on} fällig.",
                )
        return RecordReviewDueResult(case_open=True)

    @activity.defn(name=REVIEW_ESCALATE)
    async def review_escalate(inp: CaseDeadlineInput) -> StepResult:
        """A review still unrecorded 14 days (setting) after its due date goes to the team lead."""
        telemetry.mark(case_id=inp.case_id)
        async with rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None or case.closed_at is not None:
                return StepResult(ok=False, detail="closed")
            if await raise_alert(
                tx.conn, rt.tables, key=f"review-overdue-{inp.case_id}-{inp.cycle}", kind="review_overdue", role="team_lead",
                subject_type="case", subject_id=inp.case_id,
                message=f"Überprüfung {inp.cycle} des Falls {inp.case_id} ist seit dem {inp.due_on} überfällig.",
            ):
                await tx.conn.execute(
                    store.reviews_due.update().where(store.reviews_due.c.case_id == inp.case_id, store.reviews_due.c.cycle == inp.cycle).values(escalated=True)
                )
                await store.note(tx.conn, inp.case_id, "escalated", SYSTEM, kind="review_overdue", cycle=inp.cycle)
                await tx.emit(CaseEscalated(**_env(inp.tenant, inp.case_id), case_id=inp.case_id, kind="review_overdue"))
        return StepResult()

    @activity.defn(name=RECORD_REVIEW)
    async def record_review(inp: RecordReviewInput) -> StepResult:
        """Records a review: per goal achieved / partly / not achieved / dropped, and each measure's
        effect from both views (001 phase 4); the goals take the results; ReviewCompleted counts them."""
        telemetry.mark(case_id=inp.case_id)
        async with rt.outbox.transaction() as tx:
            row = (
                await tx.conn.execute(
                    sa.select(store.reviews_due).where(store.reviews_due.c.case_id == inp.case_id, store.reviews_due.c.cycle == inp.cycle)
                )
            ).first()
            if row is not None and row.completed_on is not None:
                return StepResult(detail="already recorded")
            review = inp.review
            if row is None:
                await tx.conn.execute(store.reviews_due.insert().values(case_id=inp.case_id, cycle=inp.cycle, due_on=inp.due_on, recorded_at=utc_now()))
            await tx.conn.execute(
                store.reviews_due.update().where(store.reviews_due.c.case_id == inp.case_id, store.reviews_due.c.cycle == inp.cycle).values(
                    completed_on=inp.reviewed_on, results=review.model_dump_json()
                )
            )
            counts = {k: 0 for k in ("achieved", "partly", "not_achieved", "dropped")}
            for g in review.goals:
                counts[g.result] += 1
                try:
                    await handlers._set_goal(rt, tx, inp.case_id, g.goal_id, {"status": g.result}, review.recorded_by)
                except DomainError as exc:
                    raise ApplicationError(exc.message, type=type(exc).__name__, non_retryable=True) from exc
            overdue = max(0, (inp.reviewed_on - inp.due_on).days)
            await store.note(
                tx.conn, inp.case_id, "review_completed", review.recorded_by, cycle=inp.cycle, days_overdue=overdue,
                goals=[g.model_dump(mode="json") for g in review.goals], measures=[m.model_dump(mode="json") for m in review.measures],
            )
            await tx.emit(ReviewCompleted(**_env(inp.tenant, inp.case_id), case_id=inp.case_id, cycle=inp.cycle, days_overdue=overdue, **counts))
            await handlers.advance_phase(rt, tx, inp.case_id, Phase.REVIEW, review.recorded_by)
            await resolve_alerts(tx.conn, rt.tables, subject_id=inp.case_id, by=review.recorded_by, kinds=("review_due", "review_overdue"))
        return StepResult()

    @activity.defn(name=ONBOARDING_REMIND)
    async def onboarding_remind(inp: CaseDeadlineInput) -> StepResult:
        """Reminds the caseworker of the first contact before it is due (default day 10 of 14)."""
        telemetry.mark(case_id=inp.case_id)
        async with rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None or case.closed_at is not None or case.first_contact_on is not None:
                return StepResult(ok=False, detail="not needed")
            if await raise_alert(
                tx.conn, rt.tables, key=f"first-contact-reminder-{inp.case_id}", kind="first_contact_reminder", role="caseworker",
                assignee=case.caseworker, subject_type="case", subject_id=inp.case_id,
                message=f"Erstkontakt (Willkommensbesuch) im Fall {inp.case_id} ist bis {inp.due_on} fällig.",
            ):
                await store.note(tx.conn, inp.case_id, "reminder", SYSTEM, kind="first_contact", due_on=inp.due_on)
        return StepResult()

    @activity.defn(name=ONBOARDING_ESCALATE)
    async def onboarding_escalate(inp: CaseDeadlineInput) -> StepResult:
        """No first contact within 14 days (setting) of opening: the team lead is alerted (CaseEscalated)."""
        telemetry.mark(case_id=inp.case_id)
        async with rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None or case.closed_at is not None or case.first_contact_on is not None:
                return StepResult(ok=False, detail="not needed")
            if await raise_alert(
                tx.conn, rt.tables, key=f"first-contact-overdue-{inp.case_id}", kind="first_contact_overdue", role="team_lead",
                subject_type="case", subject_id=inp.case_id,
                message=f"Erstkontakt im Fall {inp.case_id} war bis {inp.due_on} fällig und ist nicht erfolgt.",
            ):
                await store.note(tx.conn, inp.case_id, "escalated", SYSTEM, kind="first_contact_overdue", due_on=inp.due_on)
                await tx.emit(CaseEscalated(**_env(inp.tenant, inp.case_id), case_id=inp.case_id, kind="first_contact_overdue"))
        return StepResult()

    @activity.defn(name=RECORD_FIRST_CONTACT)
    async def record_first_contact(inp: RecordFirstContactInput) -> StepResult:
        """The welcome visit (001 phase 1): first contact and starter pack; the case moves to planning."""
        telemetry.mark(case_id=inp.case_id)
        async with rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None:
                raise ApplicationError("no such case", type="NotFound", non_retryable=True)
            if case.first_contact_on is not None:
                return StepResult(detail="already recorded")
            error = first_contact_error(inp.contact_on, case.opened_at.date(), inp.recorded_on or date.today())
            if error:
                raise ApplicationError(error, type="Invalid", non_retryable=True)
            await tx.conn.execute(store.cases.update().where(store.cases.c.id == inp.case_id).values(first_contact_on=inp.contact_on))
            days = max(0, (inp.contact_on - case.opened_at.date()).days)
            await store.note(tx.conn, inp.case_id, "first_contact", inp.recorded_by, contact_on=inp.contact_on, starter_pack=inp.starter_pack, days_after_opening=days)
            await tx.emit(FirstContactRecorded(**_env(inp.tenant, inp.case_id), case_id=inp.case_id, contact_on=inp.contact_on, days_after_opening=days, starter_pack=inp.starter_pack))
            await handlers.advance_phase(rt, tx, inp.case_id, Phase.PLANNING, inp.recorded_by)
            await resolve_alerts(tx.conn, rt.tables, subject_id=inp.case_id, by=inp.recorded_by, kinds=("first_contact_reminder", "first_contact_overdue"))
        return StepResult()

    @activity.defn(name=REFERRAL_ESCALATE)
    async def referral_escalate(inp: ReferralEscalateInput) -> StepResult:
        """The partner missed the acknowledgement (5 working days) or first appointment (20 working
        days) deadline (DOMAIN.md flow 4 defaults): ReferralEscalated and an alert to the team lead."""
        telemetry.mark(referral_id=inp.referral_id)
        async with rt.outbox.transaction() as tx:
            r = await store.get_referral(tx.conn, inp.referral_id)
            if r is None or r.status != "open":
                return StepResult(ok=False, detail="closed")
            if await raise_alert(
                tx.conn, rt.tables, key=f"referral-{inp.breach}-{inp.referral_id}", kind=f"referral_{inp.breach}_overdue", role="team_lead",
                subject_type="referral", subject_id=inp.referral_id,
                message=f"Vermittlung {inp.referral_id} an {r.partner}: Frist ({inp.breach}) am {inp.due_on} überschritten.",
            ):
                await store.note(tx.conn, r.case_id, "escalated", SYSTEM, kind=f"referral_{inp.breach}_overdue", referral_id=r.id, due_on=inp.due_on)
                env = _env(inp.tenant, r.id)
                await tx.emit(ReferralEscalated(**env, referral_id=r.id, case_id=r.case_id, partner=Partner(r.partner), breach=inp.breach))
                await tx.emit(CaseEscalated(**env, case_id=r.case_id, kind=f"referral_{inp.breach}_overdue", referral_id=r.id))
        return StepResult()

    @activity.defn(name=RECORD_REFERRAL_STEP)
    async def record_referral_step(inp: RecordReferralStepInput) -> StepResult:
        """A partner step on a referral (the partner's table, PARTNER_PROCESSES); a terminal step
        closes the referral with the step as its outcome; a placement in training or employment marks
        the work goal (field of action 3) of the plan achieved (DOMAIN.md flow 4)."""
        telemetry.mark(referral_id=inp.referral_id)
        key = _key()
        async with rt.outbox.transaction() as tx:
            if (await tx.conn.execute(sa.select(store.timeline.c.id).where(store.timeline.c.key == key))).first() is not None:
                return StepResult(detail="already recorded")
            r = await store.get_referral(tx.conn, inp.referral_id)
            if r is None:
                raise ApplicationError("no such referral", type="NotFound", non_retryable=True)
            if r.status != "open":
                raise ApplicationError("the referral is closed", type="Conflict", non_retryable=True)
            process = partner_process(r.partner)
            if process is None:
                raise ApplicationError(f"no referrals are made to {r.partner}", type="Invalid", non_retryable=True)
            terminal = inp.step in process.terminal
            acknowledges = inp.step == "acknowledged" or process.answer_acknowledges
            on = inp.on or inp.appointment_on
            values: dict = {"latest_step": inp.step}
            if acknowledges and r.acknowledged_on is None:
                values["acknowledged_on"] = inp.recorded_on
            if inp.step == "appointment_booked":
                values["appointment_on"] = on or inp.recorded_on
            elif inp.step == "measure_offered":
                values["measure"] = inp.measure
            elif inp.step in process.dated:
                values["outcome_on"] = on
            if terminal:
                values.update(status="closed", outcome=inp.step)
            await tx.conn.execute(store.referrals.update().where(store.referrals.c.id == r.id).values(**values))
            await store.note(
                tx.conn, r.case_id, "referral_step", inp.recorded_by, key=key, referral_id=r.id, partner=r.partner, step=inp.step,
                measure=inp.measure, appointment_on=inp.appointment_on, on=on,
            )
            env = _env(inp.tenant, r.id)
            await tx.emit(ReferralStepRecorded(
                **env, referral_id=r.id, case_id=r.case_id, person_id=r.person_id, partner=Partner(r.partner), step=inp.step,
                measure=inp.measure if inp.step == "measure_offered" else r.measure, working_days_since_referral=working_days_between(r.made_on, inp.recorded_on),
            ))
            if acknowledges:
                await resolve_alerts(tx.conn, rt.tables, subject_id=r.id, by=inp.recorded_by, kinds=("referral_acknowledgement_overdue",))
            if inp.step in process.first_answer:
                await resolve_alerts(tx.conn, rt.tables, subject_id=r.id, by=inp.recorded_by, kinds=("referral_acknowledgement_overdue", "referral_first_appointment_overdue"))
            if terminal:
                await tx.emit(ReferralClosed(**env, referral_id=r.id, case_id=r.case_id, partner=Partner(r.partner), outcome=inp.step))
                await resolve_alerts(tx.conn, rt.tables, subject_id=r.id, by=inp.recorded_by)
            if inp.step in ("placed_training", "placed_employment"):
                work_goals = (
                    await tx.conn.execute(
                        sa.select(store.goals).where(
                            store.goals.c.case_id == r.case_id, store.goals.c.field_of_action == FieldOfAction.WORK.value,
                            store.goals.c.status != GoalStatus.ACHIEVED.value, store.goals.c.status != GoalStatus.DROPPED.value,
                            sa.or_(store.goals.c.person_id.is_(None), store.goals.c.person_id == r.person_id),
                        )
                    )
                ).all()
                for g in work_goals:
                    await handlers._set_goal(rt, tx, r.case_id, g.id, {"status": GoalStatus.ACHIEVED.value}, inp.recorded_by)
        return StepResult()

    return [
        record_review_due, review_escalate, record_review, onboarding_remind, onboarding_escalate, record_first_contact,
        referral_escalate, record_referral_step,
    ]

