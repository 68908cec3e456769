"""Intake's commands: the intake interview (complete, correct, drafts), erasure, the registration gate,
and the ABRA clearing's coach actions (DOMAIN.md flows 1 and 2)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts.events import (
    ArrivalRecorded,
    ArrivalRetracted,
    ClearingStarted,
    ConsentGiven,
    IntakeCompleted,
    IntakeCorrected,
    PersonProfile,
    PersonRouted,
)
from services.contracts.vocab import Need, Route
from services.contracts.workdays import BERLIN
from services.intake import matching, store
from services.intake.crypto import BlindIndex, Keyring, KeyUnavailable
from services.intake.domain import (
    Derived,
    DraftList,
    DraftOut,
    DraftSummary,
    ErasedPersonOut,
    HouseholdIn,
    IntakeCreated,
    IntakeIn,
    IntakeOut,
    PersonIn,
    PersonOut,
    check_household,
    draft_problems,
    registration_missed,
)
from services.intake.domain import registration_deadline as deadline_after
from services.intake.routing import RoutingRules, derive
from services.kit import telemetry
from services.kit.alerts import resolve_alerts
from services.kit.auth import Principal
from services.kit.db import utc_now
from services.kit.errors import Conflict, Invalid, NotFound
from services.kit.outbox import Tx
from services.kit.service import Runtime

WRITE_ROLES = ("front_desk",)
CLEARING_PENDING = "pending"


def keyring(rt: Runtime) -> Keyring:
    if "keyring" not in rt.extras:
        rt.extras["keyring"] = Keyring(rt.settings.master_key)
    return rt.extras["keyring"]


def blind_index(rt: Runtime) -> BlindIndex:
    if "blind_index" not in rt.extras:
        rt.extras["blind_index"] = keyring(rt).blind_index()
    return rt.extras["blind_index"]


def search_rows(rt: Runtime, person_id: uuid.UUID, household_id: uuid.UUID, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The person's rows of the search index (matching.index_terms, as keyed hashes)."""
    index = blind_index(rt)
    terms = matching.index_terms(str(fields.get("given_name") or ""), str(fields.get("family_name") or ""), fields.get("date_of_birth"))
    return [dict(token=index.token(kind, value), person_id=person_id, household_id=household_id) for kind, value in sorted(terms)]


def rules(rt: Runtime) -> RoutingRules:
    s = rt.settings
    return RoutingRules(frozenset(s.good_prospect_countries), frozenset(s.safe_countries_of_origin), s.tolerated_years)


def registration_deadline(rt: Runtime, move_in: date) -> date:
    """Registration of residence is due within two weeks of moving in (§17 BMG; setting)."""
    return deadline_after(move_in, rt.settings.registration_deadline_days)


def _profile(person_id: uuid.UUID, person: PersonIn, d: Derived) -> PersonProfile:
    return PersonProfile(
        person_id=person_id, adult=d.adult, age_group=d.age_group, sex=person.sex,
        residence_status=person.residence_status, prospect=d.prospect, employable=d.employable,
        needs=d.needs, routes=d.routes, german_level=person.german_level.value,
        languages=sorted({lang.code for lang in person.languages}),
        consents=[ConsentGiven(partner=c.partner, purpose=c.purpose, given_on=c.given_on) for c in person.consents],
    )


def _coarse(d: Derived, person: PersonIn) -> dict[str, Any]:
    return dict(
        adult=d.adult, age_group=d.age_group.value, sex=person.sex.value, residence_status=person.residence_status.value,
        prospect=d.prospect.value, employable=d.employable, needs=",".join(d.needs), routes=",".join(d.routes),
    )


def _routes(row: sa.Row) -> list[Route]:
    return [Route(r) for r in row.routes.split(",")] if row.routes else []


def _sealed_fields(person: PersonIn, household: HouseholdIn) -> dict[str, Any]:
    return {**person.model_dump(mode="json"), "_address": household.address.model_dump(mode="json") if household.address else None}


