"""Funding's statements of the erasure (GDPR Art. 17): the free texts of a person's hardship applications."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from services.funding.store import hardship

#: What an erased purpose or justification reads (the columns are NOT NULL; the text is gone).
ERASED_TEXT = "[gelöscht]"


async def shred_hardship_texts(conn: AsyncConnection, person_id: uuid.UUID) -> int:
    """The purpose and justification of every hardship application for the person; amounts, category,
    period, criteria, status and decisions stay (the fund's ledger and the reports need them)."""
    result = await conn.execute(hardship.update().where(hardship.c.person_id == person_id).values(purpose=ERASED_TEXT, justification=ERASED_TEXT))
    return int(result.rowcount or 0)
