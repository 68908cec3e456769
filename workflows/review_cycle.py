"""Review cycle of a case (seed 001 phase 4 "Umsetzung und Überprüfung"; DOMAIN.md flow 3):
a review comes due every N days (default 90) until the case closes. One workflow per open case,
id `review-cycle-<case id>`; each cycle continues as new so the history stays short.

v2 (patch `review-v2`): on the due date the caseworker is reminded (by the due activity); the review
itself is recorded through the `record_review` update (a human decision, validated: only the cycle
that is due, once); 14 days (setting) after the due date an unrecorded review escalates to the team
lead; the next cycle is due `interval_days` after the previous due date. Histories of v1 runs (due,
then continue-as-new at once) still replay.

v3 (input `onboarding`): the workflow also runs the case's first contact (seed 001 phase 1 "Einstieg"),
which cases opened before run in a CaseOnboarding workflow of their own: reminder to the caseworker
(default day 10), escalation to the team lead at the deadline (day 14), the first contact recorded
through the `record_first_contact` update. One workflow per case instead of two: a workflow start and
its first task are most of what an opened case costs the Temporal server. The state is carried to the
next cycle (`OnboardingState`), so a first contact still open after a review period is still taken.
"""

import asyncio
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.contracts import casework_activities as activities
    from services.contracts.activities import (
        REVIEW_CYCLE_WORKFLOW,
        OnboardingState,
        RecordReviewDueInput,
        RecordReviewDueResult,
        ReviewCycleInput,
    )
    from services.contracts.casework_workflows import (
        CaseDeadlineInput,
        FirstContactUpdate,
        RecordReviewInput,
        ReviewUpdate,
        StepResult,
    )
    from services.contracts.refusals import NON_RETRYABLE
    from services.contracts.workdays import city_today
    from workflows import first_contact

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
    non_retryable_error_types=NON_RETRYABLE,
)
REVIEW_V2 = "review-v2"


