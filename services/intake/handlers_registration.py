"""The registration gate (000 "Projekt ABRA", "Kommunales Voranmeldeverfahren"; §17 BMG): may the front
desk register a person's residence now, and the registration itself, recorded once (PersonRegistered)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from services.contracts.events import PersonRegistered
from services.contracts.workdays import BERLIN
from services.intake import store, store_clearing
from services.intake.domain import check_registration, registration_gate, registration_missed
from services.intake.handlers import WRITE_ROLES
from services.intake.runtime import IntakeRuntime
from services.intake.schemas_clearing import PersonRegistration, RegistrationOut, RegistrationStatus
from services.kit import telemetry
from services.kit.alerts import resolve_alerts
from services.kit.auth import Principal
from services.kit.db import utc_now
from services.kit.errors import Conflict, NotFound


def _person_status(rt: IntakeRuntime, row: sa.Row, fields: dict[str, Any], c: sa.Row | None, reg: sa.Row | None, today: date) -> PersonRegistration:
    """One person's answer: the clearing's dates (a cancelled clearing counts as none), else the deadline
    from the move-in date for a person who registers here (`registration_gate` decides)."""
    base: dict[str, Any] = dict(person_id=row.id, given_name=fields.get("given_name"), family_name=fields.get("family_name"))
    if c is not None and c.status != "cancelled":
        base.update(appointment_at=c.appointment_at, registration_deadline=c.registration_deadline, clearing_status=c.status)
    elif fields.get("move_in_date") and fields.get("wants_registration", True):
        base["registration_deadline"] = rt.registration_deadline(date.fromisoformat(fields["move_in_date"]))
    gate = registration_gate(
        clearing_status=c.status if c is not None else None, appointment_at=c.appointment_at if c is not None else None,
        marked_missed=bool(c is not None and c.deadline_missed), deadline=base.get("registration_deadline"),
        registered_on=reg.registered_on if reg else None, today=today,
    )
    return PersonRegistration(
        **base, registered_on=reg.registered_on if reg else None, deadline_missed=gate.deadline_missed, allowed=gate.allowed, reason=gate.reason
    )


async def registration_status(rt: IntakeRuntime, principal: Principal, household_id: uuid.UUID, allowed_roles: tuple[str, ...]) -> RegistrationStatus:
    """Per person: may registration of residence proceed now (000 "Projekt ABRA": BG/RO only after the
    clearing, `may_register`), and if not, why and until when (§17 BMG deadline); a registration the
    front desk recorded is shown with its date, and the deadline counts as missed only without a
    registration before it (`registration_missed`)."""
    today = utc_now().astimezone(BERLIN).date()
    async with rt.db.begin() as conn:
        rows = await store.household_persons(conn, household_id)
        await rt.audit(conn, principal, allowed_roles, "read", "registration_status", household_id, "ok" if rows else "not_found")
        if not rows:
            raise NotFound("no such household")
        keys = await store.wrapped_keys(conn, [r.id for r in rows])
        clearings = await store_clearing.clearings_of_household(conn, household_id)
        registered = await store_clearing.registrations_of_household(conn, household_id)
    persons = [_person_status(rt, row, rt.open_person(row, keys.get(row.id)) or {}, clearings.get(row.id), registered.get(row.id), today) for row in rows]
    return RegistrationStatus(household_id=household_id, persons=persons)


async def record_registration(rt: IntakeRuntime, principal: Principal, person_id: uuid.UUID, registered_on: date) -> tuple[RegistrationOut, bool]:
    """The front desk registered the person's residence (Anmeldung, §17 BMG), for every route. Checked by
    `check_registration` (not before moving in; a clearing person only after the completed clearing).
    Publishes PersonRegistered (pseudonymous) once; the same date again answers with the first record
    (created False), another date is 409. Audited. Returns (record, created)."""
    telemetry.mark(person_id=person_id)
    async with rt.outbox.transaction() as tx:
        person = await store.person_row(tx.conn, person_id)
        if person is None:
            await rt.audit(tx.conn, principal, WRITE_ROLES, "register", "person", person_id, "not_found")
            raise NotFound("no such person")
        fields = rt.open_person(person, (await store.wrapped_keys(tx.conn, [person_id])).get(person_id))
        if fields is None:
            raise Conflict("this person's data was erased")
        move_in = date.fromisoformat(fields["move_in_date"]) if fields.get("move_in_date") else None
        c = await store_clearing.clearing_of_person(tx.conn, person_id)
        deadline = c.registration_deadline if c is not None else (rt.registration_deadline(move_in) if move_in else None)
        existing = await store_clearing.registration_of(tx.conn, person_id)
        if existing is not None:
            if existing.registered_on != registered_on:
                raise Conflict(f"a registration on {existing.registered_on.isoformat()} is recorded already", field="registered_on")
            await rt.audit(tx.conn, principal, WRITE_ROLES, "register", "person", person_id, "already_recorded")
            return _registration_out(existing, deadline), False
        cleared_on = c.closed_at.astimezone(BERLIN).date() if c is not None and c.status == "cleared" and c.closed_at else None
        check_registration(registered_on, move_in, c.status if c is not None else None, cleared_on)
        now = utc_now()
        await store_clearing.add_registration(
            tx.conn, person_id=person_id, household_id=person.household_id, registered_on=registered_on, by=principal.username, at=now
        )
        await rt.audit(tx.conn, principal, WRITE_ROLES, "register", "person", person_id)
        if c is not None:
            await resolve_alerts(tx.conn, rt.tables, subject_id=c.household_id, by="system", kinds=("registration_deadline_missed",))
        within = deadline is None or not registration_missed(deadline, registered_on, registered_on)
        intake_id = await store.intake_of_household(tx.conn, person.household_id)
        await tx.emit(
            PersonRegistered(
                tenant=rt.platform.tenant, correlation_id=intake_id, person_id=person_id, household_id=person.household_id,
                registered_on=registered_on, within_deadline=within,
                days_after_move_in=(registered_on - move_in).days if move_in else None,
            )
        )
        row = await store_clearing.registration_of(tx.conn, person_id)
    if row is None:
        raise NotFound("no such registration")
    return _registration_out(row, deadline), True


def _registration_out(row: sa.Row, deadline: date | None) -> RegistrationOut:
    return RegistrationOut(
        person_id=row.person_id, household_id=row.household_id, registered_on=row.registered_on, registration_deadline=deadline,
        within_deadline=deadline is None or not registration_missed(deadline, row.registered_on, row.registered_on),
        recorded_by=row.recorded_by, recorded_at=row.recorded_at,
    )
