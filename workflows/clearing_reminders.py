"""Appointment reminders by e-mail (issue 14). A Temporal Schedule of intake starts this workflow every
INTAKE_REMINDER_INTERVAL_MINUTES; it runs one activity that sends every reminder now due (the working
day before a clearing appointment, only with the newcomer's consent, once per appointment)."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.contracts.intake_activities import send_due_clearing_reminders
    from services.contracts.intake_reminders import CLEARING_REMINDERS_WORKFLOW, RemindersInput, RemindersResult

RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=2), maximum_attempts=5)


@workflow.defn(name=CLEARING_REMINDERS_WORKFLOW)
class ClearingReminders:
    @workflow.run
    async def run(self, inp: RemindersInput) -> RemindersResult:
        return await workflow.execute_activity(
            send_due_clearing_reminders, inp, start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY,
        )
