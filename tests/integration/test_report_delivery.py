"""Scheduled report runs and delivery by e-mail on a real Temporal server (time skipping) with a real
SMTP server (aiosmtpd) started by the test: the report arrives with its four attachments and the
delivery is recorded; with the SMTP server down the workflow retries with back-off and escalates to
the reporting officer after the deadline."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from redis.asyncio import Redis

from bench.support import reporting_runtime as make_runtime
from deploy.stack import free_port
from services.contracts.activities import TaskQueues
from services.contracts.reporting_workflows import (
    SCHEDULED_REPORTS_WORKFLOW,
    ScheduledReportsInput,
    report_delivery_workflow_id,
    schedule_id,
)
from services.kit.service import Runtime
from services.kit.temporal import make_worker
from services.reporting import activities, handlers_reports, store
from services.reporting.consumers import projected_events
from tests.support.eventually import eventually
from workflows.report_delivery import ReportDelivery
from workflows.report_schedule import ScheduledReports


class Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook name
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


async def _rt(redis_url: str, tmp_path: Any, port: int, env: Any) -> Runtime:
    redis = Redis.from_url(redis_url)
    await redis.delete(*[cls.stream for cls in projected_events()])
    await redis.aclose()
    rt = await make_runtime(redis_url, f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}", smtp_host="127.0.0.1", smtp_port=port)
    rt.temporal = env.client
    return rt


async def outbox_types(rt: Runtime) -> list[str]:
    async with rt.db.read() as conn:
        return list((await conn.execute(sa.select(store.kit.outbox.c.event_type).order_by(store.kit.outbox.c.seq))).scalars())


class TestScheduledDelivery:
    async def test_the_monthly_run_generates_the_statistics_and_mails_them_with_attachments(self, time_skipping_env, redis_url: str, tmp_path, smtp) -> None:  # type: ignore[no-untyped-def]
        sink, port = smtp
        env = time_skipping_env
        rt = await _rt(redis_url, tmp_path, port, env)
        async with make_worker(env.client, TaskQueues.REPORTING, workflows=[ScheduledReports, ReportDelivery], activities=activities.activities(rt)):
            handle = await env.client.start_workflow(
                SCHEDULED_REPORTS_WORKFLOW, ScheduledReportsInput(tenant="hamm", cadence="monthly"), id=f"reports-monthly-test-{tmp_path.name}",
                task_queue=TaskQueues.REPORTING,
            )
            await env.fast_forward(handle, timedelta(days=10))  # past the 3rd working day of this month
            report_ids = await handle.result()
            assert len(report_ids) == 1

            async def mailed() -> None:
                assert len(sink.messages) == 1

            await eventually(mailed, timeout=30)
            delivery = env.client.get_workflow_handle(report_delivery_workflow_id(report_ids[0]))
            assert (await delivery.result()).startswith("delivered after 1")
        envelope = sink.messages[0]
        assert sorted(envelope.rcpt_tos) == ["lenkungsgruppe@stadt.example", "statistik@stadt.example"]
        msg = email.message_from_bytes(envelope.content)
        names = sorted(part.get_filename() for part in msg.walk() if part.get_filename())
        assert [n.rsplit(".", 1)[1] for n in names] == ["csv", "json", "pdf", "xlsx"]
        pdf = next(p for p in msg.walk() if (p.get_filename() or "").endswith(".pdf")).get_payload(decode=True)
        assert pdf.startswith(b"%PDF")
        assert await outbox_types(rt) == ["ReportGenerated", "ReportDelivered"]
        async with rt.db.read() as conn:
            assert (await conn.execute(sa.select(store.deliveries.c.recipients))).scalar_one() == 2
        await rt.db.dispose()

    async def test_schedules_are_created_once(self, time_skipping_env, redis_url: str, tmp_path, smtp) -> None:  # type: ignore[no-untyped-def]
        rt = await _rt(redis_url, tmp_path, smtp[1], time_skipping_env)
        rt.platform = rt.platform.model_copy(update={"tenant": f"t{tmp_path.name[-8:]}"})
        await handlers_reports.ensure_schedules(rt)
        await handlers_reports.ensure_schedules(rt)  # a restart: already running, no error
        for cadence in ("monthly", "quarterly"):
            desc = await rt.temporal.get_schedule_handle(schedule_id(rt.platform.tenant, cadence)).describe()
            assert desc.schedule.spec.time_zone_name == "Europe/Berlin"
            await rt.temporal.get_schedule_handle(schedule_id(rt.platform.tenant, cadence)).delete()
        await rt.db.dispose()


class TestSmtpDown:
    async def test_retries_with_back_off_then_escalates_to_the_reporting_officer(self, time_skipping_env, redis_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
        env = time_skipping_env
        rt = await _rt(redis_url, tmp_path, free_port(), env)  # nothing listens there
        report_id, _ = await handlers_reports.generate_report(rt, "funder", "esf", "2026-Q3", "test")
        async with make_worker(env.client, TaskQueues.REPORTING, workflows=[ReportDelivery], activities=activities.activities(rt)):
            workflow_id = await handlers_reports.start_delivery(rt, report_id)
            assert workflow_id == report_delivery_workflow_id(report_id)
            handle = env.client.get_workflow_handle(workflow_id)

            async def first_attempt_failed() -> None:
                assert (await handle.query(ReportDelivery.status))["attempts"] >= 1

            await eventually(first_attempt_failed, timeout=20)
            assert await outbox_types(rt) == ["ReportGenerated"]
            await env.fast_forward(handle, timedelta(hours=49))

            async def escalated() -> dict:
                status = await handle.query(ReportDelivery.status)
                assert status["escalated"]
                return status

            status = await eventually(escalated, timeout=30)
            assert status["attempts"] > 3 and "SMTP" in status["last_error"]
            assert await outbox_types(rt) == ["ReportGenerated", "ReportDeliveryEscalated"]
            async with rt.db.read() as conn:
                alert = (await conn.execute(sa.select(rt.tables.alerts))).one()
            assert (alert.role, alert.assignee, alert.subject_id) == ("reporting_officer", "reporting", str(report_id))
            await handle.terminate(reason="test over")
        await rt.db.dispose()
