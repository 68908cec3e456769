"""Cases of Soziales Fallmanagement (seed 001, four phases)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel

PROGRAMME_SOCIAL_CASEWORK = "Soziales Fallmanagement"
_CASE_NAMESPACE = uuid.UUID("6f0c5c1e-4b7a-4c1e-9a57-2d0f7f1c3a01")


class Phase(enum.StrEnum):
    ENTRY = "entry"
    PLANNING = "planning"
    REGULAR_SYSTEMS = "integration_into_regular_systems"
    REVIEW = "implementation_and_review"
    CLOSED = "closed"


def case_id_for_intake(intake_id: uuid.UUID) -> uuid.UUID:
    """The case an intake opens has an id derived from the intake id, so a redelivered event finds
    the same case and the same review-cycle workflow (still a pseudonym: both are random UUIDs)."""
    return uuid.uuid5(_CASE_NAMESPACE, str(intake_id))


class CaseOut(BaseModel):
    case_id: uuid.UUID
    household_id: uuid.UUID
    intake_id: uuid.UUID | None
    programme: str
    district: str
    phase: Phase
    opened_at: datetime


class CaseList(BaseModel):
    cases: list[CaseOut]
    total: int
