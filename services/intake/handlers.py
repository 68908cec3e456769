"""Intake's commands."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

from services.contracts.events import IntakeCompleted, PersonProfile
from services.contracts.vocab import AgeGroup, Prospect, ResidenceStatus, Route, Sex
from services.intake import store
from services.intake.domain import IntakeCreated, IntakeIn, PersonIn
from services.kit import telemetry
from services.kit.auth import Principal
from services.kit.db import utc_now
from services.kit.errors import Conflict
from services.kit.service import Runtime

WRITE_ROLES = ("front_desk",)


def _profile(person_id: uuid.UUID, person: PersonIn, today: date) -> PersonProfile:
    """Walking-skeleton profile; the routing rules of DOMAIN.md flow 1 replace this in the intake issue."""
    age = today.year - person.date_of_birth.year - ((today.month, today.day) < (person.date_of_birth.month, person.date_of_birth.day))
    group = next(g for limit, g in ((6, AgeGroup.UNDER_6), (18, AgeGroup.AGE_6_17), (25, AgeGroup.AGE_18_24), (45, AgeGroup.AGE_25_44), (65, AgeGroup.AGE_45_64), (10**6, AgeGroup.AGE_65_PLUS)) if age < limit)
    return PersonProfile(
        person_id=person_id, adult=age >= 18, age_group=group, sex=Sex.UNSPECIFIED,
        residence_status=ResidenceStatus(person.residence_status.value), prospect=Prospect.UNCLEAR,
        employable=15 <= age <= 64, routes=[Route.CASEWORK], german_level="none",
    )


async def complete_intake(rt: Runtime, principal: Principal, command: IntakeIn, idempotency_key: str | None) -> tuple[IntakeCreated, bool]:
    """Stores the household and publishes IntakeCompleted in one transaction. A repeated request with
    the same Idempotency-Key returns the first result instead of a second intake (a double click or a
    retry after a lost answer at the counter). Returns (result, created)."""
    request_hash = hashlib.sha256(command.model_dump_json().encode()).hexdigest() if idempotency_key else None
    async with rt.outbox.transaction() as tx:
        if idempotency_key:
            existing = await store.intake_by_key(tx.conn, idempotency_key)
            if existing is not None:
                if existing.request_hash != request_hash:
                    raise Conflict("Idempotency-Key was already used for a different intake", field="Idempotency-Key")
                telemetry.mark(intake_id=existing.id)
                ids = await store.person_ids(tx.conn, existing.household_id)
                return IntakeCreated(intake_id=existing.id, household_id=existing.household_id, person_ids=ids), False
        intake_id, household_id = uuid.uuid4(), uuid.uuid4()
        people = [
            {"id": uuid.uuid4(), "position": i, **p.model_dump()} for i, p in enumerate(command.household.persons)
        ]
        telemetry.mark(intake_id=intake_id, household_id=household_id)
        now = utc_now()
        await store.insert_intake(
            tx.conn, intake_id=intake_id, household_id=household_id, district=command.household.district,
            people=people, key=idempotency_key, request_hash=request_hash, by=principal.username, at=now,
        )
        await rt.audit(tx.conn, principal, WRITE_ROLES, "create", "intake", intake_id)
        person_ids = [p["id"] for p in people]
        await tx.emit(
            IntakeCompleted(
                tenant=rt.platform.tenant, correlation_id=intake_id, occurred_at=now,
                intake_id=intake_id, household_id=household_id,
                district=command.household.district,
                move_in_date=min(p.move_in_date for p in command.household.persons),
                persons=[_profile(p["id"], person, now.date()) for p, person in zip(people, command.household.persons, strict=True)],
            )
        )
    return IntakeCreated(intake_id=intake_id, household_id=household_id, person_ids=person_ids), True
