"""What casework holds on one person, for the data protection officer's access request (Art. 15
DSGVO; services/kit/privacy.py): the cases the person is a member of with assignments, plan, goals
and their revisions, reviews, the timeline (notes, contacts, reviews), referrals and consents."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.casework import store_privacy
from services.casework.runtime import CaseworkRuntime
from services.kit.privacy import jsonable


async def person_records(rt: CaseworkRuntime, conn: AsyncConnection, person_id: uuid.UUID) -> list[str]:
    return await store_privacy.person_records(conn, person_id)


async def data_subject(rt: CaseworkRuntime, person_id: uuid.UUID) -> dict[str, Any]:
    async with rt.db.read() as conn:
        rows = await store_privacy.subject_rows(conn, person_id)
    out: dict[str, Any] = {name: [jsonable(r) for r in value] for name, value in rows.items()}
    out["holds"] = "case records" if rows["cases"] or rows["consents"] or rows["referrals"] else "nothing"
    return out