class _Writer:
    """Writes the persons of an intake (new or corrected) and the events they cause, in one transaction."""

    def __init__(self, rt: Runtime, tx: Tx, intake_id: uuid.UUID, household_id: uuid.UUID, district: str, now: datetime) -> None:
        self.rt, self.tx, self.intake_id, self.household_id, self.district, self.now = rt, tx, intake_id, household_id, district, now
        self.ring = keyring(rt)
        self.new_keys: list[dict[str, Any]] = []
        self.new_persons: list[dict[str, Any]] = []
        self.new_abra: list[tuple[uuid.UUID, PersonIn]] = []
        self.new_tokens: list[dict[str, Any]] = []

    def _event_base(self) -> dict[str, Any]:
        return dict(tenant=self.rt.platform.tenant, correlation_id=self.intake_id, occurred_at=self.now)

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
                **self._event_base(), intake_id=self.intake_id, household_id=self.household_id, person_id=person_id,
                district=self.district, routes=d.routes, needs=d.needs, prospect=d.prospect, employable=d.employable,
                age_group=d.age_group, residence_status=person.residence_status,
            )
        )

    async def start_clearing(self, person_id: uuid.UUID, person: PersonIn, *, new: bool = False) -> None:
        """A person routed to ABRA gets a clearing (one per person; a cancelled one is reopened)."""
        existing = None if new else await store.clearing_of_person(self.tx.conn, person_id)
        deadline = registration_deadline(self.rt, person.move_in_date)
        if existing is not None and existing.status == CLEARING_PENDING:
            return
        clearing_id = uuid.uuid4()
        if existing is not None:
            await self.tx.conn.execute(store.clearings.delete().where(store.clearings.c.id == existing.id))
        await self.tx.conn.execute(
            store.clearings.insert().values(
                id=clearing_id, person_id=person_id, intake_id=self.intake_id, household_id=self.household_id,
                district=self.district, move_in_date=person.move_in_date, registration_deadline=deadline,
                status=CLEARING_PENDING, attempt=0, started_at=self.now,
            )
        )
        await self.tx.emit(
            ClearingStarted(
                **self._event_base(), clearing_id=clearing_id, intake_id=self.intake_id, household_id=self.household_id,
                person_id=person_id, district=self.district, registration_deadline=deadline,
            )
        )

    async def move_clearing(self, person_id: uuid.UUID, person: PersonIn, correction_no: int) -> None:
        """A corrected move-in date moves the person's clearing's deadline (§17 BMG). A pending clearing's
        missed flag is cleared when the new deadline has not passed yet (and its alerts for the old
        dates are resolved); the workflow gets the new dates from intake's consumer of IntakeCorrected,
        under `correction_no`, and marks a deadline that already passed at once."""
        row = await store.clearing_of_person(self.tx.conn, person_id)
        if row is None or row.move_in_date == person.move_in_date:
            return
        deadline = registration_deadline(self.rt, person.move_in_date)
        missed = None
        if row.status == CLEARING_PENDING:
            await resolve_alerts(self.tx.conn, self.rt.tables, subject_id=row.id, by="correction", kinds=("clearing_reminder",))
            if row.deadline_missed and not registration_missed(deadline, None, self.now.astimezone(BERLIN).date()):
                missed = False
                await resolve_alerts(self.tx.conn, self.rt.tables, subject_id=row.household_id, by="correction", kinds=("registration_deadline_missed",))
        await store.move_clearing_dates(self.tx.conn, row.id, move_in=person.move_in_date, deadline=deadline, correction_no=correction_no, missed=missed)

    async def new_person(self, position: int, person: PersonIn, household: HouseholdIn) -> tuple[uuid.UUID, Derived]:
        person_id = uuid.uuid4()
        d = derive(person, self.now.date(), rules(self.rt), youth_welfare=household.referred_to_youth_welfare)
        key, wrapped = self.ring.new_data_key()
        self.new_keys.append(dict(subject_id=person_id, wrapped_key=wrapped, created_at=self.now))
        record_id = await self.arrival(person_id, person, d)
        self.new_persons.append(
            dict(
                id=person_id, household_id=self.household_id, position=position,
                sealed=self.ring.seal(key, person_id, _sealed_fields(person, household)), arrival_record_id=record_id, **_coarse(d, person),
            )
        )
        self.new_tokens += search_rows(self.rt, person_id, self.household_id, person.model_dump(mode="json"))
        await self.routed(person_id, person, d)
        if Route.ABRA_CLEARING in d.routes:
            self.new_abra.append((person_id, person))
        return person_id, d

    async def flush(self) -> None:
        """Writes the new persons' keys, rows and search index rows in one statement each, then their clearings."""
        if self.new_keys:
            await self.tx.conn.execute(store.data_keys.insert(), self.new_keys)
            await self.tx.conn.execute(store.persons.insert(), self.new_persons)
        await store.put_search_tokens(self.tx.conn, self.new_tokens)
        for person_id, person in self.new_abra:
            await self.start_clearing(person_id, person, new=True)
        self.new_keys, self.new_persons, self.new_abra, self.new_tokens = [], [], [], []


