"""Intake's commands on the intake interview (DOMAIN.md flow 1): complete, read, correct, erase. Each
loads (store), decides (domain), saves (store) and emits (outbox) in one transaction; drafts are
`handlers_drafts.py`, the clearing `handlers_clearing.py`, the registration gate `handlers_registration.py`."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts.events import IntakeCompleted, IntakeCorrected, PersonErased, PersonProfile, PersonRetentionElapsed
from services.contracts.intake_workflows import household_clearing_workflow_id
from services.contracts.vocab import Need, Route
from services.intake import store, store_clearing, store_drafts, store_search
from services.intake.domain import SEARCH_FIELDS, changed_fields, check_household, check_person_ids, statistics_changed
from services.intake.handlers_writer import IntakeWriter, coarse, profile, sealed_fields
from services.intake.runtime import IntakeRuntime
from services.intake.schemas import Derived, ErasedPersonOut, HouseholdIn, IntakeCreated, IntakeIn, IntakeOut, PersonIn, PersonOut
from services.kit import audit, telemetry
from services.kit.auth import Principal
from services.kit.broker import Delivery
from services.kit.db import utc_now
from services.kit.errors import Conflict, NotFound
from services.kit.outbox import Tx

WRITE_ROLES = ("front_desk",)


def _routes(row: sa.Row) -> list[Route]:
    return [Route(r) for r in row.routes.split(",")] if row.routes else []


def _derived_of(row: sa.Row) -> Derived:
    return Derived(
        adult=bool(row.adult), age_group=row.age_group, prospect=row.prospect, employable=bool(row.employable),
        needs=[Need(n) for n in row.needs.split(",")] if row.needs else [], routes=_routes(row),
    )


async def _repeated(conn: AsyncConnection, idempotency_key: str, request_hash: str | None) -> IntakeCreated | None:
    """The first result of a request repeated with the same Idempotency-Key (409 for another request)."""
    existing = await store.intake_by_key(conn, idempotency_key)
    if existing is None:
        return None
    if existing.request_hash != request_hash:
        raise Conflict("Idempotency-Key was already used for a different intake", field="Idempotency-Key")
    telemetry.mark(intake_id=existing.id)
    return IntakeCreated(intake_id=existing.id, household_id=existing.household_id, person_ids=await store.person_ids(conn, existing.household_id))


async def _open_draft(conn: AsyncConnection, draft_id: uuid.UUID) -> None:
    draft = await store_drafts.draft(conn, draft_id)
    if draft is None:
        raise NotFound("no such draft")
    if draft.completed_intake_id is not None:
        raise Conflict("the draft was completed already")


async def complete_intake(
    rt: IntakeRuntime, principal: Principal, command: IntakeIn, idempotency_key: str | None, *, draft_id: uuid.UUID | None = None
) -> tuple[IntakeCreated, bool]:
    """Stores the household (personal fields encrypted per person), derives each person's routes and
    publishes IntakeCompleted (each person's routes with it), ArrivalRecorded per person and ClearingStarted per
    person routed to ABRA, in one transaction; their clearing workflow is started after the commit. A repeated request with the same Idempotency-Key returns the
    first result instead of a second intake. Returns (result, created)."""
    now = utc_now()
    check_household(command.household, now.date())
    request_hash = hashlib.sha256(command.model_dump_json().encode()).hexdigest() if idempotency_key else None
    async with rt.outbox.transaction() as tx:
        if idempotency_key and (first := await _repeated(tx.conn, idempotency_key, request_hash)) is not None:
            return first, False
        if draft_id is not None:
            await _open_draft(tx.conn, draft_id)
        intake_id, household_id = uuid.uuid4(), uuid.uuid4()
        telemetry.mark(intake_id=intake_id, household_id=household_id)
        h = command.household
        await store.insert_household(tx.conn, household_id, h.district, now)
        await store.insert_intake(
            tx.conn, id=intake_id, household_id=household_id, status="completed", idempotency_key=idempotency_key,
            request_hash=request_hash, completed_by=principal.username, completed_at=now, correction_no=0, draft_id=draft_id,
        )
        w = IntakeWriter(rt, tx, intake_id, household_id, h.district, now)
        people = [await w.new_person(i, p, h) for i, p in enumerate(h.persons)]
        await w.flush()
        if draft_id is not None:
            await store_drafts.complete_draft(tx.conn, draft_id, intake_id, now)
        await rt.audit(tx.conn, principal, WRITE_ROLES, "create", "intake", intake_id)
        await tx.emit(
            IntakeCompleted(
                **w.event_base(), intake_id=intake_id, household_id=household_id, district=h.district,
                move_in_date=min(p.move_in_date for p in h.persons),
                persons=[profile(pid, person, d) for (pid, d), person in zip(people, h.persons, strict=True)],
            )
        )
    if w.clearings_started:
        rt.clearings_committed.set()  # their household's workflow starts now, without the clerk waiting for it
    return IntakeCreated(intake_id=intake_id, household_id=household_id, person_ids=[pid for pid, _ in people]), True


# ---- reading -------------------------------------------------------------------------------------


async def read_intake(rt: IntakeRuntime, conn: AsyncConnection, intake_id: uuid.UUID) -> IntakeOut | None:
    intake = await store.intake_by_id(conn, intake_id)
    if intake is None:
        return None
    household = await store.household(conn, intake.household_id)
    if household is None:
        raise NotFound("no such household")
    rows = await store.household_persons(conn, intake.household_id)
    keys = await store.wrapped_keys(conn, [r.id for r in rows])
    persons: list[PersonOut | ErasedPersonOut] = []
    address = None
    for row in rows:
        fields = rt.open_person(row, keys.get(row.id))
        if fields is None:
            persons.append(ErasedPersonOut(person_id=row.id))
            continue
        address = address or fields.pop("_address", None)
        fields.pop("_address", None)
        persons.append(PersonOut.model_construct(**PersonIn.model_validate(fields).__dict__, person_id=row.id, derived=_derived_of(row)))
    referred = any(Route.YOUTH_WELFARE in _routes(r) for r in rows)  # the routes record the referral (routing.routes)
    return IntakeOut(
        intake_id=intake.id, household_id=intake.household_id, district=household.district, referred_to_youth_welfare=referred,
        correction_no=intake.correction_no, address=address, persons=persons,
    )


# ---- corrections ---------------------------------------------------------------------------------


class _Correction:
    """One correction of an intake in its transaction: the stored persons, what changed, the new profiles."""

    def __init__(self, rt: IntakeRuntime, tx: Tx, intake: sa.Row, household: HouseholdIn, rows: dict[uuid.UUID, sa.Row], keys: dict[uuid.UUID, bytes],
                 now: datetime) -> None:
        self.rt, self.tx, self.intake, self.household, self.rows, self.keys = rt, tx, intake, household, rows, keys
        self.w = IntakeWriter(rt, tx, intake.id, intake.household_id, household.district, now)
        self.number = intake.correction_no + 1
        self.w.clearing_workflow = household_clearing_workflow_id(intake.id, self.number)
        self.changed: set[str] = set()
        self.profiles: list[PersonProfile] = []
        self.kept: set[uuid.UUID] = set()

    async def add(self, position: int, person: PersonIn) -> None:
        new_id, d = await self.w.new_person(position, person, self.household)
        self.changed.add("persons")
        self.profiles.append(profile(new_id, person, d))

    async def correct(self, i: int, pid: uuid.UUID, person: PersonIn) -> None:
        """A stored person's new fields: sealed again, statistics and routing announced if they changed,
        the search index and the clearing follow."""
        row, wrapped, ring = self.rows[pid], self.keys.get(pid), self.rt.keyring
        self.kept.add(pid)
        old = self.rt.open_person(row, wrapped)
        if old is None:
            raise Conflict("this person's data was erased; it cannot be corrected", field=f"household.persons.{i}")
        new_fields = sealed_fields(person, self.household)
        diff = changed_fields(old, new_fields)
        self.changed.update("address" if k == "_address" else k for k in diff)
        d = self.w.derive(person, self.household)
        values: dict[str, Any] = {"sealed": ring.seal(ring.unwrap(wrapped), pid, new_fields), **coarse(d, person)}
        if statistics_changed(diff, "district" in self.changed):
            await self.w.retract(row.arrival_record_id)
            values["arrival_record_id"] = await self.w.arrival(pid, person, d)
        await store.update_person(self.tx.conn, pid, **values)
        if diff & SEARCH_FIELDS:
            await store_search.drop_search_tokens(self.tx.conn, [pid])
            self.w.new_tokens += self.rt.search_rows(pid, self.intake.household_id, new_fields)
        if d != _derived_of(row) or "district" in self.changed:
            await self.w.routed(pid, person, d)
        if Route.ABRA_CLEARING in d.routes and Route.ABRA_CLEARING not in _routes(row):
            await self.w.start_clearing(pid, person)
        elif "move_in_date" in diff:
            await self.w.move_clearing(pid, person, self.number)
        self.profiles.append(profile(pid, person, d))

    async def remove_missing(self) -> list[uuid.UUID]:
        """A stored person missing from the corrected household is removed (and no longer found in it)."""
        removed = [pid for pid in self.rows if pid not in self.kept]
        await store_search.drop_search_tokens(self.tx.conn, removed)
        for pid in removed:
            self.changed.add("persons")
            await self.w.retract(self.rows[pid].arrival_record_id)
            await store.update_person(self.tx.conn, pid, removed_at=self.w.now)
        return removed


async def correct_intake(
    rt: IntakeRuntime, principal: Principal, intake_id: uuid.UUID, household: HouseholdIn, person_ids: list[uuid.UUID | None]
) -> IntakeOut:
    """Replaces a completed intake's household picture. Persons are matched by `person_id` (None adds
    a person; a stored person missing from the list is removed). Publishes IntakeCorrected (with the
    names of the changed fields, never their values), PersonRouted for persons whose derived facts
    changed, ArrivalRetracted + ArrivalRecorded for persons whose statistics changed, and ClearingStarted
    for persons newly routed to ABRA. A pending clearing of a person who lost the ABRA route is cancelled
    by intake's own consumer of IntakeCorrected (clearing workflow update, after commit)."""
    now = utc_now()
    check_household(household, now.date())
    async with rt.outbox.transaction() as tx:
        intake = await store.intake_by_id(tx.conn, intake_id)
        if intake is None:
            raise NotFound("no such intake")
        rows = {r.id: r for r in await store.household_persons(tx.conn, intake.household_id)}
        check_person_ids(person_ids, set(rows))
        c = _Correction(rt, tx, intake, household, rows, await store.wrapped_keys(tx.conn, list(rows)), now)
        old_household = await store.household(tx.conn, intake.household_id)
        if old_household is not None and old_household.district != household.district:
            c.changed.add("district")
            await store.set_household_district(tx.conn, intake.household_id, household.district)
        next_position = max([r.position for r in rows.values()] or [-1]) + 1
        for i, (pid, person) in enumerate(zip(person_ids, household.persons, strict=True)):
            await (c.add(next_position + i, person) if pid is None else c.correct(i, pid, person))
        await c.w.flush()
        removed = await c.remove_missing()
        await store.set_correction_no(tx.conn, intake_id, c.number)
        await rt.audit(tx.conn, principal, WRITE_ROLES, "correct", "intake", intake_id)
        await tx.emit(
            IntakeCorrected(
                **c.w.event_base(), intake_id=intake_id, household_id=intake.household_id, correction_no=c.number,
                district=household.district, move_in_date=min(p.move_in_date for p in household.persons),
                persons=c.profiles, removed_person_ids=removed, changed_fields=sorted(c.changed),
            )
        )
        out = await read_intake(rt, tx.conn, intake_id)
    if c.w.clearings_started:
        rt.clearings_committed.set()
    if out is None:
        raise NotFound("no such intake")
    return out


