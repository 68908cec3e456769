"""Intake's HTTP API of newcomer communication (issue 14): a household's letter language and ABRA place,
and the newcomer's e-mail address for appointment reminders with their consent (handlers_communication.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.intake import handlers_communication
from services.intake.schemas_communication import CommunicationOut, ContactOut, LetterLanguageIn, ReminderContactIn
from services.kit import telemetry
from services.kit.auth import Principal, Role, require
from services.kit.service import RuntimeDep

router = APIRouter(tags=["communication"])
ROLES = (Role.FRONT_DESK,)


@router.get("/households/{id}/communication", response_model=CommunicationOut,
            summary="Letter language, ABRA place and reminder contacts of a household (addresses audit-logged)")
async def get_communication(id: uuid.UUID, rt: RuntimeDep, principal: Annotated[Principal, Depends(require(*ROLES))]) -> CommunicationOut:
    telemetry.mark(household_id=id)
    return await handlers_communication.household_communication(rt, principal, id)


@router.put("/households/{id}/letter-language", response_model=CommunicationOut, summary="Remember the language of a household's letters")
async def put_letter_language(id: uuid.UUID, body: LetterLanguageIn, rt: RuntimeDep,
                              principal: Annotated[Principal, Depends(require(*ROLES))]) -> CommunicationOut:
    telemetry.mark(household_id=id)
    await handlers_communication.set_letter_language(rt, principal, id, body.language)
    return await handlers_communication.household_communication(rt, principal, id)


@router.put("/persons/{id}/reminder-contact", response_model=ContactOut,
            summary="The newcomer's e-mail for appointment reminders, with consent (consent false deletes the address)")
async def put_reminder_contact(id: uuid.UUID, body: ReminderContactIn, rt: RuntimeDep,
                               principal: Annotated[Principal, Depends(require(*ROLES))]) -> ContactOut:
    telemetry.mark(person_id=id)
    return await handlers_communication.set_reminder_contact(rt, principal, id, body)
