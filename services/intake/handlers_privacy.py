"""What intake holds on one person, for the data protection officer's access request (Art. 15 DSGVO;
services/kit/privacy.py): the personal fields decrypted, the household and its intakes, letters,
consents, registration, clearings with their interview records decrypted, the reminder contact and
Integration Point handovers. The route audit-logs the request."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import store_privacy
from services.intake.crypto import KeyUnavailable
from services.intake.runtime import IntakeRuntime
from services.kit.privacy import jsonable


async def person_records(rt: IntakeRuntime, conn: AsyncConnection, person_id: uuid.UUID) -> list[str]:
    return await store_privacy.person_records(conn, person_id)


def _open(rt: IntakeRuntime, wrapped: bytes | None, person_id: uuid.UUID, sealed: bytes | None) -> Any:
    if sealed is None or wrapped is None:
        return None
    try:
        return rt.keyring.open(rt.keyring.unwrap(wrapped), person_id, sealed)
    except KeyUnavailable:
        return None


async def data_subject(rt: IntakeRuntime, person_id: uuid.UUID) -> dict[str, Any]:
    async with rt.db.read() as conn:
        rows = await store_privacy.subject_rows(conn, person_id)
    person, wrapped, household = rows.pop("person"), rows.pop("wrapped_key"), rows.pop("household")
    fields = rt.open_person(person, wrapped) if person is not None else None
    out: dict[str, Any] = {
        "holds": "personal data" if person is not None else "nothing",
        "person": {**jsonable(person), "personal_fields": fields, "erased": person is not None and fields is None} if person is not None else None,
        "household": jsonable(household) if household is not None else None,
    }
    records = rows.pop("clearing_records")
    out["clearing_records"] = [{**jsonable(r), "content": _open(rt, wrapped, person_id, r.sealed)} for r in records]
    out["reminder_contact"] = [{**jsonable(r), "contact": _open(rt, wrapped, person_id, r.sealed)} for r in rows.pop("reminder_contact")]
    out.update({name: [jsonable(r) for r in value] for name, value in rows.items()})
    return out