@workflow.defn(name=REVIEW_CYCLE_WORKFLOW)
class ReviewCycle:
    @workflow.init
    def __init__(self, inp: ReviewCycleInput) -> None:
        self._closed = False
        self._cycle = 0
        self._due_on: date | None = None
        self._reviewed = False
        self._recording = False
        self._inp: ReviewCycleInput | None = inp
        # v3: the first contact; set here, not in run, so an update in the first task finds it
        self._onboarding: OnboardingState | None = (
            inp.onboarding.model_copy(update={"opened_at": inp.onboarding.opened_at or workflow.now()}) if inp.onboarding else None
        )
        self._contact_recording = False

    @workflow.run
    async def run(self, inp: ReviewCycleInput) -> str:
        self._cycle = inp.cycle
        self._inp = inp
        if self._onboarding is not None and not self._onboarding.contacted:
            asyncio.create_task(self._first_contact_deadlines(inp))  # noqa: RUF006 - ends with the run (deterministic workflow task)
        interval = timedelta(days=inp.interval_days)
        if inp.anchor_on is None:
            due = workflow.now() + interval
            wait = interval
        else:
            due_day = inp.anchor_on + interval
            due = datetime.combine(due_day, workflow.now().timetz())
            wait = max(due - workflow.now(), timedelta(seconds=1))
        try:
            await workflow.wait_condition(lambda: self._closed, timeout=wait)
        except TimeoutError:
            pass
        if self._closed:
            return await self._ended()
        result: RecordReviewDueResult = await workflow.execute_activity(
            activities.record_review_due,
            RecordReviewDueInput(case_id=inp.case_id, tenant=inp.tenant, cycle=inp.cycle, due_on=due.date()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        if not result.case_open:
            return "closed"
        if workflow.patched(REVIEW_V2):
            self._due_on = due.date()
            try:
                await workflow.wait_condition(lambda: self._closed or self._reviewed, timeout=timedelta(days=inp.escalate_after_days))
            except TimeoutError:
                escalated: StepResult = await workflow.execute_activity(
                    activities.review_escalate,
                    CaseDeadlineInput(case_id=inp.case_id, tenant=inp.tenant, kind="review_overdue", due_on=due.date(), cycle=inp.cycle),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=RETRY,
                )
                if not escalated.ok:
                    return "closed"
                await workflow.wait_condition(lambda: self._closed or self._reviewed)
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._closed and not self._reviewed:
                return "closed"
            workflow.continue_as_new(inp.model_copy(update={"cycle": inp.cycle + 1, "anchor_on": due.date(), "onboarding": self._onboarding}))
        workflow.continue_as_new(inp.model_copy(update={"cycle": inp.cycle + 1}))

    async def _ended(self) -> str:
        """The case closed: a v3 run lets a first contact being recorded finish first (v1/v2 histories
        end at once, as they did)."""
        if self._onboarding is not None:
            await workflow.wait_condition(workflow.all_handlers_finished)
        return "closed"

    async def _first_contact_deadlines(self, inp: ReviewCycleInput) -> None:
        """v3: the reminder, then the escalation, each unless the first contact was recorded (or the case
        closed) before it; a step done in an earlier cycle is not repeated."""
        ob = self._onboarding
        assert ob is not None and ob.opened_at is not None
        deadline, steps = first_contact.deadlines(inp.case_id, inp.tenant, ob.opened_at, ob.first_contact_days, ob.reminder_days)
        for at, deadline_activity, done in steps:
            if getattr(self._onboarding, done):
                continue
            try:
                await workflow.wait_condition(lambda: self._closed or self._contacted(), timeout=max(at - workflow.now(), timedelta(seconds=1)))
                return
            except TimeoutError:
                result: StepResult = await workflow.execute_activity(
                    deadline_activity, deadline, start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY,
                )
                self._onboarding = self._onboarding.model_copy(update={done: True})
                if not result.ok:
                    return  # closed or contacted meanwhile

    def _contacted(self) -> bool:
        return self._onboarding is not None and self._onboarding.contacted

    @workflow.update
    async def record_first_contact(self, contact: FirstContactUpdate) -> str:
        """v3: the caseworker's record of the welcome visit (as CaseOnboarding.record_first_contact)."""
        assert self._inp is not None and self._onboarding is not None
        self._contact_recording = True
        try:
            await first_contact.record(self._inp.case_id, self._inp.tenant, contact, RETRY)
        except Exception:
            self._contact_recording = False
            raise
        self._onboarding = self._onboarding.model_copy(update={"contacted": True})
        return "recorded"

    @record_first_contact.validator
    def _validate_first_contact(self, contact: FirstContactUpdate) -> None:
        if self._closed:
            raise ValueError("the case is closed")
        if self._onboarding is None:
            raise ValueError("the first contact is not open in this workflow")
        assert self._onboarding.opened_at is not None
        error = first_contact.refusal(contact, recorded=self._onboarding.contacted or self._contact_recording, opened_on=city_today(self._onboarding.opened_at))
        if error:
            raise ValueError(error)

    @workflow.update
    async def record_review(self, review: ReviewUpdate) -> str:
        assert self._inp is not None and self._due_on is not None
        self._recording = True
        try:
            await workflow.execute_activity(
                activities.record_review,
                RecordReviewInput(
                    case_id=self._inp.case_id, tenant=self._inp.tenant, cycle=self._cycle, due_on=self._due_on,
                    reviewed_on=city_today(workflow.now()), review=review,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
        except Exception:
            self._recording = False
            raise
        self._reviewed = True
        return "recorded"

    @record_review.validator
    def _validate_review(self, review: ReviewUpdate) -> None:
        if self._closed:
            raise ValueError("the case is closed")
        if self._due_on is None:
            raise ValueError(f"review {review.cycle} is not due yet")
        if review.cycle != self._cycle:
            raise ValueError(f"the review due is cycle {self._cycle}, not {review.cycle}")
        if self._reviewed or self._recording:
            raise ValueError(f"review {review.cycle} has already been recorded")

    @workflow.signal
    def case_closed(self) -> None:
        self._closed = True

    @workflow.query
    def cycle_closed(self) -> bool:
        return self._closed

    @workflow.query
    def due(self) -> dict:
        return {"cycle": self._cycle, "due_on": self._due_on.isoformat() if self._due_on else None, "reviewed": self._reviewed}
