"""Referral to the Integration Point or another partner (DOMAIN.md flow 4; 000 "Projekt Integration
Point"): the partner acknowledges within 5 working days and holds the first appointment within 20
working days of the referral (settings; NRW working days). Each breach escalates to the team lead.
The partner's steps (acknowledge, book appointment, profiling, measure offered, placement, decline,
no-show for the Integration Point; place offered or waiting list for a Kita, enrolled for a language
course, ...) arrive as the validated `record_step` update; the step table per partner is
`services.contracts.casework_workflows.PARTNER_PROCESSES` (`referral_step_error`). Since the patch
`PARTNER_ANSWERS_PATCH` a partner's substantive answer (place offered, waiting list, enrolled) meets
the first-appointment deadline, and the state follows the partner's own table. A change of legal regime hands the
referral over (signal `handed_over`) and the deadlines and history go on. One workflow per referral,
id `referral-<referral id>`; it ends when the referral closes.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.contracts import casework_activities as activities
    from services.contracts.casework_workflows import (
        PARTNER_ANSWERS_PATCH,
        REFERRAL_WORKFLOW,
        RecordReferralStepInput,
        ReferralEscalateInput,
        ReferralInput,
        ReferralState,
        ReferralStepUpdate,
        StepResult,
        apply_referral_step,
        meets_first_deadline,
        referral_step_error,
    )
    from services.contracts.refusals import NON_RETRYABLE
    from services.contracts.workdays import add_working_days, city_today, end_of_working_day

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
    non_retryable_error_types=NON_RETRYABLE,
)


@workflow.defn(name=REFERRAL_WORKFLOW)
class Referral:
    @workflow.init
    def __init__(self, inp: ReferralInput) -> None:
        self._state = ReferralState()
        self._booked_once = False
        self._busy = False
        self._partner = inp.partner.value
        self._inp = inp

    @workflow.run
    async def run(self, inp: ReferralInput) -> str:
        deadlines = (
            ("acknowledgement", add_working_days(inp.made_on, inp.acknowledgement_working_days), lambda: self._state.acknowledged),
            ("first_appointment", add_working_days(inp.made_on, inp.first_appointment_working_days), lambda: self._booked_once),
        )
        for breach, due_on, met in deadlines:
            timeout = end_of_working_day(due_on) - workflow.now()
            try:
                await workflow.wait_condition(lambda met=met: self._state.closed or met(), timeout=max(timeout, timedelta(seconds=1)))
            except TimeoutError:
                result: StepResult = await workflow.execute_activity(
                    activities.referral_escalate, ReferralEscalateInput(referral_id=inp.referral_id, tenant=inp.tenant, breach=breach, due_on=due_on),
                    start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY,
                )
                if not result.ok:
                    self._state = self._state.model_copy(update={"closed": True})
            if self._state.closed:
                break
        await workflow.wait_condition(lambda: self._state.closed)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "closed"

    @workflow.update
    async def record_step(self, step: ReferralStepUpdate) -> str:
        self._busy = True
        try:
            await workflow.execute_activity(
                activities.record_referral_step,
                RecordReferralStepInput(
                    referral_id=self._inp.referral_id, tenant=self._inp.tenant, step=step.step, measure=step.measure,
                    appointment_on=step.on if step.step == "appointment_booked" else None, on=step.on,
                    recorded_on=city_today(workflow.now()), recorded_by=step.recorded_by,
                ),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY,
            )
        finally:
            self._busy = False
        if workflow.patched(PARTNER_ANSWERS_PATCH):
            self._state = apply_referral_step(self._state, step.step, self._partner)
            if meets_first_deadline(self._partner, step.step):
                self._booked_once = True
        else:
            self._state = apply_referral_step(self._state, step.step)
            if step.step == "appointment_booked":
                self._booked_once = True
        return step.step

    @record_step.validator
    def _validate(self, step: ReferralStepUpdate) -> None:
        if self._busy:
            raise ValueError("another step is being recorded; try again")
        error = referral_step_error(self._state, step.step, step.measure, self._partner)
        if error:
            raise ValueError(error)

    @workflow.signal
    def cancel(self) -> None:
        """The referral was closed by casework (consent withdrawn, case closed)."""
        self._state = self._state.model_copy(update={"closed": True})

    @workflow.signal
    def handed_over(self, partner: str) -> None:
        self._partner = partner

    @workflow.query
    def state(self) -> dict:
        return {**self._state.model_dump(), "partner": self._partner, "appointment_booked_once": self._booked_once}
