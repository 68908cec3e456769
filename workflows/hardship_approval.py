"""Hardship fund approval (DOMAIN.md flow 5; seed 000 "Härtefallfond"): one workflow per application,
id `hardship-<application id>`.

Human steps are updates with validators: `decide` (fund managers; never the applicant; above 1,000 EUR
two distinct deciders), `order_payment` (by a decider), `disburse` (a third person: neither applicant
nor decider), `cancel` (before payout; releases the reservation). The decision is due within N working
days (NRW calendar, default 5); then the application is escalated once and stays open for a decision.
The funding database is authoritative: each step runs as one activity that re-checks the rules there.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.contracts.funding_activities import (
        hardship_escalate,
        hardship_step,
    )
    from services.contracts.funding_workflows import (
        HARDSHIP_APPROVAL_WORKFLOW,
        HardshipApprovalInput,
        HardshipCommand,
        HardshipEscalateInput,
        HardshipState,
        HardshipStepInput,
        hardship_step_refusal,
    )
    from services.contracts.refusals import DOMAIN_ERROR, INVALID, NON_RETRYABLE, is_refusal, refusal
    from services.contracts.workdays import BERLIN, add_working_days, end_of_working_day, working_days_between

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE,
)
TERMINAL = ("rejected", "redirected", "cancelled", "disbursed")


def domain_failure(err: ActivityError) -> ApplicationError:
    """An activity's domain error becomes the update's failure with the same type (mapped to HTTP by the API)."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and is_refusal(cause):
        return refusal(cause.type or DOMAIN_ERROR, cause.message)
    return refusal(DOMAIN_ERROR, "the step could not be recorded; try again")


@workflow.defn(name=HARDSHIP_APPROVAL_WORKFLOW)
class HardshipApproval:
    @workflow.init
    def __init__(self, inp: HardshipApprovalInput) -> None:
        # set before the first update is validated (updates can arrive with the workflow's first task)
        self._state = HardshipState(status="pending")
        self._inp: HardshipApprovalInput | None = inp
        self._lock = asyncio.Lock()
        self._applied_on = workflow.now().astimezone(BERLIN).date()

    @workflow.run
    async def run(self, inp: HardshipApprovalInput) -> HardshipState:
        now = workflow.now()
        due_on = add_working_days(self._applied_on, inp.decision_working_days)
        try:
            await workflow.wait_condition(lambda: self._state.status != "pending", timeout=end_of_working_day(due_on) - now)
        except TimeoutError:
            await workflow.execute_activity(
                hardship_escalate,
                HardshipEscalateInput(application_id=inp.application_id, tenant=inp.tenant, due_on=due_on),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            self._state = self._state.model_copy(update={"escalated": True})
        await workflow.wait_condition(lambda: self._state.status in TERMINAL and workflow.all_handlers_finished())
        return self._state

    def _check(self, cmd: HardshipCommand) -> None:
        """The rules of the step (four eyes, the third-person payout; contracts' hardship_step_refusal)."""
        assert self._inp is not None
        found = hardship_step_refusal(cmd, self._inp.applicant, self._state)
        if found is not None:
            raise refusal(found.type, found.message)

    async def _run_step(self, cmd: HardshipCommand) -> HardshipState:
        assert self._inp is not None
        async with self._lock:
            self._check(cmd)  # again: another update may have changed the state while this one waited
            days = working_days_between(self._applied_on, workflow.now().astimezone(BERLIN).date())
            try:
                state = await workflow.execute_activity(
                    hardship_step,
                    HardshipStepInput(application_id=self._inp.application_id, tenant=self._inp.tenant, command=cmd, working_days_to_decision=days),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=RETRY,
                )
            except ActivityError as err:
                raise domain_failure(err) from None
            self._state = state.model_copy(update={"escalated": self._state.escalated})
            return self._state

    @workflow.update
    async def decide(self, cmd: HardshipCommand) -> HardshipState:
        return await self._run_step(cmd)

    @decide.validator
    def _validate_decide(self, cmd: HardshipCommand) -> None:
        if cmd.step != "decide" or cmd.decision is None:
            raise refusal(INVALID, "a decision is approve or reject")
        self._check(cmd)

    @workflow.update
    async def order_payment(self, cmd: HardshipCommand) -> HardshipState:
        return await self._run_step(cmd)

    @order_payment.validator
    def _validate_order(self, cmd: HardshipCommand) -> None:
        if cmd.step != "order_payment":
            raise refusal(INVALID, "wrong step")
        self._check(cmd)

    @workflow.update
    async def disburse(self, cmd: HardshipCommand) -> HardshipState:
        return await self._run_step(cmd)

    @disburse.validator
    def _validate_disburse(self, cmd: HardshipCommand) -> None:
        if cmd.step != "disburse":
            raise refusal(INVALID, "wrong step")
        self._check(cmd)

    @workflow.update
    async def cancel(self, cmd: HardshipCommand) -> HardshipState:
        return await self._run_step(cmd)

    @cancel.validator
    def _validate_cancel(self, cmd: HardshipCommand) -> None:
        if cmd.step != "cancel":
            raise refusal(INVALID, "wrong step")
        self._check(cmd)

    @workflow.query
    def state(self) -> HardshipState:
        return self._state
