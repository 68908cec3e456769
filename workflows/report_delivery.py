"""Delivery of a frozen report by e-mail to its recipients (funder contacts or a distribution list;
DOMAIN.md flow 7 "generated on a schedule and delivered automatically"). One workflow per report,
id `report-delivery-<report id>`. Each attempt is one activity run; between attempts the workflow
waits with a doubling back-off (durable timers, so tests fast-forward them). When the report is still
undelivered after the deadline (a setting, default 48 h) the reporting officer is alerted once, and
attempts continue at a slower pace until delivered or the attempts run out.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.contracts import reporting_activities as activities
    from services.contracts.reporting_workflows import REPORT_DELIVERY_WORKFLOW, DeliveryInput, EscalateInput, SendReportInput

ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=20)


@workflow.defn(name=REPORT_DELIVERY_WORKFLOW)
class ReportDelivery:
    def __init__(self) -> None:
        self._attempts = 0
        self._escalated = False
        self._last_error = ""

    @workflow.run
    async def run(self, inp: DeliveryInput) -> str:
        started = workflow.now()
        deadline = timedelta(seconds=inp.deadline_s)
        backoff = timedelta(seconds=inp.first_retry_s)
        while self._attempts < inp.max_attempts:
            self._attempts += 1
            try:
                await workflow.execute_activity(
                    activities.send_report,
                    SendReportInput(report_id=inp.report_id, attempt=self._attempts),
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=ONE_ATTEMPT,
                )
                return f"delivered after {self._attempts} attempt(s)"
            except ActivityError as exc:
                cause = exc.cause
                self._last_error = (cause.message if isinstance(cause, ApplicationError) else str(cause or exc))[:200]
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    await self._escalate(inp)
                    return f"failed: {self._last_error}"
            elapsed = workflow.now() - started
            if not self._escalated and elapsed >= deadline:
                await self._escalate(inp)
            if self._escalated:
                wait = timedelta(seconds=inp.retry_after_escalation_s)
            else:
                wait = min(backoff, deadline - elapsed)
                backoff = min(backoff * 2, timedelta(seconds=inp.max_backoff_s))
            await workflow.sleep(max(wait, timedelta(seconds=1)))
        await self._escalate(inp)
        return f"failed after {self._attempts} attempts: {self._last_error}"

    async def _escalate(self, inp: DeliveryInput) -> None:
        if self._escalated:
            return
        self._escalated = True
        await workflow.execute_activity(
            activities.escalate_delivery,
            EscalateInput(report_id=inp.report_id, attempts=self._attempts, reason=self._last_error or "undelivered"),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )

    @workflow.query
    def status(self) -> dict:
        return {"attempts": self._attempts, "escalated": self._escalated, "last_error": self._last_error}
