"""Intake's HTTP API: the front desk (intake interview, drafts, corrections, person search), erasure, and
the Integration Point's handover of a referred person's details (with their consent, handlers_handover.py).
The ABRA clearing and the registration gate are `api_clearing.py`, newcomer communication
`api_communication.py`; `router` assembles all three."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response

from services.intake import api_clearing, api_communication, handlers, handlers_drafts, handlers_handover, handlers_search
from services.intake.schemas import CorrectionIn, DraftIn, DraftList, DraftOut, HouseholdIn, IntakeCreated, IntakeIn, IntakeOut, PersonIn, require_time_zone
from services.intake.schemas_persons import DuplicateCheckIn, DuplicateCheckOut, PersonHandover, SearchResult
from services.kit import telemetry
from services.kit.auth import Principal, Role, require
from services.kit.errors import NotFound
from services.kit.params import IsoDateTime, Offset
from services.kit.service import RuntimeDep

router = APIRouter(tags=["intake"])
READ_ROLES = (Role.FRONT_DESK, Role.CASEWORKER, Role.TEAM_LEAD)
ERASE_ROLES = (Role.OPERATOR,)
ADVISOR = (Role.IP_ADVISOR,)
#: Who may search persons by name and birth date (README "Screens"): the front desk and casework, and the
#: data protection officer, who finds the person an access or erasure request names (DSGVO Art. 15, 17);
#: every search and every person it shows is audit-logged.
SEARCH_ROLES = (Role.FRONT_DESK, Role.CASEWORKER, Role.TEAM_LEAD, Role.DATA_PROTECTION_OFFICER)


@router.get("/persons/search", response_model=SearchResult, summary="Find persons by name (any script or spelling) and birth date (audit-logged)")
async def search_persons(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(require(*SEARCH_ROLES))],
    q: Annotated[str | None, Query(max_length=200, description="Name or names, any order, any script (Иван Петров = Ivan Petrov)")] = None,
    date_of_birth: Annotated[date | None, Query(description="Birth date (YYYY-MM-DD)")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchResult:
    return await handlers_search.search_persons(rt, principal, [r.value for r in SEARCH_ROLES], q, date_of_birth, limit)


@router.post("/intakes/duplicate-check", response_model=DuplicateCheckOut, summary="Households already known with one of these persons (audit-logged)")
async def duplicate_check(
    body: DuplicateCheckIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]
) -> DuplicateCheckOut:
    return await handlers_search.duplicate_check(rt, principal, [Role.FRONT_DESK.value], body)


@router.post("/intakes", status_code=201, response_model=IntakeCreated, summary="Complete an intake interview",
             responses={200: {"model": IntakeCreated, "description": "The intake of this Idempotency-Key was stored before"}})
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
    return await handlers_drafts.save_draft(rt, principal, None, body.content)


@router.put("/intake-drafts/{id}", response_model=DraftOut, summary="Update a saved draft")
async def put_draft(id: uuid.UUID, body: DraftIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]) -> DraftOut:
    return await handlers_drafts.save_draft(rt, principal, id, body.content)


@router.get("/intake-drafts", response_model=DraftList, summary="The front desk's drafts, own or the team's (names audit-logged)")
async def list_drafts(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))],
    created_by: Annotated[Literal["me", "all"], Query(description="me: drafts the caller started; all: the whole front desk's")] = "me",
    state: Annotated[Literal["open", "completed", "any"], Query(description="open: not completed yet")] = "open",
    updated_since: Annotated[IsoDateTime | None, Query(description="Saved at or after (with time zone)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> DraftList:
    require_time_zone(updated_since=updated_since)
    return await handlers_drafts.list_drafts(
        rt, principal, mine_only=created_by == "me", state=state, updated_since=updated_since, limit=limit, offset=offset
    )


@router.get("/intake-drafts/{id}", response_model=DraftOut, summary="Resume a draft (audit-logged)")
async def get_draft(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]) -> DraftOut:
    return await handlers_drafts.load_draft(rt, principal, id)


@router.post("/intake-drafts/{id}/complete", status_code=201, response_model=IntakeCreated, summary="Complete a draft as an intake",
             responses={200: {"model": IntakeCreated, "description": "The draft was completed before"}})
async def complete_draft(
    id: uuid.UUID, rt: RuntimeDep, response: Response, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]
) -> IntakeCreated:
    result, created = await handlers_drafts.complete_draft(rt, principal, id)
    if not created:
        response.status_code = 200
    return result


@router.delete("/persons/{id}/personal-data", status_code=204, summary="Erase a person's personal data (crypto-shredding)")
async def erase_person(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*ERASE_ROLES))]) -> Response:
    await handlers.erase_person(rt, principal, id, tuple(r.value for r in ERASE_ROLES))
    return Response(status_code=204)


@router.get("/referrals/{id}/person", response_model=PersonHandover, tags=["Integration Point"],
            summary="Integration Point: the referred person's name, contact and languages, with their consent only (audit-logged)")
async def referral_person(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*ADVISOR))]) -> PersonHandover:
    return await handlers_handover.read_for_integration_point(rt, principal, id, tuple(r.value for r in ADVISOR))


router.include_router(api_clearing.router)
router.include_router(api_communication.router)
