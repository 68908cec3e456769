"""Intake's HTTP API: the front desk (intake interview, drafts, corrections, registration gate), ABRA
coaches (slot calendar, clearing decisions), erasure, and the Integration Point's handover of a
referred person's details (with their consent, handover.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake import clearing, handlers, handover, search, store
from services.intake.clearing import ClearingInterviewIn, ClearingOut, CloseIn, RegistrationStatus, SlotIn, SlotOut
from services.intake.domain import DraftIn, DraftList, DraftOut, HouseholdIn, IntakeCreated, IntakeIn, IntakeOut, PersonIn, RegistrationIn, RegistrationOut
from services.kit import telemetry
from services.kit.auth import Principal, Role, require
from services.kit.db import utc_now
from services.kit.errors import Invalid, NotFound
from services.kit.service import RuntimeDep

router = APIRouter(tags=["intake"])
READ_ROLES = (Role.FRONT_DESK, Role.CASEWORKER, Role.TEAM_LEAD)
GATE_ROLES = (Role.FRONT_DESK, Role.ABRA_COACH, Role.ABRA_LEAD)
COACH = (Role.ABRA_COACH, Role.ABRA_LEAD)
ERASE_ROLES = (Role.OPERATOR,)
ADVISOR = (Role.IP_ADVISOR,)
#: Who may search persons by name and birth date (README "Screens"): the front desk and casework; every
#: search and every person it shows is audit-logged.
SEARCH_ROLES = (Role.FRONT_DESK, Role.CASEWORKER, Role.TEAM_LEAD)


@router.get("/persons/search", response_model=search.SearchResult, summary="Find persons by name (any script or spelling) and birth date (audit-logged)")
async def search_persons(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(require(*SEARCH_ROLES))],
    q: Annotated[str | None, Query(max_length=200, description="Name or names, any order, any script (Иван Петров = Ivan Petrov)")] = None,
    date_of_birth: Annotated[date | None, Query(description="Birth date (YYYY-MM-DD)")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> search.SearchResult:
    return await search.search_persons(rt, principal, [r.value for r in SEARCH_ROLES], q, date_of_birth, limit)


@router.post("/intakes/duplicate-check", response_model=search.DuplicateCheckOut, summary="Households already known with one of these persons (audit-logged)")
async def duplicate_check(
    body: search.DuplicateCheckIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]
) -> search.DuplicateCheckOut:
    return await search.duplicate_check(rt, principal, [Role.FRONT_DESK.value], body)


@router.post("/intakes", status_code=201, response_model=IntakeCreated, summary="Complete an intake interview")
async def post_intake(
    body: IntakeIn,
    rt: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))],
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> IntakeCreated:
    result, created = await handlers.complete_intake(rt, principal, body, idempotency_key)
    if not created:
        response.status_code = 200
    return result


@router.get("/intakes/{id}", response_model=IntakeOut, summary="Read an intake (audit-logged)")
async def get_intake(
    id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*READ_ROLES))]
) -> IntakeOut:
    telemetry.mark(intake_id=id)
    async with rt.db.begin() as conn:
        found = await handlers.read_intake(rt, conn, id)
        await rt.audit(conn, principal, [r.value for r in READ_ROLES], "read", "intake", id, "ok" if found else "not_found")
    if found is None:
        raise NotFound("no such intake")
    return found


class PersonCorrection(PersonIn):
    person_id: uuid.UUID | None = Field(default=None, description="The stored person this entry corrects; omit for a person added to the household.")


class HouseholdCorrection(HouseholdIn):
    persons: list[PersonCorrection] = Field(min_length=1, max_length=30)  # type: ignore[assignment]


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household: HouseholdCorrection


@router.put("/intakes/{id}", response_model=IntakeOut, summary="Correct a completed intake (IntakeCorrected)")
async def put_intake(
    id: uuid.UUID, body: CorrectionIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]
) -> IntakeOut:
    telemetry.mark(intake_id=id)
    persons = [PersonIn.model_validate(p.model_dump(exclude={"person_id"})) for p in body.household.persons]
    household = HouseholdIn(district=body.household.district, address=body.household.address, persons=persons,
                            referred_to_youth_welfare=body.household.referred_to_youth_welfare)
    return await handlers.correct_intake(rt, principal, id, household, [p.person_id for p in body.household.persons])


@router.post("/intake-drafts", status_code=201, response_model=DraftOut, summary="Save an unfinished intake")
async def post_draft(body: DraftIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]) -> DraftOut:
    return await handlers.save_draft(rt, principal, None, body.content)


@router.put("/intake-drafts/{id}", response_model=DraftOut, summary="Update a saved draft")
async def put_draft(id: uuid.UUID, body: DraftIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]) -> DraftOut:
    return await handlers.save_draft(rt, principal, id, body.content)


def require_time_zone(**query: datetime | None) -> None:
    """A timestamp in the query must say its time zone; a naive one is 422 at ["query", name]."""
    for name, value in query.items():
        if value is not None and value.tzinfo is None:
            raise Invalid("give a time zone (e.g. +01:00 or Z)", field=name, location="query")


@router.get("/intake-drafts", response_model=DraftList, summary="The front desk's drafts, own or the team's (names audit-logged)")
async def list_drafts(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))],
    created_by: Annotated[Literal["me", "all"], Query(description="me: drafts the caller started; all: the whole front desk's")] = "me",
    state: Annotated[Literal["open", "completed", "any"], Query(description="open: not completed yet")] = "open",
    updated_since: Annotated[datetime | None, Query(description="Saved at or after (with time zone)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DraftList:
    require_time_zone(updated_since=updated_since)
    return await handlers.list_drafts(
        rt, principal, mine_only=created_by == "me", state=state, updated_since=updated_since, limit=limit, offset=offset
    )


@router.get("/intake-drafts/{id}", response_model=DraftOut, summary="Resume a draft (audit-logged)")
async def get_draft(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]) -> DraftOut:
    return await handlers.load_draft(rt, principal, id)


@router.post("/intake-drafts/{id}/complete", status_code=201, response_model=IntakeCreated, summary="Complete a draft as an intake")
async def complete_draft(
    id: uuid.UUID, rt: RuntimeDep, response: Response, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]
) -> IntakeCreated:
    result, created = await handlers.complete_draft(rt, principal, id)
    if not created:
        response.status_code = 200
    return result


@router.delete("/persons/{id}/personal-data", status_code=204, summary="Erase a person's personal data (crypto-shredding)")
async def erase_person(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*ERASE_ROLES))]) -> Response:
    await handlers.erase_person(rt, principal, id, tuple(r.value for r in ERASE_ROLES))
    return Response(status_code=204)


@router.get("/referrals/{id}/person", response_model=handover.PersonHandover, tags=["Integration Point"],
            summary="Integration Point: the referred person's name, contact and languages, with their consent only (audit-logged)")
async def referral_person(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*ADVISOR))]) -> handover.PersonHandover:
    return await handover.read_for_integration_point(rt, principal, id, tuple(r.value for r in ADVISOR))


@router.get("/households/{id}/registration-status", response_model=RegistrationStatus, summary="May registration of residence proceed? (per person)")
async def registration_status(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*GATE_ROLES))]) -> RegistrationStatus:
    telemetry.mark(household_id=id)
    return await clearing.registration_status(rt, principal, id, tuple(r.value for r in GATE_ROLES))


@router.post(
    "/persons/{id}/registration", status_code=201, response_model=RegistrationOut,
    summary="Record that the person's residence registration was done (Anmeldung, audit-logged; PersonRegistered)",
)
async def post_registration(
    id: uuid.UUID, body: RegistrationIn, rt: RuntimeDep, response: Response, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]
) -> RegistrationOut:
    result, created = await clearing.record_registration(rt, principal, id, body.registered_on)
    if not created:
        response.status_code = 200
    return result


# ---- ABRA ----------------------------------------------------------------------------------------


class SlotsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slots: list[SlotIn] = Field(min_length=1, max_length=500)


@router.post("/abra/slots", status_code=201, response_model=list[SlotOut], summary="Publish appointment slots (ABRA coach)", tags=["abra"])
async def post_slots(body: SlotsIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> list[SlotOut]:
    return await clearing.publish_slots(rt, principal, body.slots)


@router.get("/abra/slots", response_model=list[SlotOut], summary="The ABRA calendar", tags=["abra"])
async def get_slots(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH, Role.FRONT_DESK))],
    start: datetime | None = None, days: Annotated[int, Query(ge=1, le=92)] = 14,
) -> list[SlotOut]:
    start = start or utc_now()
    return await clearing.list_slots(rt, start, start + timedelta(days=days))


@router.get("/clearings", response_model=list[ClearingOut], summary="Clearings (pseudonymous work list)", tags=["abra"])
async def get_clearings(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH, Role.FRONT_DESK))],
    household_id: uuid.UUID | None = None, person_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|cleared|not_appeared|cancelled)$")] = None,
    appointment_from: Annotated[datetime | None, Query(description="Appointments at or after (with time zone), e.g. a day's calendar")] = None,
    appointment_to: Annotated[datetime | None, Query(description="Appointments before (with time zone)")] = None,
    booked: Annotated[bool | None, Query(description="false: clearings still waiting for an appointment")] = None,
) -> list[ClearingOut]:
    import sqlalchemy as sa

    require_time_zone(appointment_from=appointment_from, appointment_to=appointment_to)
    if appointment_from and appointment_to and appointment_to <= appointment_from:
        raise Invalid("must be after appointment_from", field="appointment_to", location="query")
    t = store.clearings
    dated = appointment_from is not None or appointment_to is not None
    q = sa.select(t).order_by(t.c.appointment_at if dated else t.c.started_at).limit(1000)
    if household_id:
        q = q.where(t.c.household_id == household_id)
    if person_id:
        q = q.where(t.c.person_id == person_id)
    if status:
        q = q.where(t.c.status == status)
    if appointment_from is not None:
        q = q.where(t.c.appointment_at >= appointment_from)
    if appointment_to is not None:
        q = q.where(t.c.appointment_at < appointment_to)
    if booked is not None:
        q = q.where(t.c.appointment_at.is_not(None) if booked else t.c.appointment_at.is_(None))
    async with rt.db.read() as conn:
        return [clearing.clearing_out(r) for r in (await conn.execute(q)).all()]


@router.get("/clearings/{id}", response_model=clearing.ClearingDetail, summary="A clearing with the person's name (audit-logged)", tags=["abra"])
async def get_clearing(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH, Role.FRONT_DESK))]) -> clearing.ClearingDetail:
    telemetry.mark(clearing_id=id)
    return await clearing.read_clearing(rt, principal, id, tuple(r.value for r in (*COACH, Role.FRONT_DESK)))


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attended: bool


@router.post("/clearings/{id}/attendance", response_model=ClearingOut, summary="Record attendance or a no-show", tags=["abra"])
async def post_attendance(id: uuid.UUID, body: AttendanceIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> ClearingOut:
    return await clearing.record_attendance(rt, principal, id, body.attended)


@router.post("/clearings/{id}/interview", response_model=ClearingOut, summary="Record the clearing interview (completes the clearing)", tags=["abra"])
async def post_interview(id: uuid.UUID, body: ClearingInterviewIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> ClearingOut:
    return await clearing.record_interview(rt, principal, id, body)


@router.get("/clearings/{id}/interview", summary="Read the clearing interview (audit-logged)", tags=["abra"])
async def get_interview(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> list[dict[str, Any]]:
    return await clearing.read_interview(rt, principal, id)


@router.post("/clearings/{id}/close", response_model=ClearingOut, summary="Close a clearing (not appeared / cancelled)", tags=["abra"])
async def post_close(id: uuid.UUID, body: CloseIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> ClearingOut:
    return await clearing.close_by_coach(rt, principal, id, body.outcome)
