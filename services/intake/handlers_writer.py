"""Writes the persons of an intake (new or corrected) and the events they cause, in the transaction of
the intake's handler (handlers.py): the unlinkable statistics record, the routing, the person's clearing
(DOMAIN.md flows 1 and 2; 002 §4.1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.contracts.events import ArrivalRecorded, ArrivalRetracted, ClearingStarted, ConsentGiven, PersonProfile, PersonRouted
from services.contracts.intake_workflows import household_clearing_workflow_id
from services.contracts.vocab import Route
from services.contracts.workdays import BERLIN
from services.intake import store, store_clearing, store_search
from services.intake.domain import CLEARING_PENDING, registration_missed
from services.intake.domain_routing import derive
from services.intake.runtime import IntakeRuntime
from services.intake.schemas import Derived, HouseholdIn, PersonIn
from services.kit.alerts import resolve_alerts
from services.kit.outbox import Tx


def profile(person_id: uuid.UUID, person: PersonIn, d: Derived) -> PersonProfile:
    """The person as IntakeCompleted/IntakeCorrected carry it: coarse facts only, no name."""
    return PersonProfile(
        person_id=person_id, adult=d.adult, age_group=d.age_group, sex=person.sex,
        residence_status=person.residence_status, prospect=d.prospect, employable=d.employable,
        needs=d.needs, routes=d.routes, german_level=person.german_level.value,
        languages=sorted({lang.code for lang in person.languages}),
        consents=[ConsentGiven(partner=c.partner, purpose=c.purpose, given_on=c.given_on) for c in person.consents],
    )


def coarse(d: Derived, person: PersonIn) -> dict[str, Any]:
    """The plain (non-identifying) columns of a person's row."""
    return dict(
        adult=d.adult, age_group=d.age_group.value, sex=person.sex.value, residence_status=person.residence_status.value,
        prospect=d.prospect.value, employable=d.employable, needs=",".join(d.needs), routes=",".join(d.routes),
    )


def sealed_fields(person: PersonIn, household: HouseholdIn) -> dict[str, Any]:
    """What is sealed under the person's data key: every field of the interview and the household's address."""
    return {**person.model_dump(mode="json"), "_address": household.address.model_dump(mode="json") if household.address else None}


