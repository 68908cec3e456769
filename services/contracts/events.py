"""Events of the walking skeleton. Later issues add their flows' events here.

Only the producer builds its events. Every field is either a pseudonymous id or a coarse attribute
(district, programme, counts) that does not identify a person.
"""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field

from services.contracts.envelope import Event


class IntakeCompleted(Event):
    """The front desk completed the intake interview (Erstgespräch) of a household (000 §3.1)."""

    producer = "intake"

    intake_id: uuid.UUID
    household_id: uuid.UUID
    person_ids: list[uuid.UUID] = Field(min_length=1)
    district: str = Field(min_length=1, max_length=64, description="Sozialraum of the household's address (coarse).")


class CaseOpened(Event):
    """Soziales Fallmanagement opened a case for a household (001, phase 1 "Einstieg")."""

    producer = "casework"

    case_id: uuid.UUID
    household_id: uuid.UUID
    intake_id: uuid.UUID | None = None
    programme: str = Field(description="Programme the case belongs to, e.g. 'Soziales Fallmanagement' or 'ABRA'.")
    district: str


class ReviewDue(Event):
    """A case's periodic review of its integration goals came due (001, phase 4; default every 90 days)."""

    producer = "casework"

    case_id: uuid.UUID
    cycle: int = Field(ge=1)
    due_on: date
