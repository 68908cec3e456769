"""Casework's Temporal activities: the effects of its workflows on its database and outbox, as the
methods of one class. Each implements the interface declared in services.contracts.casework_activities
under the same name.

Each activity is idempotent (a retry after a crash changes nothing twice): reminders and escalations
are keyed alerts, recorded steps carry the activity's id as a unique timeline key. Dates come from the
workflow (`workflow.now()`), so deadlines computed on virtual time stay consistent. Domain errors are
non-retryable."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from temporalio import activity

from services.casework import store, store_erasure, store_plans, store_referrals
from services.casework.domain import (
    CLOSED_GOAL_STATUSES,
    PLACEMENTS,
    WORK_FIELD,
    GoalStatus,
    Phase,
    acknowledges,
    count_results,
    first_contact_error,
    referral_step_changes,
)
from services.casework.handlers_assign import SYSTEM, advance_phase
from services.casework.handlers_plans import set_goal
from services.casework.runtime import CaseworkRuntime
from services.contracts.activities import RECORD_REVIEW_DUE, RecordReviewDueInput, RecordReviewDueResult
from services.contracts.casework import PersonRetentionElapsed
from services.contracts.casework_retention import (
    PERSONS_PAST_RETENTION,
    REQUEST_ERASURE,
    ErasureRequestInput,
    PastRetentionInput,
    PersonIds,
    RetentionResult,
)
from services.contracts.casework_workflows import (
    ONBOARDING_ESCALATE,
    ONBOARDING_REMIND,
    RECORD_FIRST_CONTACT,
    RECORD_REFERRAL_STEP,
    RECORD_REVIEW,
    REFERRAL_ESCALATE,
    REVIEW_ESCALATE,
    CaseDeadlineInput,
    PartnerProcess,
    RecordFirstContactInput,
    RecordReferralStepInput,
    RecordReviewInput,
    ReferralEscalateInput,
    StepResult,
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
from services.contracts.refusals import CONFLICT, INVALID, NOT_FOUND, refusal
from services.contracts.vocab import Partner
from services.contracts.workdays import city_today, working_days_between
from services.kit import telemetry
from services.kit.alerts import raise_alert, resolve_alerts
from services.kit.outbox import Tx
from services.kit.workflows import activity_refusals


def _env(tenant: str, correlation: uuid.UUID) -> dict[str, Any]:
    return dict(tenant=tenant, correlation_id=correlation)


def _key() -> str:
    info = activity.info()
    return f"act-{info.workflow_run_id}-{info.activity_id}"


class CaseworkActivities:
    """Casework's activities on the service's runtime (its database, outbox and alerts)."""

    def __init__(self, rt: CaseworkRuntime) -> None:
        self.rt = rt

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.record_review_due, self.review_escalate, self.record_review, self.onboarding_remind, self.onboarding_escalate,
            self.record_first_contact, self.referral_escalate, self.record_referral_step, self.persons_past_retention, self.request_erasure,
        ]

    # --- reviews (001 phase 4) ----------------------------------------------------------------------------

    @activity.defn(name=RECORD_REVIEW_DUE)
    async def record_review_due(self, inp: RecordReviewDueInput) -> RecordReviewDueResult:
        """A review came due (001 phase 4): recorded and announced once per case and cycle (ReviewDue),
        with a reminder to the responsible caseworker on the due date."""
        telemetry.mark(case_id=inp.case_id)
        async with self.rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None or case.closed_at is not None:
                return RecordReviewDueResult(case_open=False)
            if await store_plans.review_due(tx.conn, inp.case_id, inp.cycle) is None:
                await store_plans.insert_review_due(tx.conn, inp.case_id, inp.cycle, inp.due_on)
                await tx.emit(ReviewDue(tenant=inp.tenant, correlation_id=inp.case_id, case_id=inp.case_id, cycle=inp.cycle, due_on=inp.due_on))
                await store.note(tx.conn, inp.case_id, "review_due", SYSTEM, cycle=inp.cycle, due_on=inp.due_on)
                await raise_alert(
                    tx.conn, self.rt.tables, key=f"review-due-{inp.case_id}-{inp.cycle}", kind="review_due", role="caseworker",
                    assignee=case.caseworker, subject_type="case", subject_id=inp.case_id,
                    message=f"Überprüfung {inp.cycle} des Falls {inp.case_id} ist am {inp.due_on} fällig.",
                )
        return RecordReviewDueResult(case_open=True)

    @activity.defn(name=REVIEW_ESCALATE)
    async def review_escalate(self, inp: CaseDeadlineInput) -> StepResult:
        """A review still unrecorded 14 days (setting) after its due date goes to the team lead."""
        telemetry.mark(case_id=inp.case_id)
        async with self.rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None or case.closed_at is not None:
                return StepResult(ok=False, detail="closed")
            if await raise_alert(
                tx.conn, self.rt.tables, key=f"review-overdue-{inp.case_id}-{inp.cycle}", kind="review_overdue", role="team_lead",
                subject_type="case", subject_id=inp.case_id,
                message=f"Überprüfung {inp.cycle} des Falls {inp.case_id} ist seit dem {inp.due_on} überfällig.",
            ):
                await store_plans.update_review_due(tx.conn, inp.case_id, inp.cycle, escalated=True)
                await store.note(tx.conn, inp.case_id, "escalated", SYSTEM, kind="review_overdue", cycle=inp.cycle)
                await tx.emit(CaseEscalated(**_env(inp.tenant, inp.case_id), case_id=inp.case_id, kind="review_overdue"))
        return StepResult()

    @activity.defn(name=RECORD_REVIEW)
    async def record_review(self, inp: RecordReviewInput) -> StepResult:
        """Records a review: per goal achieved / partly / not achieved / dropped, and each measure's
        effect from both views (001 phase 4); the goals take the results; ReviewCompleted counts them."""
        telemetry.mark(case_id=inp.case_id)
        async with self.rt.outbox.transaction() as tx:
            row = await store_plans.review_due(tx.conn, inp.case_id, inp.cycle)
            if row is not None and row.completed_on is not None:
                return StepResult(detail="already recorded")
            review = inp.review
            if row is None:
                await store_plans.insert_review_due(tx.conn, inp.case_id, inp.cycle, inp.due_on)
            await store_plans.update_review_due(tx.conn, inp.case_id, inp.cycle, completed_on=inp.reviewed_on, results=review.model_dump_json())
            with activity_refusals():  # a goal not in the case: NotFound, not retried
                for g in review.goals:
                    await set_goal(self.rt, tx, inp.case_id, g.goal_id, {"status": g.result}, review.recorded_by)
            overdue = max(0, (inp.reviewed_on - inp.due_on).days)
            await store.note(
                tx.conn, inp.case_id, "review_completed", review.recorded_by, cycle=inp.cycle, days_overdue=overdue,
                goals=[g.model_dump(mode="json") for g in review.goals], measures=[m.model_dump(mode="json") for m in review.measures],
            )
            counts = count_results([g.result for g in review.goals])
            await tx.emit(ReviewCompleted(**_env(inp.tenant, inp.case_id), case_id=inp.case_id, cycle=inp.cycle, days_overdue=overdue, **counts))
            await advance_phase(self.rt, tx, inp.case_id, Phase.REVIEW, review.recorded_by)
            await resolve_alerts(tx.conn, self.rt.tables, subject_id=inp.case_id, by=review.recorded_by, kinds=("review_due", "review_overdue"))
        return StepResult()

    # --- onboarding (001 phase 1) ---------------------------------------------------------------------------

    @activity.defn(name=ONBOARDING_REMIND)
    async def onboarding_remind(self, inp: CaseDeadlineInput) -> StepResult:
        """Reminds the caseworker of the first contact before it is due (default day 10 of 14)."""
        telemetry.mark(case_id=inp.case_id)
        async with self.rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None or case.closed_at is not None or case.first_contact_on is not None:
                return StepResult(ok=False, detail="not needed")
            if await raise_alert(
                tx.conn, self.rt.tables, key=f"first-contact-reminder-{inp.case_id}", kind="first_contact_reminder", role="caseworker",
                assignee=case.caseworker, subject_type="case", subject_id=inp.case_id,
                message=f"Erstkontakt (Willkommensbesuch) im Fall {inp.case_id} ist bis {inp.due_on} fällig.",
            ):
                await store.note(tx.conn, inp.case_id, "reminder", SYSTEM, kind="first_contact", due_on=inp.due_on)
        return StepResult()

    @activity.defn(name=ONBOARDING_ESCALATE)
    async def onboarding_escalate(self, inp: CaseDeadlineInput) -> StepResult:
        """No first contact within 14 days (setting) of opening: the team lead is alerted (CaseEscalated)."""
        telemetry.mark(case_id=inp.case_id)
        async with self.rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None or case.closed_at is not None or case.first_contact_on is not None:
                return StepResult(ok=False, detail="not needed")
            if await raise_alert(
                tx.conn, self.rt.tables, key=f"first-contact-overdue-{inp.case_id}", kind="first_contact_overdue", role="team_lead",
                subject_type="case", subject_id=inp.case_id,
                message=f"Erstkontakt im Fall {inp.case_id} war bis {inp.due_on} fällig und ist nicht erfolgt.",
            ):
                await store.note(tx.conn, inp.case_id, "escalated", SYSTEM, kind="first_contact_overdue", due_on=inp.due_on)
                await tx.emit(CaseEscalated(**_env(inp.tenant, inp.case_id), case_id=inp.case_id, kind="first_contact_overdue"))
        return StepResult()

    @activity.defn(name=RECORD_FIRST_CONTACT)
    async def record_first_contact(self, inp: RecordFirstContactInput) -> StepResult:
        """The welcome visit (001 phase 1): first contact and starter pack; the case moves to planning.
        The date is checked by first_contact_error, the rule the API and the workflow's validator apply."""
        telemetry.mark(case_id=inp.case_id)
        async with self.rt.outbox.transaction() as tx:
            case = await store.get_case(tx.conn, inp.case_id)
            if case is None:
                raise refusal(NOT_FOUND, "no such case")
            if case.first_contact_on is not None:
                return StepResult(detail="already recorded")
            error = first_contact_error(inp.contact_on, city_today(case.opened_at), inp.recorded_on or city_today())
            if error:
                raise refusal(INVALID, error)
            await store.update_case(tx.conn, inp.case_id, first_contact_on=inp.contact_on)
            days = max(0, (inp.contact_on - case.opened_at.date()).days)
            await store.note(tx.conn, inp.case_id, "first_contact", inp.recorded_by, contact_on=inp.contact_on, starter_pack=inp.starter_pack,
                             days_after_opening=days)
            await tx.emit(FirstContactRecorded(**_env(inp.tenant, inp.case_id), case_id=inp.case_id, contact_on=inp.contact_on,
                                               days_after_opening=days, starter_pack=inp.starter_pack))
            await advance_phase(self.rt, tx, inp.case_id, Phase.PLANNING, inp.recorded_by)
            await resolve_alerts(tx.conn, self.rt.tables, subject_id=inp.case_id, by=inp.recorded_by, kinds=("first_contact_reminder", "first_contact_overdue"))
        return StepResult()

    # --- referrals (DOMAIN.md flow 4) -----------------------------------------------------------------------

    @activity.defn(name=REFERRAL_ESCALATE)
    async def referral_escalate(self, inp: ReferralEscalateInput) -> StepResult:
        """The partner missed the acknowledgement (5 working days) or first appointment (20 working
        days) deadline (DOMAIN.md flow 4 defaults): ReferralEscalated and an alert to the team lead."""
        telemetry.mark(referral_id=inp.referral_id)
        async with self.rt.outbox.transaction() as tx:
            r = await store_referrals.get_referral(tx.conn, inp.referral_id)
            if r is None or r.status != "open":
                return StepResult(ok=False, detail="closed")
            if await raise_alert(
                tx.conn, self.rt.tables, key=f"referral-{inp.breach}-{inp.referral_id}", kind=f"referral_{inp.breach}_overdue", role="team_lead",
                subject_type="referral", subject_id=inp.referral_id,
                message=f"Vermittlung {inp.referral_id} an {r.partner}: Frist ({inp.breach}) am {inp.due_on} überschritten.",
            ):
                await store.note(tx.conn, r.case_id, "escalated", SYSTEM, kind=f"referral_{inp.breach}_overdue", referral_id=r.id, due_on=inp.due_on)
                env = _env(inp.tenant, r.id)
                await tx.emit(ReferralEscalated(**env, referral_id=r.id, case_id=r.case_id, partner=Partner(r.partner), breach=inp.breach))
                await tx.emit(CaseEscalated(**env, case_id=r.case_id, kind=f"referral_{inp.breach}_overdue", referral_id=r.id))
        return StepResult()

    @activity.defn(name=RECORD_REFERRAL_STEP)
    async def record_referral_step(self, inp: RecordReferralStepInput) -> StepResult:
        """A partner step on a referral (the partner's table, PARTNER_PROCESSES): the referral's columns
        as referral_step_changes says, the timeline, ReferralStepRecorded; then the step's consequences."""
        telemetry.mark(referral_id=inp.referral_id)
        key = _key()
        async with self.rt.outbox.transaction() as tx:
            if await store.timeline_key_seen(tx.conn, key):
                return StepResult(detail="already recorded")
            r = await store_referrals.get_referral(tx.conn, inp.referral_id)
            if r is None:
                raise refusal(NOT_FOUND, "no such referral")
            if r.status != "open":
                raise refusal(CONFLICT, "the referral is closed")
            process = partner_process(r.partner)
            if process is None:
                raise refusal(INVALID, f"no referrals are made to {r.partner}")
            on = inp.on or inp.appointment_on
            values = referral_step_changes(process, inp.step, measure=inp.measure, on=on, recorded_on=inp.recorded_on, acknowledged_on=r.acknowledged_on)
            await store_referrals.update_referral(tx.conn, r.id, **values)
            await store.note(
                tx.conn, r.case_id, "referral_step", inp.recorded_by, key=key, referral_id=r.id, partner=r.partner, step=inp.step,
                measure=inp.measure, appointment_on=inp.appointment_on, on=on,
            )
            await tx.emit(ReferralStepRecorded(
                **_env(inp.tenant, r.id), referral_id=r.id, case_id=r.case_id, person_id=r.person_id, partner=Partner(r.partner), step=inp.step,
                measure=inp.measure if inp.step == "measure_offered" else r.measure,
                working_days_since_referral=working_days_between(r.made_on, inp.recorded_on),
            ))
            await self._after_step(tx, r, process, inp)
        return StepResult()

    async def _after_step(self, tx: Tx, r: sa.Row, process: PartnerProcess, inp: RecordReferralStepInput) -> None:
        """The step's consequences (DOMAIN.md flow 4): the deadline alerts it meets are resolved; a
        terminal step closes the referral (ReferralClosed); a placement in training or employment marks
        the plan's work goal (field of action 3) of the person or household achieved."""
        tables, by = self.rt.tables, inp.recorded_by
        if acknowledges(process, inp.step):
            await resolve_alerts(tx.conn, tables, subject_id=r.id, by=by, kinds=("referral_acknowledgement_overdue",))
        if inp.step in process.first_answer:
            await resolve_alerts(tx.conn, tables, subject_id=r.id, by=by, kinds=("referral_acknowledgement_overdue", "referral_first_appointment_overdue"))
        if inp.step in process.terminal:
            await tx.emit(ReferralClosed(**_env(inp.tenant, r.id), referral_id=r.id, case_id=r.case_id, partner=Partner(r.partner), outcome=inp.step))
            await resolve_alerts(tx.conn, tables, subject_id=r.id, by=by)
        if inp.step in PLACEMENTS:
            for g in await store_plans.open_goals_in_field(tx.conn, r.case_id, WORK_FIELD, r.person_id, CLOSED_GOAL_STATUSES):
                await set_goal(self.rt, tx, r.case_id, g.id, {"status": GoalStatus.ACHIEVED.value}, by)


    # --- retention (GDPR Art. 5(1)(e), Art. 17(1)(a)) -------------------------------------------------------

    @activity.defn(name=PERSONS_PAST_RETENTION)
    async def persons_past_retention(self, inp: PastRetentionInput) -> PersonIds:
        async with self.rt.db.read() as conn:
            return PersonIds(person_ids=await store_erasure.closed_before(conn, inp.closed_before, inp.limit))

    @activity.defn(name=REQUEST_ERASURE)
    async def request_erasure(self, inp: ErasureRequestInput) -> RetentionResult:
        """One PersonRetentionElapsed per person; intake erases them and PersonErased comes back."""
        days = self.rt.settings.retention_days
        async with self.rt.outbox.transaction() as tx:
            for pid in inp.person_ids:
                await tx.emit(PersonRetentionElapsed(tenant=inp.tenant, correlation_id=pid, person_id=pid, retention_days=days))
        return RetentionResult(requested=len(inp.person_ids))


def activities(rt: CaseworkRuntime) -> list[Callable[..., Any]]:
    """The activities to register on casework's worker (the methods of CaseworkActivities)."""
    return CaseworkActivities(rt).all()