async def complete_intake(
    rt: Runtime, principal: Principal, command: IntakeIn, idempotency_key: str | None, *, draft_id: uuid.UUID | None = None
) -> tuple[IntakeCreated, bool]:
    """Stores the household (personal fields encrypted per person), derives each person's routes and
    publishes IntakeCompleted, PersonRouted and ArrivalRecorded per person, and ClearingStarted per person
    routed to ABRA, in one transaction. A repeated request with the same Idempotency-Key returns the
    first result instead of a second intake. Returns (result, created)."""
    now = utc_now()
    check_household(command.household, now.date())
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
        if draft_id is not None:
            draft = (await tx.conn.execute(sa.select(store.drafts).where(store.drafts.c.id == draft_id))).first()
            if draft is None:
                raise NotFound("no such draft")
            if draft.completed_intake_id is not None:
                raise Conflict("the draft was completed already")
        intake_id, household_id = uuid.uuid4(), uuid.uuid4()
        telemetry.mark(intake_id=intake_id, household_id=household_id)
        h = command.household
        await tx.conn.execute(store.households.insert().values(id=household_id, district=h.district, created_at=now))
        await tx.conn.execute(
            store.intakes.insert().values(
                id=intake_id, household_id=household_id, status="completed", idempotency_key=idempotency_key,
                request_hash=request_hash, completed_by=principal.username, completed_at=now, correction_no=0, draft_id=draft_id,
            )
        )
        w = _Writer(rt, tx, intake_id, household_id, h.district, now)
        people = [await w.new_person(i, p, h) for i, p in enumerate(h.persons)]
        await w.flush()
        if draft_id is not None:
            await tx.conn.execute(store.drafts.update().where(store.drafts.c.id == draft_id).values(completed_intake_id=intake_id, sealed=None, updated_at=now))
            await tx.conn.execute(store.data_keys.delete().where(store.data_keys.c.subject_id == draft_id))
        await rt.audit(tx.conn, principal, WRITE_ROLES, "create", "intake", intake_id)
        await tx.emit(
            IntakeCompleted(
                **w._event_base(), intake_id=intake_id, household_id=household_id, district=h.district,
                move_in_date=min(p.move_in_date for p in h.persons),
                persons=[_profile(pid, person, d) for (pid, d), person in zip(people, h.persons, strict=True)],
            )
        )
    return IntakeCreated(intake_id=intake_id, household_id=household_id, person_ids=[pid for pid, _ in people]), True


# ---- reading -------------------------------------------------------------------------------------


def open_person(rt: Runtime, row: sa.Row, wrapped: bytes | None) -> dict[str, Any] | None:
    """The person's personal fields, or None if the person was erased."""
    if row.sealed is None:
        return None
    ring = keyring(rt)
    try:
        return ring.open(ring.unwrap(wrapped), row.id, row.sealed)
    except KeyUnavailable:
        return None


def _derived_of(row: sa.Row) -> Derived:
    return Derived(
        adult=bool(row.adult), age_group=row.age_group, prospect=row.prospect, employable=bool(row.employable),
        needs=[Need(n) for n in row.needs.split(",")] if row.needs else [], routes=_routes(row),
    )