class IntakeWriter:
    """Writes the persons of an intake (new or corrected) and the events they cause, in one transaction."""

    def __init__(self, rt: IntakeRuntime, tx: Tx, intake_id: uuid.UUID, household_id: uuid.UUID, district: str, now: datetime) -> None:
        self.rt, self.tx, self.intake_id, self.household_id, self.district, self.now = rt, tx, intake_id, household_id, district, now
        self.ring = rt.keyring
        self.new_keys: list[dict[str, Any]] = []
        self.new_persons: list[dict[str, Any]] = []
        self.new_abra: list[tuple[uuid.UUID, PersonIn]] = []
        self.new_tokens: list[dict[str, Any]] = []
        #: the household's clearing workflow for clearings this transaction starts (a correction's own)
        self.clearing_workflow = household_clearing_workflow_id(intake_id)
        self.clearings_started = 0

    def event_base(self) -> dict[str, Any]:
        return dict(tenant=self.rt.platform.tenant, correlation_id=self.intake_id, occurred_at=self.now)

    def derive(self, person: PersonIn, household: HouseholdIn) -> Derived:
        return derive(person, self.now.date(), self.rt.routing_rules, youth_welfare=household.referred_to_youth_welfare)

    async def arrival(self, person_id: uuid.UUID, person: PersonIn, d: Derived) -> uuid.UUID:
        """An unlinkable statistics record (002 §4.1): random id, no person, household or intake id."""
        record_id = uuid.uuid4()
        await self.tx.emit(
            ArrivalRecorded(
                tenant=self.rt.platform.tenant, correlation_id=record_id, occurred_at=self.now, record_id=record_id,
                month=person.move_in_date.strftime("%Y-%m"), district=self.district, nationality=person.nationality,
                residence_status=person.residence_status, sex=person.sex, age_group=d.age_group,
            )
        )
        return record_id

    async def retract(self, record_id: uuid.UUID | None) -> None:
        if record_id is not None:
            await self.tx.emit(ArrivalRetracted(tenant=self.rt.platform.tenant, correlation_id=record_id, occurred_at=self.now, record_id=record_id))

    async def routed(self, person_id: uuid.UUID, person: PersonIn, d: Derived) -> None:
        await self.tx.emit(
            PersonRouted(
                **self.event_base(), intake_id=self.intake_id, household_id=self.household_id, person_id=person_id,
                district=self.district, routes=d.routes, needs=d.needs, prospect=d.prospect, employable=d.employable,
                age_group=d.age_group, residence_status=person.residence_status,
            )
        )

    async def start_clearing(self, person_id: uuid.UUID, person: PersonIn, *, new: bool = False) -> None:
        """A person routed to ABRA gets a clearing (one per person; a cancelled one is reopened), in the
        household's clearing workflow of this intake or correction, marked for its start after the commit
        (handlers_clearing.start_clearings_forever)."""
        existing = None if new else await store_clearing.clearing_of_person(self.tx.conn, person_id)
        deadline = self.rt.registration_deadline(person.move_in_date)
        if existing is not None and existing.status == CLEARING_PENDING:
            return
        clearing_id = uuid.uuid4()
        await store_clearing.insert_clearing(
            self.tx.conn, replaces=existing.id if existing is not None else None,
            id=clearing_id, person_id=person_id, intake_id=self.intake_id, household_id=self.household_id,
            district=self.district, move_in_date=person.move_in_date, registration_deadline=deadline,
            status=CLEARING_PENDING, attempt=0, started_at=self.now, workflow_id=self.clearing_workflow, workflow_pending=True,
        )
        self.clearings_started += 1
        await self.tx.emit(
            ClearingStarted(
                **self.event_base(), clearing_id=clearing_id, intake_id=self.intake_id, household_id=self.household_id,
                person_id=person_id, district=self.district, registration_deadline=deadline,
            )
        )

    async def move_clearing(self, person_id: uuid.UUID, person: PersonIn, correction_no: int) -> None:
        """A corrected move-in date moves the person's clearing's deadline (§17 BMG). A pending clearing's
        missed flag is cleared when the new deadline has not passed yet (and its alerts for the old
        dates are resolved); the workflow gets the new dates from intake's consumer of IntakeCorrected,
        under `correction_no`, and marks a deadline that already passed at once."""
        row = await store_clearing.clearing_of_person(self.tx.conn, person_id)
        if row is None or row.move_in_date == person.move_in_date:
            return
        deadline = self.rt.registration_deadline(person.move_in_date)
        missed = None
        if row.status == CLEARING_PENDING:
            await resolve_alerts(self.tx.conn, self.rt.tables, subject_id=row.id, by="correction", kinds=("clearing_reminder",))
            if row.deadline_missed and not registration_missed(deadline, None, self.now.astimezone(BERLIN).date()):
                missed = False
                await resolve_alerts(self.tx.conn, self.rt.tables, subject_id=row.household_id, by="correction", kinds=("registration_deadline_missed",))
        await store_clearing.move_clearing_dates(
            self.tx.conn, row.id, move_in=person.move_in_date, deadline=deadline, correction_no=correction_no, missed=missed
        )

    async def new_person(self, position: int, person: PersonIn, household: HouseholdIn) -> tuple[uuid.UUID, Derived]:
        person_id = uuid.uuid4()
        d = self.derive(person, household)
        key, wrapped = self.ring.new_data_key()
        self.new_keys.append(dict(subject_id=person_id, wrapped_key=wrapped, created_at=self.now))
        record_id = await self.arrival(person_id, person, d)
        self.new_persons.append(
            dict(
                id=person_id, household_id=self.household_id, position=position,
                sealed=self.ring.seal(key, person_id, sealed_fields(person, household)), arrival_record_id=record_id, **coarse(d, person),
            )
        )
        self.new_tokens += self.rt.search_rows(person_id, self.household_id, person.model_dump(mode="json"))
        if Route.ABRA_CLEARING in d.routes:
            self.new_abra.append((person_id, person))
        return person_id, d

    async def flush(self) -> None:
        """Writes the new persons' keys, rows and search index rows in one statement each, then their clearings."""
        if self.new_keys:
            await store.insert_persons(self.tx.conn, self.new_keys, self.new_persons)
        await store_search.put_search_tokens(self.tx.conn, self.new_tokens)
        for person_id, person in self.new_abra:
            await self.start_clearing(person_id, person, new=True)
        self.new_keys, self.new_persons, self.new_abra, self.new_tokens = [], [], [], []
