"""Intake's HTTP API for the front desk."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from services.intake import handlers, store
from services.intake.domain import IntakeCreated, IntakeIn, IntakeOut, PersonOut
from services.kit import telemetry
from services.kit.auth import Principal, Role, require
from services.kit.errors import NotFound
from services.kit.service import RuntimeDep

router = APIRouter(tags=["intake"])
READ_ROLES = (Role.FRONT_DESK, Role.CASEWORKER, Role.TEAM_LEAD)


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
        found = await store.load_intake(conn, id)
        await rt.audit(conn, principal, [r.value for r in READ_ROLES], "read", "intake", id, "ok" if found else "not_found")
    if found is None:
        raise NotFound("no such intake")
    intake, household, people = found
    return IntakeOut(
        intake_id=intake.id,
        household_id=household.id,
        district=household.district,
        persons=[
            PersonOut(
                person_id=p.id, given_name=p.given_name, family_name=p.family_name, date_of_birth=p.date_of_birth,
                nationality=p.nationality, residence_status=p.residence_status, move_in_date=p.move_in_date,
            )
            for p in people
        ],
    )
