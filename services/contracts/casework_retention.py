"""Casework's retention sweep (GDPR Art. 5(1)(e) storage limitation, Art. 17(1)(a)): a Temporal Schedule
starts the sweep once a day; it finds the persons whose every case closed more than the retention period
ago (casework's setting CASEWORK_RETENTION_DAYS) and asks intake to erase them (PersonRetentionElapsed),
which crypto-shreds the person and announces PersonErased to every service. Inputs and histories carry
pseudonymous person ids and counts only."""

from __future__ import annotations

import uuid

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

RETENTION_SWEEP_WORKFLOW = "RetentionSweep"
PERSONS_PAST_RETENTION = "casework.persons_past_retention"
REQUEST_ERASURE = "casework.request_erasure"


def retention_schedule_id(tenant: str) -> str:
    return f"retention-sweep-{tenant}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetentionInput(_Model):
    tenant: str
    retention_days: int = Field(ge=1, description="Days after a person's last case closed until their data is erased.")
    batch: int = Field(500, ge=1, le=5000, description="At most this many persons per run (the next run takes the rest).")


class PastRetentionInput(_Model):
    closed_before: AwareDatetime
    limit: int = Field(ge=1)


class PersonIds(_Model):
    person_ids: list[uuid.UUID] = Field(default_factory=list)


class ErasureRequestInput(_Model):
    tenant: str
    person_ids: list[uuid.UUID]


class RetentionResult(_Model):
    requested: int = Field(ge=0, description="Persons whose erasure was requested in this run.")
