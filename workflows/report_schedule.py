"""A scheduled report run (ARCHITECTURE.md "report schedule"). A Temporal Schedule starts it on the
1st of every month (monthly statistics, 002 §4.1) or of every quarter's first month (funder reports
and the quarterly KPI report, 000 §6.4 item 4c); it waits with a durable timer until the configured
working day of the NRW calendar (monthly default: the 3rd working day), generates the reports for the
period just ended and starts one delivery workflow per report."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.contracts import reporting_activities as activities
    from services.contracts.refusals import NON_RETRYABLE
    from services.contracts.reporting_workflows import (
        SCHEDULED_REPORTS_WORKFLOW,
        GenerateInput,
        GenerateResult,
        Plan,
        PlanInput,
        ScheduledReportsInput,
        StartDeliveriesInput,
    )

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5), maximum_attempts=20,
    non_retryable_error_types=NON_RETRYABLE,
)


@workflow.defn(name=SCHEDULED_REPORTS_WORKFLOW)
class ScheduledReports:
    def __init__(self) -> None:
        self._plan: Plan | None = None

    @workflow.run
    async def run(self, inp: ScheduledReportsInput) -> list[str]:
        plan: Plan = await workflow.execute_activity(
            activities.plan_scheduled_run, PlanInput(cadence=inp.cadence, fired_at=workflow.now()),
            start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY,
        )
        self._plan = plan
        wait = plan.due_at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        result: GenerateResult = await workflow.execute_activity(
            activities.generate_scheduled_reports, GenerateInput(cadence=inp.cadence, period=plan.period),
            start_to_close_timeout=timedelta(minutes=10), retry_policy=RETRY,
        )
        await workflow.execute_activity(
            activities.start_deliveries, StartDeliveriesInput(report_ids=result.report_ids),
            start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY,
        )
        return [str(r) for r in result.report_ids]

    @workflow.query
    def plan(self) -> Plan | None:
        return self._plan