async def read_intake(rt: Runtime, conn: AsyncConnection, intake_id: uuid.UUID) -> IntakeOut | None:
    intake = await store.intake_by_id(conn, intake_id)
    if intake is None:
        return None
    household = await store.household(conn, intake.household_id)
    assert household is not None
    rows = await store.household_persons(conn, intake.household_id)
    keys = await store.wrapped_keys(conn, [r.id for r in rows])
    persons: list[PersonOut | ErasedPersonOut] = []
    address = None
    for row in rows:
        fields = open_person(rt, row, keys.get(row.id))
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


async def correct_intake(rt: Runtime, principal: Principal, intake_id: uuid.UUID, household: HouseholdIn, person_ids: list[uuid.UUID | None]) -> IntakeOut:
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
        for i, pid in enumerate(person_ids):
            if pid is not None and pid not in rows:
                raise Invalid("unknown person_id for this intake", field=f"household.persons.{i}.person_id")
        if len({p for p in person_ids if p is not None}) != len([p for p in person_ids if p is not None]):
            raise Invalid("a person_id appears twice", field="household.persons")
        keys = await store.wrapped_keys(tx.conn, list(rows))
        ring = keyring(rt)
        w = _Writer(rt, tx, intake_id, intake.household_id, household.district, now)
        old_household = await store.household(tx.conn, intake.household_id)
        assert old_household is not None
        changed: set[str] = set()
        if old_household.district != household.district:
            changed.add("district")
            await tx.conn.execute(store.households.update().where(store.households.c.id == intake.household_id).values(district=household.district))
        profiles: list[PersonProfile] = []
        kept: set[uuid.UUID] = set()
        number = intake.correction_no + 1
        next_position = max([r.position for r in rows.values()] or [-1]) + 1
        for i, (pid, person) in enumerate(zip(person_ids, household.persons, strict=True)):
            if pid is None:
                new_id, d = await w.new_person(next_position + i, person, household)
                changed.add("persons")
                profiles.append(_profile(new_id, person, d))
                continue
            row = rows[pid]
            kept.add(pid)
            wrapped = keys.get(pid)
            old = open_person(rt, row, wrapped)
            if old is None:
                raise Conflict("this person's data was erased; it cannot be corrected", field=f"household.persons.{i}")
            new_fields = _sealed_fields(person, household)
            diff = {k for k in set(old) | set(new_fields) if old.get(k) != new_fields.get(k)}
            changed.update("address" if k == "_address" else k for k in diff)
            d = derive(person, now.date(), rules(rt), youth_welfare=household.referred_to_youth_welfare)
            old_routes = _routes(row)
            values: dict[str, Any] = {"sealed": ring.seal(ring.unwrap(wrapped), pid, new_fields), **_coarse(d, person)}
            stats_changed = bool(diff & {"nationality", "residence_status", "sex", "date_of_birth", "move_in_date"}) or "district" in changed
            if stats_changed:
                await w.retract(row.arrival_record_id)
                values["arrival_record_id"] = await w.arrival(pid, person, d)
            await tx.conn.execute(store.persons.update().where(store.persons.c.id == pid).values(**values))
            if diff & {"given_name", "family_name", "date_of_birth"}:
                await store.drop_search_tokens(tx.conn, [pid])
                w.new_tokens += search_rows(rt, pid, intake.household_id, new_fields)
            if d != _derived_of(row) or "district" in changed:
                await w.routed(pid, person, d)
            if Route.ABRA_CLEARING in d.routes and Route.ABRA_CLEARING not in old_routes:
                await w.start_clearing(pid, person)
            elif "move_in_date" in diff:
                await w.move_clearing(pid, person, number)
            profiles.append(_profile(pid, person, d))
        await w.flush()
        removed = [pid for pid in rows if pid not in kept]
        await store.drop_search_tokens(tx.conn, removed)  # a person no longer in the household is not found in it
        for pid in removed:
            changed.add("persons")
            await w.retract(rows[pid].arrival_record_id)
            await tx.conn.execute(store.persons.update().where(store.persons.c.id == pid).values(removed_at=now))
        await tx.conn.execute(store.intakes.update().where(store.intakes.c.id == intake_id).values(correction_no=number))
        await rt.audit(tx.conn, principal, WRITE_ROLES, "correct", "intake", intake_id)
        await tx.emit(
            IntakeCorrected(
                **w._event_base(), intake_id=intake_id, household_id=intake.household_id, correction_no=number,
                district=household.district, move_in_date=min(p.move_in_date for p in household.persons),
                persons=profiles, removed_person_ids=removed, changed_fields=sorted(changed),
            )
        )
        out = await read_intake(rt, tx.conn, intake_id)
    assert out is not None
    return out


