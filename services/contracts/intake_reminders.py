"""Intake's appointment reminders (issue 14): a Temporal Schedule starts the reminders workflow every few
minutes; its one activity sends the reminder e-mails that are due (the working day before a clearing
appointment, with consent) and reports counts only (no address, no name)."""

from __future__ import annotations

from pydantic import BaseModel, Field

CLEARING_REMINDERS_WORKFLOW = "ClearingReminders"
SEND_DUE_CLEARING_REMINDERS = "intake.send_due_clearing_reminders"


def reminders_schedule_id(tenant: str) -> str:
    return f"clearing-reminders-{tenant}"


class RemindersInput(BaseModel):
    tenant: str


class RemindersResult(BaseModel):
    sent: int = Field(0, ge=0)
    failed: int = Field(0, ge=0, description="Due reminders whose mail could not be handed to the relay (sent on a later run).")
