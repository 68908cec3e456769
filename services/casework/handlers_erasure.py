"""Casework's part of an erasure (GDPR Art. 17): on intake's PersonErased the person's free texts go
(their goals' titles with every revision, their referrals' notes); the case-level texts go when no
member of the case is left unerased (domain.case_texts_erasable). Ids, dates, statuses and counts
stay, so the reports' figures do not change. Idempotent (inbox) and audited. The retention sweep's
schedule (workflows/retention_sweep.py) is created here at start."""

from __future__ import annotations

import logging
from datetime import timedelta

from services.casework import store_erasure
from services.casework.domain import case_texts_erasable
from services.casework.handlers_assign import SYSTEM
from services.casework.runtime import CaseworkRuntime
from services.contracts.activities import TaskQueues
from services.contracts.casework_retention import RetentionInput, retention_schedule_id
from services.contracts.events import PersonErased
from services.kit import audit, telemetry
from services.kit.broker import Delivery
from services.kit.db import utc_now
from workflows.retention_sweep import RetentionSweep

log = logging.getLogger(__name__)


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


async def ensure_retention_schedule(rt: CaseworkRuntime, task_queue: str = TaskQueues.CASEWORK) -> bool:
    """Creates the retention sweep's schedule once (a restart finds it there: ScheduleAlreadyRunningError).
    True when this call created it."""
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleIntervalSpec, ScheduleSpec

    s = rt.settings
    if not s.retention_sweep_enabled or rt.temporal is None:
        return False
    sid = retention_schedule_id(rt.platform.tenant)
    action = ScheduleActionStartWorkflow(RetentionSweep.run, RetentionInput(tenant=rt.platform.tenant, retention_days=s.retention_days), id=sid,
                                         task_queue=task_queue)
    spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=s.retention_sweep_hours))])
    try:
        await rt.temporal.create_schedule(sid, Schedule(action=action, spec=spec))
    except ScheduleAlreadyRunningError:
        return False
    log.info("schedule %s created", sid)
    return True