# ---- erasure (crypto-shredding) ------------------------------------------------------------------


async def erase_person(rt: Runtime, principal: Principal, person_id: uuid.UUID, allowed: tuple[str, ...]) -> None:
    """Erasure on request or after retention (GDPR Art. 17): deletes the person's data key, so every
    blob sealed under it (intake fields, clearing records) becomes unreadable; the blobs are dropped too,
    and so are the person's rows of the search index (keyed hashes of their name parts and birth date).
    Coarse, non-identifying columns stay for statistics."""
    async with rt.db.begin() as conn:
        row = (await conn.execute(sa.select(store.persons).where(store.persons.c.id == person_id))).first()
        if row is None:
            raise NotFound("no such person")
        await conn.execute(store.data_keys.delete().where(store.data_keys.c.subject_id == person_id))
        await store.drop_search_tokens(conn, [person_id])
        await conn.execute(store.persons.update().where(store.persons.c.id == person_id).values(sealed=None, erased_at=utc_now()))
        clearing = await store.clearing_of_person(conn, person_id)
        if clearing is not None:
            await conn.execute(store.clearing_records.update().where(store.clearing_records.c.clearing_id == clearing.id).values(sealed=None))
        await rt.audit(conn, principal, allowed, "erase", "person", person_id)


# ---- drafts --------------------------------------------------------------------------------------


async def save_draft(rt: Runtime, principal: Principal, draft_id: uuid.UUID | None, content: dict) -> DraftOut:
    """Drafts hold personal data too: sealed under a data key of their own, dropped on completion. A
    draft may be incomplete, but what it holds must be valid (domain.draft_problems): 422 naming every
    wrong field, and nothing saved."""
    problems = draft_problems(content)
    if problems:
        raise Invalid(problems[0][1], field=".".join(str(x) for x in problems[0][0]),
                      errors=[(".".join(str(x) for x in loc), msg) for loc, msg, _ in problems])
    now = utc_now()
    ring = keyring(rt)
    async with rt.db.begin() as conn:
        if draft_id is None:
            draft_id = uuid.uuid4()
            key, wrapped = ring.new_data_key()
            await store.put_key(conn, draft_id, wrapped, now)
            await conn.execute(store.drafts.insert().values(id=draft_id, sealed=ring.seal(key, draft_id, content), created_by=principal.username, created_at=now, updated_at=now))
        else:
            row = (await conn.execute(sa.select(store.drafts).where(store.drafts.c.id == draft_id))).first()
            if row is None:
                raise NotFound("no such draft")
            if row.completed_intake_id is not None:
                raise Conflict("the draft was completed already")
            wrapped = (await store.wrapped_keys(conn, [draft_id])).get(draft_id)
            await conn.execute(store.drafts.update().where(store.drafts.c.id == draft_id).values(sealed=ring.seal(ring.unwrap(wrapped), draft_id, content), updated_at=now))
        await rt.audit(conn, principal, WRITE_ROLES, "write", "intake_draft", draft_id)
    return DraftOut(draft_id=draft_id, content=content, updated_at=now)


async def load_draft(rt: Runtime, principal: Principal, draft_id: uuid.UUID) -> DraftOut:
    async with rt.db.begin() as conn:
        row = (await conn.execute(sa.select(store.drafts).where(store.drafts.c.id == draft_id))).first()
        await rt.audit(conn, principal, WRITE_ROLES, "read", "intake_draft", draft_id, "ok" if row else "not_found")
        if row is None:
            raise NotFound("no such draft")
        content: dict = {}
        if row.sealed is not None:
            ring = keyring(rt)
            wrapped = (await store.wrapped_keys(conn, [draft_id])).get(draft_id)
            try:
                content = ring.open(ring.unwrap(wrapped), draft_id, row.sealed)
            except KeyUnavailable as exc:
                raise Conflict("the draft's data was erased; it cannot be resumed") from exc
    return DraftOut(draft_id=draft_id, content=content, updated_at=row.updated_at, completed_intake_id=row.completed_intake_id)


