"""Case onboarding (seed 001 phase 1 "Einstieg"; DOMAIN.md flow 3): the first contact (welcome visit)
is due within 14 days of opening (setting). The caseworker is reminded before (default day 10); at the
deadline the team lead is alerted. The first contact and the starter pack are recorded through the
`record_first_contact` update (a human record, validated). One workflow per case,
id `case-onboarding-<case id>`; it ends with the first contact or the case's closure.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.contracts.casework_workflows import (
        CASE_ONBOARDING_WORKFLOW,
        CaseOnboardingInput,
        FirstContactUpdate,
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


@workflow.defn(name=CASE_ONBOARDING_WORKFLOW)
class CaseOnboarding:
    @workflow.init
    def __init__(self, inp: CaseOnboardingInput) -> None:
        self._closed = False
        self._contacted = False
        self._recording = False
        self._inp = inp
        self._opened_on = city_today(workflow.now())

    @workflow.run
    async def run(self, inp: CaseOnboardingInput) -> str:
        deadline, steps = first_contact.deadlines(inp.case_id, inp.tenant, workflow.now(), inp.first_contact_days, inp.reminder_days)
        for at, deadline_activity, _ in steps:
            try:
                await workflow.wait_condition(lambda: self._closed or self._contacted, timeout=max(at - workflow.now(), timedelta(seconds=1)))
                break
            except TimeoutError:
                result: StepResult = await workflow.execute_activity(
                    deadline_activity, deadline, start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY,
                )
                if not result.ok:
                    break  # closed or contacted meanwhile
        await workflow.wait_condition(lambda: self._closed or self._contacted)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "contacted" if self._contacted else "closed"

    @workflow.update
    async def record_first_contact(self, contact: FirstContactUpdate) -> str:
        self._recording = True
        try:
            await first_contact.record(self._inp.case_id, self._inp.tenant, contact, RETRY)
        except Exception:
            self._recording = False
            raise
        self._contacted = True
        return "recorded"

    @record_first_contact.validator
    def _validate(self, contact: FirstContactUpdate) -> None:
        if self._closed:
            raise ValueError("the case is closed")
        error = first_contact.refusal(contact, recorded=self._contacted or self._recording, opened_on=self._opened_on)
        if error:
            raise ValueError(error)

    @workflow.signal
    def case_closed(self) -> None:
        self._closed = True
