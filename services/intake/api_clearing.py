"""Intake's HTTP API of the ABRA pre-registration clearing (DOMAIN.md flow 2): the coaches' slot calendar
and clearing decisions, and the front desk's registration gate (may registration of residence proceed,
and the registration itself)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from services.intake import handlers_clearing, handlers_registration
from services.intake.schemas import require_time_zone
from services.intake.schemas_clearing import (
    AttendanceIn,
    ClearingDetail,
    ClearingInterviewIn,
    ClearingOut,
    CloseIn,
    RegistrationIn,
    RegistrationOut,
    RegistrationStatus,
    SlotOut,
    SlotsIn,
)
from services.kit import telemetry
from services.kit.auth import Principal, Role, require
from services.kit.db import utc_now
from services.kit.errors import Invalid
from services.kit.params import IsoDateTime
from services.kit.service import RuntimeDep

router = APIRouter(tags=["intake"])
GATE_ROLES = (Role.FRONT_DESK, Role.ABRA_COACH, Role.ABRA_LEAD)
COACH = (Role.ABRA_COACH, Role.ABRA_LEAD)


@router.get("/households/{id}/registration-status", response_model=RegistrationStatus, summary="May registration of residence proceed? (per person)")
async def registration_status(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*GATE_ROLES))]) -> RegistrationStatus:
    telemetry.mark(household_id=id)
    return await handlers_registration.registration_status(rt, principal, id, tuple(r.value for r in GATE_ROLES))


@router.post(
    "/persons/{id}/registration", status_code=201, response_model=RegistrationOut,
    summary="Record that the person's residence registration was done (Anmeldung, audit-logged; PersonRegistered)",
    responses={200: {"model": RegistrationOut, "description": "The registration was recorded before"}},
)
async def post_registration(
    id: uuid.UUID, body: RegistrationIn, rt: RuntimeDep, response: Response, principal: Annotated[Principal, Depends(require(Role.FRONT_DESK))]
) -> RegistrationOut:
    result, created = await handlers_registration.record_registration(rt, principal, id, body.registered_on)
    if not created:
        response.status_code = 200
    return result


# ---- ABRA ----------------------------------------------------------------------------------------


@router.post("/abra/slots", status_code=201, response_model=list[SlotOut], summary="Publish appointment slots (ABRA coach)", tags=["abra"])
async def post_slots(body: SlotsIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> list[SlotOut]:
    return await handlers_clearing.publish_slots(rt, principal, body.slots)


@router.get("/abra/slots", response_model=list[SlotOut], summary="The ABRA calendar", tags=["abra"])
async def get_slots(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH, Role.FRONT_DESK))],
    start: IsoDateTime | None = None, days: Annotated[int, Query(ge=1, le=92)] = 14,
) -> list[SlotOut]:
    start = start or utc_now()
    return await handlers_clearing.list_slots(rt, start, start + timedelta(days=days))


@router.get("/clearings", response_model=list[ClearingOut], summary="Clearings (pseudonymous work list)", tags=["abra"])
async def get_clearings(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH, Role.FRONT_DESK))],
    household_id: uuid.UUID | None = None, person_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|cleared|not_appeared|cancelled)$")] = None,
    appointment_from: Annotated[IsoDateTime | None, Query(description="Appointments at or after (with time zone), e.g. a day's calendar")] = None,
    appointment_to: Annotated[IsoDateTime | None, Query(description="Appointments before (with time zone)")] = None,
    booked: Annotated[bool | None, Query(description="false: clearings still waiting for an appointment")] = None,
) -> list[ClearingOut]:
    require_time_zone(appointment_from=appointment_from, appointment_to=appointment_to)
    if appointment_from and appointment_to and appointment_to <= appointment_from:
        raise Invalid("must be after appointment_from", field="appointment_to", location="query")
    return await handlers_clearing.list_clearings(
        rt, household_id=household_id, person_id=person_id, status=status, appointment_from=appointment_from, appointment_to=appointment_to, booked=booked
    )


@router.get("/clearings/{id}", response_model=ClearingDetail, summary="A clearing with the person's name (audit-logged)", tags=["abra"])
async def get_clearing(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH, Role.FRONT_DESK))]) -> ClearingDetail:
    telemetry.mark(clearing_id=id)
    return await handlers_clearing.read_clearing(rt, principal, id, tuple(r.value for r in (*COACH, Role.FRONT_DESK)))


@router.post("/clearings/{id}/attendance", response_model=ClearingOut, summary="Record attendance or a no-show", tags=["abra"])
async def post_attendance(id: uuid.UUID, body: AttendanceIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> ClearingOut:
    return await handlers_clearing.record_attendance(rt, principal, id, body.attended)


@router.post("/clearings/{id}/interview", response_model=ClearingOut, summary="Record the clearing interview (completes the clearing)", tags=["abra"])
async def post_interview(id: uuid.UUID, body: ClearingInterviewIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> ClearingOut:
    return await handlers_clearing.record_interview(rt, principal, id, body)


@router.get("/clearings/{id}/interview", summary="Read the clearing interview (audit-logged)", tags=["abra"])
async def get_interview(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> list[dict[str, Any]]:
    return await handlers_clearing.read_interview(rt, principal, id)


@router.post("/clearings/{id}/close", response_model=ClearingOut, summary="Close a clearing (not appeared / cancelled)", tags=["abra"])
async def post_close(id: uuid.UUID, body: CloseIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*COACH))]) -> ClearingOut:
    return await handlers_clearing.close_by_coach(rt, principal, id, body.outcome)