def _draft_display(content: dict[str, Any]) -> tuple[int, str | None, list[str]]:
    """(person count, district, names) of a draft's content; the content is whatever the form held, so
    every part may be missing or malformed."""
    household = content.get("household") if isinstance(content.get("household"), dict) else {}
    people = [p for p in household.get("persons") or [] if isinstance(p, dict)] if isinstance(household.get("persons"), list) else []
    names = [" ".join(str(p.get(k) or "").strip() for k in ("given_name", "family_name")).strip() for p in people]
    district = household.get("district")
    return len(people), district if isinstance(district, str) and district else None, [n for n in names if n]


async def list_drafts(
    rt: Runtime, principal: Principal, *, mine_only: bool, state: str, updated_since: datetime | None, limit: int, offset: int
) -> DraftList:
    """The front desk's list of intake drafts, newest first. A team shares the counter: a household that
    comes back the next day meets another clerk, so every front-desk clerk sees (and may resume and
    complete) the colleagues' drafts (`mine_only=False`).

    Audit: like `load_draft`, one audit record per draft whose content was decrypted for the list
    (action "list", record type "intake_draft", the draft's id), written in the transaction that reads
    it. Per draft rather than one record per listing, because the audit log answers "who saw this
    household's data" by record id (SGB X §67 ff.; DOMAIN.md "Data protection"); a listing record
    would not name the drafts whose names were shown. Completed drafts (content dropped) and drafts whose
    key was erased show no personal data and are not audit-logged. A draft whose data key was erased
    (crypto-shredding) is listed without names (`readable=False`) instead of failing the list."""
    ring = keyring(rt)
    async with rt.db.begin() as conn:
        rows, total = await store.drafts_page(
            conn, created_by=principal.username if mine_only else None, state=state, updated_since=updated_since, limit=limit, offset=offset
        )
        keys = await store.wrapped_keys(conn, [r.id for r in rows if r.sealed is not None])
        out: list[DraftSummary] = []
        for r in rows:
            summary = DraftSummary(
                draft_id=r.id, created_by=r.created_by, created_at=r.created_at or r.updated_at, updated_at=r.updated_at, completed_intake_id=r.completed_intake_id, household_id=r.household_id,
                completed_by=r.completed_by,
            )
            if r.completed_intake_id is not None:
                summary.person_count, summary.district = r.person_count, r.district
            elif r.sealed is not None:
                try:
                    content = ring.open(ring.unwrap(keys.get(r.id)), r.id, r.sealed)
                except KeyUnavailable:
                    summary.readable = False
                else:
                    summary.person_count, summary.district, summary.names = _draft_display(content)
                    await rt.audit(conn, principal, WRITE_ROLES, "list", "intake_draft", r.id)
            out.append(summary)
    return DraftList(drafts=out, total=total)


async def complete_draft(rt: Runtime, principal: Principal, draft_id: uuid.UUID) -> tuple[IntakeCreated, bool]:
    """Completes a draft as an intake. Any front-desk clerk may complete (and save) any clerk's draft: the
    team shares the counter and a household that returns meets whoever is free; the intake records who
    completed it (`completed_by`), the draft who started it, the audit log every save and read."""
    draft = await load_draft(rt, principal, draft_id)
    if draft.completed_intake_id is not None:  # a retried completion answers with the intake it made
        async with rt.db.read() as conn:
            intake = await store.intake_by_id(conn, draft.completed_intake_id)
            assert intake is not None
            ids = await store.person_ids(conn, intake.household_id)
        return IntakeCreated(intake_id=intake.id, household_id=intake.household_id, person_ids=ids), False
    try:
        command = IntakeIn.model_validate(draft.content)
    except ValidationError as exc:  # every problem at once, so the front desk fixes them in one pass
        errors = [(".".join(str(p) for p in e["loc"]), f"the draft is incomplete: {e['msg']}") for e in exc.errors(include_url=False)]
        raise Invalid(errors[0][1], field=errors[0][0], errors=errors) from exc
    return await complete_intake(rt, principal, command, None, draft_id=draft_id)