# ---- erasure (crypto-shredding) ------------------------------------------------------------------


async def erase_person(rt: IntakeRuntime, principal: Principal, person_id: uuid.UUID, allowed: tuple[str, ...]) -> None:
    """Erasure on request (GDPR Art. 17(1)) by an operator, audited with their name."""
    async with rt.outbox.transaction() as tx:
        if not await _erase(rt, tx, person_id, "request"):
            raise NotFound("no such person")
        await rt.audit(tx.conn, principal, allowed, "erase", "person", person_id)
    await rt.db.truncate_wal()


async def erase_after_retention(rt: IntakeRuntime, event: PersonRetentionElapsed, delivery: Delivery) -> None:
    """Erasure after the retention period (casework's sweep, Art. 17(1)(a)): idempotent (inbox), audited
    as the system; a person intake does not know is nothing to erase."""
    telemetry.mark(person_id=event.person_id)
    async with delivery.transaction() as tx:
        if await _erase(rt, tx, event.person_id, "retention"):
            await audit.record(tx.conn, rt.audit_chain, actor="system", role="system", action="erase", record_type="person", record_id=event.person_id)
    await rt.db.truncate_wal()


async def _erase(rt: IntakeRuntime, tx: Tx, person_id: uuid.UUID, ground: str) -> bool:
    """Deletes the person's data key, so every blob sealed under it (intake fields, clearing records)
    becomes unreadable; the blobs are dropped too, and so are the person's rows of the search index
    (keyed hashes of their name parts and birth date). Coarse, non-identifying columns stay for
    statistics. PersonErased (the id only) tells casework and funding to remove their free texts about
    the person; erasing again emits it again (their consumers are idempotent), so an erasure made
    before they listened reaches them too. False if intake has no such person."""
    if await store.person_any(tx.conn, person_id) is None:
        return False
    await store.delete_key(tx.conn, person_id)
    await store_search.drop_search_tokens(tx.conn, [person_id])
    await store.erase_person_data(tx.conn, person_id, utc_now())
    clearing = await store_clearing.clearing_of_person(tx.conn, person_id)
    if clearing is not None:
        await store_clearing.shred_clearing_records(tx.conn, clearing.id)
    await tx.emit(PersonErased(tenant=rt.platform.tenant, correlation_id=person_id, person_id=person_id, ground=ground))
    return True
