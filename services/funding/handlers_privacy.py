"""What funding holds on one person, for the data protection officer's access request (Art. 15 DSGVO;
services/kit/privacy.py): the person's hardship applications with purpose and justification, the
decisions and the payments (ledger entries)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.funding import store_privacy
from services.kit.privacy import jsonable
from services.kit.runtime import Runtime


async def person_records(rt: Runtime, conn: AsyncConnection, person_id: uuid.UUID) -> list[str]:
    return await store_privacy.person_records(conn, person_id)


async def data_subject(rt: Runtime, person_id: uuid.UUID) -> dict[str, Any]:
    async with rt.db.read() as conn:
        rows = await store_privacy.subject_rows(conn, person_id)
    out: dict[str, Any] = {name: [jsonable(r) for r in value] for name, value in rows.items()}
    out["holds"] = "hardship applications" if rows["hardship_applications"] else "nothing"
    return out
