"""The first contact of a case (seed 001 phase 1 "Einstieg"; DOMAIN.md flow 3), as both workflows that
run it use it: CaseOnboarding (cases opened before v3) and ReviewCycle (v3, one workflow per case).
Each keeps its own state; the deadlines, the record and its refusal are written here once.
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.contracts import casework_activities as activities
    from services.contracts.casework_workflows import (
        CaseDeadlineInput,
        FirstContactUpdate,
        RecordFirstContactInput,
        first_contact_error,
    )
    from services.contracts.workdays import city_today

#: The steps before the first contact: (when, the activity that raises it, the step's name).
Step = tuple[datetime, Callable[..., Any], str]


def deadlines(case_id: Any, tenant: str, opened: datetime, first_contact_days: int, reminder_days: int) -> tuple[CaseDeadlineInput, tuple[Step, Step]]:
    """The deadline the reminder and the escalation name, and the two steps: the reminder to the
    caseworker (day `reminder_days`, at the latest on the due day), the escalation at the due day."""
    due = opened + timedelta(days=first_contact_days)
    deadline = CaseDeadlineInput(case_id=case_id, tenant=tenant, kind="first_contact", due_on=city_today(due))
    remind_at = opened + timedelta(days=min(reminder_days, first_contact_days))
    return deadline, ((remind_at, activities.onboarding_remind, "reminded"), (due, activities.onboarding_escalate, "escalated"))


async def record(case_id: Any, tenant: str, contact: FirstContactUpdate, retry: RetryPolicy) -> None:
    """The caseworker's record of the welcome visit (activity `record_first_contact`)."""
    await workflow.execute_activity(
        activities.record_first_contact,
        RecordFirstContactInput(
            case_id=case_id, tenant=tenant, contact_on=contact.contact_on,
            starter_pack=contact.starter_pack, recorded_by=contact.recorded_by, recorded_on=city_today(workflow.now()),
        ),
        start_to_close_timeout=timedelta(seconds=30), retry_policy=retry,
    )


def refusal(contact: FirstContactUpdate, *, recorded: bool, opened_on: date) -> str | None:
    """Why a first contact is refused once the case is known to be open: recorded already (or being
    recorded), or a date the rule refuses (contracts' first_contact_error)."""
    if recorded:
        return "the first contact has already been recorded"
    return first_contact_error(contact.contact_on, opened_on, city_today(workflow.now()))
