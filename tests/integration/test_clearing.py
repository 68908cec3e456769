"""The clearing workflow with its real activities and database on a Temporal server with time skipping
(DOMAIN.md flow 2): booking is atomic and idempotent per (clearing, attempt), a missing slot alerts the
ABRA team lead and is retried on a timer, day 10 reminds, day 14 marks the deadline missed, each once."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowHistory, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from services.contracts.activities import TaskQueues
from services.contracts.intake_workflows import (
    CLEARING_WORKFLOW,
    Attendance,
    BookInput,
    ClearingInput,
    CloseRequest,
    InterviewFacts,
    MoveInCorrection,
    clearing_workflow_id,
)
from services.contracts.workdays import BERLIN, add_working_days
from services.intake import handlers_clearing, store, store_clearing
from services.intake.activities import IntakeActivities
from services.intake.crypto import generate_master_key
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.kit.auth import Principal
from services.kit.db import Database, utc_now
from services.kit.outbox import Outbox
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings
from services.kit.temporal import make_worker
from tests.support.eventually import eventually
from workflows.clearing import PreRegistrationClearing

HISTORY = Path(__file__).resolve().parent.parent / "histories" / "clearing_v1.json"
HISTORY_V2 = HISTORY.with_name("clearing_v2.json")  # with a corrected move-in date (update correct_move_in)


async def make_db(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(store.metadata.create_all)
    return db


def runtime(db: Database) -> Runtime:
    return IntakeRuntime("intake", PlatformSettings(), IntakeSettings(master_key=generate_master_key()), db, store.kit, Outbox(db, store.kit), None,
                         None)  # type: ignore[arg-type]


async def new_clearing(db: Database, move_in=None) -> uuid.UUID:  # type: ignore[no-untyped-def]
    cid = uuid.uuid4()
    move_in = move_in or datetime.now(BERLIN).date()
    async with db.begin() as conn:
        await conn.execute(
            store.clearings.insert().values(
                id=cid, person_id=uuid.uuid4(), intake_id=uuid.uuid4(), household_id=uuid.uuid4(), district="Westen",
                move_in_date=move_in, registration_deadline=move_in + timedelta(days=14), status="pending", attempt=0, started_at=utc_now(),
            )
        )
    return cid


async def add_slot(db: Database, starts_at: datetime, capacity: int = 1) -> uuid.UUID:
    sid = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(store.abra_slots.insert().values(id=sid, starts_at=starts_at, coach="abra", capacity=capacity, booked=0, created_at=utc_now()))
    return sid


async def scalar(db: Database, query: sa.Select) -> object:
    async with db.read() as conn:
        return (await conn.execute(query)).scalar()


def outbox_count(event_type: str) -> sa.Select:
    return sa.select(sa.func.count()).select_from(store.kit.outbox).where(store.kit.outbox.c.event_type == event_type)


def tomorrow_at(hour: int) -> datetime:
    day = add_working_days(datetime.now(BERLIN).date(), 1)
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


class TestBooking:
    async def test_concurrent_bookings_never_exceed_a_slots_capacity_and_a_retry_books_nothing_twice(self, database_url: str) -> None:
        db = await make_db(database_url)
        try:
            rt = runtime(db)
            book = IntakeActivities(rt).book
            slot = await add_slot(db, tomorrow_at(10), capacity=2)
            ids = [await new_clearing(db) for _ in range(5)]
            now = datetime.now(UTC)
            results = await asyncio.gather(*(book(BookInput(clearing_id=c, attempt=1, not_before=now, working_days=3)) for c in ids))
            assert sorted(r.booked for r in results) == [False, False, False, True, True]
            assert await scalar(db, sa.select(store.abra_slots.c.booked).where(store.abra_slots.c.id == slot)) == 2
            winner = next(c for c, r in zip(ids, results, strict=True) if r.booked)
            again = await book(BookInput(clearing_id=winner, attempt=1, not_before=now, working_days=3))
            assert again.booked and again.slot_id == slot
            assert await scalar(db, sa.select(store.abra_slots.c.booked).where(store.abra_slots.c.id == slot)) == 2
            assert await scalar(db, outbox_count("ClearingAppointmentBooked")) == 2
        finally:
            await db.dispose()

    async def test_a_slot_beyond_the_working_day_window_is_not_booked(self, database_url: str) -> None:
        db = await make_db(database_url)
        try:
            rt = runtime(db)
            book = IntakeActivities(rt).book
            far = datetime.combine(add_working_days(datetime.now(BERLIN).date(), 5), time(10), tzinfo=BERLIN)
            await add_slot(db, far)
            result = await book(BookInput(clearing_id=await new_clearing(db), attempt=1, not_before=datetime.now(UTC), working_days=3))
            assert not result.booked
        finally:
            await db.dispose()


    async def test_a_slot_on_a_holiday_published_before_the_rule_is_never_booked(self, database_url: str) -> None:
        """Christmas Eve 2026 (Thursday), 3 working days: the window runs to Wednesday 30; the slot on
        the 25th (1. Weihnachtstag) is skipped for the one on Monday 28."""
        db = await make_db(database_url)
        try:
            book = IntakeActivities(runtime(db)).book
            await add_slot(db, datetime(2026, 12, 25, 10, tzinfo=BERLIN))
            await add_slot(db, datetime(2026, 12, 27, 10, tzinfo=BERLIN))  # a Sunday
            monday = await add_slot(db, datetime(2026, 12, 28, 10, tzinfo=BERLIN))
            result = await book(BookInput(clearing_id=await new_clearing(db), attempt=1, not_before=datetime(2026, 12, 24, 16, tzinfo=BERLIN), working_days=3))
            assert result.booked and result.slot_id == monday
        finally:
            await db.dispose()


def scheduled(events: list, activity: str) -> int:  # type: ignore[type-arg]
    return sum(1 for e in events
               if e.HasField("activity_task_scheduled_event_attributes") and e.activity_task_scheduled_event_attributes.activity_type.name == activity)


class TestClearingWorkflow:
    async def test_no_slot_alerts_the_lead_then_books_reminds_marks_the_deadline_and_completes(self, time_skipping_env,
                                                                                               tmp_path) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        db = await make_db(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
        rt = runtime(db)
        cid = await new_clearing(db)
        async with db.read() as conn:
            row = await store_clearing.clearing(conn, cid)
        queue = f"intake-{uuid.uuid4().hex[:6]}"
        inp = ClearingInput(
            clearing_id=cid, person_id=row.person_id, tenant="hamm", move_in_date=row.move_in_date, booking_working_days=3,
            reminder_days=10, deadline_days=14, max_rebookings=2, slot_retry_minutes=60,
        )
        alerts = store.kit.alerts
        try:
            async with make_worker(env.client, queue, workflows=[PreRegistrationClearing], activities=IntakeActivities(rt).all()):
                handle = await env.client.start_workflow(CLEARING_WORKFLOW, inp, id=clearing_workflow_id(row.person_id), task_queue=queue)

                async def lead_alerted() -> None:
                    assert await scalar(db, sa.select(alerts.c.role).where(alerts.c.kind == "clearing_no_slot")) == "abra_lead"

                await eventually(lead_alerted, timeout=20)
                with pytest.raises(WorkflowUpdateFailedError):
                    await handle.execute_update(PreRegistrationClearing.record_attendance, Attendance(attended=False))
                slot = await add_slot(db, tomorrow_at(11))
                await env.fast_forward(handle, timedelta(minutes=61))

                async def booked() -> None:
                    assert (await handle.query(PreRegistrationClearing.state)).status == "booked"

                await eventually(booked, timeout=20)
                assert await scalar(db, sa.select(store.clearings.c.slot_id).where(store.clearings.c.id == cid)) == slot
                assert await scalar(db, sa.select(alerts.c.resolved_by).where(alerts.c.kind == "clearing_no_slot")) == "system"

                await env.fast_forward(handle, timedelta(days=15))

                async def reminded_and_missed() -> None:
                    state = await handle.query(PreRegistrationClearing.state)
                    assert state.reminded and state.deadline_missed

                await eventually(reminded_and_missed, timeout=20)
                state = await handle.execute_update(PreRegistrationClearing.record_interview,
                                                    InterviewFacts(record_id=uuid.uuid4(), needs_found=["work"], long_term_coaching=True))
                assert state.status == "cleared"
                assert await handle.result() == "cleared"
                for kind in ("clearing_reminder", "registration_deadline_missed"):
                    assert await scalar(db, sa.select(sa.func.count()).select_from(alerts).where(alerts.c.kind == kind)) == 1
                for event, n in (("ClearingAppointmentBooked", 1), ("RegistrationDeadlineMissed", 1), ("ClearingCompleted", 1), ("ClearingClosed", 1)):
                    assert await scalar(db, outbox_count(event)) == n, event
                assert await scalar(db, sa.select(store.clearings.c.long_term_coaching).where(store.clearings.c.id == cid)) is True

                if os.environ.get("ANKOMMEN_RECORD_HISTORIES"):
                    history = await handle.fetch_history()
                    HISTORY.write_text(json.dumps(history.to_json_dict(), indent=1))
        finally:
            await db.dispose()


    async def test_an_activity_that_gives_up_does_not_end_the_clearing(self, time_skipping_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """The booking fails for good (its clearing row is missing, a non-retryable NotFound); the workflow
        keeps running and books after the retry interval once the row is there."""
        env = time_skipping_env
        db = await make_db(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
        rt = runtime(db)
        person_id, cid = uuid.uuid4(), uuid.uuid4()
        move_in = datetime.now(BERLIN).date()
        inp = ClearingInput(
            clearing_id=cid, person_id=person_id, tenant="hamm", move_in_date=move_in, booking_working_days=3,
            reminder_days=10, deadline_days=14, max_rebookings=2, slot_retry_minutes=60,
        )
        queue = f"intake-{uuid.uuid4().hex[:6]}"
        try:
            async with make_worker(env.client, queue, workflows=[PreRegistrationClearing], activities=IntakeActivities(rt).all()):
                handle = await env.client.start_workflow(CLEARING_WORKFLOW, inp, id=clearing_workflow_id(person_id), task_queue=queue)

                async def failed_once() -> None:
                    events = [e async for e in handle.fetch_history_events()]
                    # the booking is a local activity (patch clearing-local-booking): its failure is a marker with a failure
                    assert any(
                        e.HasField("activity_task_failed_event_attributes")
                        or (e.HasField("marker_recorded_event_attributes") and e.marker_recorded_event_attributes.HasField("failure"))
                        for e in events
                    )

                await eventually(failed_once, timeout=20)
                async with db.begin() as conn:
                    await conn.execute(
                        store.clearings.insert().values(
                            id=cid, person_id=person_id, intake_id=uuid.uuid4(), household_id=uuid.uuid4(), district="Westen",
                            move_in_date=move_in, registration_deadline=move_in + timedelta(days=14), status="pending", attempt=0, started_at=utc_now(),
                        )
                    )
                await add_slot(db, tomorrow_at(12))
                await env.fast_forward(handle, timedelta(minutes=61))

                async def booked() -> None:
                    assert (await handle.query(PreRegistrationClearing.state)).status == "booked"

                await eventually(booked, timeout=20)
                await handle.execute_update(PreRegistrationClearing.close, CloseRequest(outcome="cancelled"))
                assert await handle.result() == "cancelled"
        finally:
            await db.dispose()


class TestMoveInCorrection:
    async def test_an_earlier_move_in_date_reminds_and_marks_the_deadline_missed_at_once_and_once(self, time_skipping_env,
                                                                                                  tmp_path) -> None:  # type: ignore[no-untyped-def]
        """Moved in today, booked; the front desk corrects the move-in date to 20 days ago (intake stores
        the new dates, its consumer sends them as correction 1): the reminder and the missed deadline of
        the new date are due, so both happen at once, for the new deadline; the same correction again
        changes nothing."""
        env = time_skipping_env
        db = await make_db(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
        rt = runtime(db)
        cid = await new_clearing(db)
        async with db.read() as conn:
            row = await store_clearing.clearing(conn, cid)
        queue = f"intake-{uuid.uuid4().hex[:6]}"
        inp = ClearingInput(
            clearing_id=cid, person_id=row.person_id, tenant="hamm", move_in_date=row.move_in_date, booking_working_days=3,
            reminder_days=10, deadline_days=14, max_rebookings=2, slot_retry_minutes=60,
        )
        alerts = store.kit.alerts
        earlier = row.move_in_date - timedelta(days=20)
        try:
            async with make_worker(env.client, queue, workflows=[PreRegistrationClearing], activities=IntakeActivities(rt).all()):
                await add_slot(db, tomorrow_at(11))
                handle = await env.client.start_workflow(CLEARING_WORKFLOW, inp, id=clearing_workflow_id(row.person_id), task_queue=queue)

                async def booked() -> None:
                    assert (await handle.query(PreRegistrationClearing.state)).status == "booked"

                await eventually(booked, timeout=20)
                async with db.begin() as conn:
                    await store_clearing.move_clearing_dates(conn, cid, move_in=earlier, deadline=earlier + timedelta(days=14), correction_no=1)
                state = await handle.execute_update(PreRegistrationClearing.correct_move_in, MoveInCorrection(correction_no=1, move_in_date=earlier))
                assert (state.move_in_date, state.correction_no) == (earlier, 1)

                async def reminded_and_missed() -> None:
                    state = await handle.query(PreRegistrationClearing.state)
                    assert state.reminded and state.deadline_missed
                    assert await scalar(db, sa.select(store.clearings.c.deadline_missed).where(store.clearings.c.id == cid)) is True

                await eventually(reminded_and_missed, timeout=20)
                again = await handle.execute_update(PreRegistrationClearing.correct_move_in, MoveInCorrection(correction_no=1, move_in_date=row.move_in_date))
                assert (again.move_in_date, again.deadline_missed) == (earlier, True)
                history = [e async for e in handle.fetch_history_events()]
                assert (scheduled(history, "intake.clearing_reminder"), scheduled(history, "intake.clearing_deadline_missed")) == (1, 1)
                assert await scalar(db, outbox_count("RegistrationDeadlineMissed")) == 1
                async with db.read() as conn:
                    payload = (await conn.execute(sa.select(store.kit.outbox.c.payload)
                                                  .where(store.kit.outbox.c.event_type == "RegistrationDeadlineMissed"))).scalar_one()
                assert (earlier + timedelta(days=14)).isoformat() in str(payload)
                assert await scalar(db, sa.select(alerts.c.role).where(alerts.c.kind == "registration_deadline_missed")) == "front_desk"
                assert await scalar(db, sa.select(sa.func.count()).select_from(alerts).where(alerts.c.kind == "clearing_reminder")) == 1

                await handle.execute_update(PreRegistrationClearing.close, CloseRequest(outcome="cancelled"))
                assert await handle.result() == "cancelled"
                if os.environ.get("ANKOMMEN_RECORD_HISTORIES"):
                    HISTORY_V2.write_text(json.dumps((await handle.fetch_history()).to_json_dict(), indent=1))
        finally:
            await db.dispose()

    async def test_a_later_move_in_date_takes_back_the_missed_mark_and_marks_the_new_deadline(self, time_skipping_env,
                                                                                              tmp_path) -> None:  # type: ignore[no-untyped-def]
        """Moved in 20 days ago by the first record (reminded, missed); corrected to today: both are
        re-armed for the new dates and happen again when those pass."""
        env = time_skipping_env
        db = await make_db(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
        rt = runtime(db)
        today = datetime.now(BERLIN).date()
        cid = await new_clearing(db, move_in=today - timedelta(days=20))
        async with db.read() as conn:
            row = await store_clearing.clearing(conn, cid)
        queue = f"intake-{uuid.uuid4().hex[:6]}"
        inp = ClearingInput(
            clearing_id=cid, person_id=row.person_id, tenant="hamm", move_in_date=row.move_in_date, booking_working_days=3,
            reminder_days=10, deadline_days=14, max_rebookings=2, slot_retry_minutes=60,
        )
        try:
            async with make_worker(env.client, queue, workflows=[PreRegistrationClearing], activities=IntakeActivities(rt).all()):
                await add_slot(db, tomorrow_at(11))
                handle = await env.client.start_workflow(CLEARING_WORKFLOW, inp, id=clearing_workflow_id(row.person_id), task_queue=queue)

                async def missed() -> None:
                    assert (await handle.query(PreRegistrationClearing.state)).deadline_missed

                await eventually(missed, timeout=20)
                async with db.begin() as conn:
                    await store_clearing.move_clearing_dates(conn, cid, move_in=today, deadline=today + timedelta(days=14), correction_no=1, missed=False)
                state = await handle.execute_update(PreRegistrationClearing.correct_move_in, MoveInCorrection(correction_no=1, move_in_date=today))
                assert not state.reminded and not state.deadline_missed
                await env.fast_forward(handle, timedelta(days=15))

                async def missed_again() -> None:
                    state = await handle.query(PreRegistrationClearing.state)
                    assert state.reminded and state.deadline_missed

                await eventually(missed_again, timeout=20)
                assert await scalar(db, outbox_count("RegistrationDeadlineMissed")) == 2
                assert await scalar(db, sa.select(sa.func.count()).select_from(store.kit.alerts).where(store.kit.alerts.c.kind == "clearing_reminder")) == 2
                await handle.execute_update(PreRegistrationClearing.close, CloseRequest(outcome="cancelled"))
        finally:
            await db.dispose()


class TestCoachBeforeTheWorkflowStarted:
    async def test_a_coach_closing_a_clearing_whose_workflow_has_not_started_yet_starts_it_and_closes(self, time_skipping_env,
                                                                                                      tmp_path) -> None:  # type: ignore[no-untyped-def]
        """The clearing is committed by intake and visible to coaches; its workflow starts just after, from
        intake's consumer of ClearingStarted. A coach's record in that window starts it and is recorded."""
        env = time_skipping_env
        db = await make_db(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
        rt = runtime(db)
        rt.temporal = env.client
        cid = await new_clearing(db)
        async with db.read() as conn:
            person_id = (await store_clearing.clearing(conn, cid)).person_id
        coach = Principal("abra", frozenset({"abra_coach"}))
        try:
            async with make_worker(env.client, TaskQueues.INTAKE, workflows=[PreRegistrationClearing], activities=IntakeActivities(rt).all()):
                out = await handlers_clearing.close_by_coach(rt, coach, cid, "cancelled")
                assert out.status == "cancelled"
                assert await env.client.get_workflow_handle(clearing_workflow_id(person_id)).result() == "cancelled"
                assert await scalar(db, outbox_count("ClearingClosed")) == 1
        finally:
            await db.dispose()


class TestClearingReplay:
    @pytest.mark.parametrize("path", [HISTORY, HISTORY_V2], ids=["v1", "v2-move-in-correction"])
    async def test_committed_history_replays_with_the_current_code(self, path: Path) -> None:
        """Guards running clearings: a non-deterministic change fails here and needs workflow.patched."""
        history = WorkflowHistory.from_json("clearing-recorded", json.loads(path.read_text()))
        await Replayer(workflows=[PreRegistrationClearing], data_converter=pydantic_data_converter).replay_workflow(history)
