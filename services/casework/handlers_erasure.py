"""Casework's part of an erasure (GDPR Art. 17): on intake's PersonErased the person's free texts go
(their goals' titles with every revision, their referrals' notes); the case-level texts go when no
member of the case is left unerased (domain.case_texts_erasable). Ids, dates, statuses and counts
stay, so the reports' figures do not change. Idempotent (inbox) and audited."""

from __future__ import annotations

from services.casework import store_erasure
from services.casework.domain import case_texts_erasable
from services.casework.handlers_assign import SYSTEM
from services.casework.runtime import CaseworkRuntime
from services.contracts.events import PersonErased
from services.kit import audit, telemetry
from services.kit.broker import Delivery
from services.kit.db import utc_now


async def erase_person(rt: CaseworkRuntime, event: PersonErased, delivery: Delivery) -> None:
    person_id = event.person_id
    telemetry.mark(person_id=person_id)
    async with delivery.transaction() as tx:
        await store_erasure.mark_erased(tx.conn, person_id, utc_now(), event.ground)
        await store_erasure.shred_referral_notes(tx.conn, person_id)
        for case_id in await store_erasure.cases_of_person(tx.conn, person_id):
            await store_erasure.shred_goals(tx.conn, case_id, await store_erasure.goal_ids(tx.conn, case_id, person_id))
            if case_texts_erasable(await store_erasure.members_not_erased(tx.conn, case_id)):
                await store_erasure.shred_goals(tx.conn, case_id, await store_erasure.goal_ids(tx.conn, case_id, None))
                await store_erasure.shred_case_texts(tx.conn, case_id)
        await audit.record(tx.conn, rt.audit_chain, actor=SYSTEM, role=SYSTEM, action="erase", record_type="person", record_id=person_id)
    await rt.db.truncate_wal()
