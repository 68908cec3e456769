"""Funding's part of an erasure (GDPR Art. 17): on intake's PersonErased the purpose and justification
texts of the person's hardship applications go; amounts, statuses, decisions and the ledger stay, so
the fund's balance and the reports' figures do not change. Idempotent (inbox) and audited."""

from __future__ import annotations

from services.contracts.events import PersonErased
from services.funding import store_erasure
from services.funding.runtime import FundingRuntime
from services.kit import audit, telemetry
from services.kit.broker import Delivery

SYSTEM = "system"


async def erase_person(rt: FundingRuntime, event: PersonErased, delivery: Delivery) -> None:
    telemetry.mark(person_id=event.person_id)
    async with delivery.transaction() as tx:
        await store_erasure.shred_hardship_texts(tx.conn, event.person_id)
        await audit.record(tx.conn, rt.audit_chain, actor=SYSTEM, role=SYSTEM, action="erase", record_type="person", record_id=event.person_id)
    await rt.db.truncate_wal()
