"""Drive the staff web application over HTTP as a browser would (cookies, CSRF tokens from the forms),
and put test data where the web application reads it (alerts in a service's database, dead letters in
Redis)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.stack import RunningStack

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


def web_client(stack: RunningStack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.web_url, timeout=15.0, follow_redirects=False)


async def sign_in(stack: RunningStack, client: httpx.AsyncClient, user: str) -> httpx.Response:
    form = await client.get("/anmelden")
    r = await client.post(
        "/anmelden", data={"csrf_token": csrf_of(form.text), "username": user, "password": stack.password(user), "weiter": "/"}
    )
    assert r.status_code == 303, r.text
    return r


async def raise_test_alert(stack: RunningStack, service: str, role: str, *, kind: str = "reminder", assignee: str | None = None) -> str:
    """Raises an alert in a service's own database, as its workflows do (kit alerts); returns the subject id."""
    import importlib

    from services.kit.alerts import raise_alert
    from services.kit.db import Database

    store = importlib.import_module(f"services.{service}.store")
    subject = str(uuid.uuid4())
    db = Database(f"sqlite+aiosqlite:///{stack.data_dir / f'{service}.db'}")
    try:
        async with db.begin() as conn:
            await raise_alert(
                conn, store.kit, key=f"web-test-{subject}", kind=kind, role=role, subject_type="test", subject_id=subject,
                message=f"Testmeldung {subject[:8]}", assignee=assignee, due_at=datetime.now(UTC) + timedelta(days=2),
            )
    finally:
        await db.dispose()
    return subject


async def dead_letter_for(stack: RunningStack, group: str) -> tuple[str, str]:
    """A dead letter of `group` on a stream nobody consumes; returns (original stream, event id)."""
    from redis.asyncio import Redis

    from services.kit.deadletters import dead_letter

    stream = f"test.web-dead-letter-{uuid.uuid4().hex[:8]}.v1"
    event_id = str(uuid.uuid4())
    redis = Redis.from_url(stack.redis_url)
    try:
        entry = await redis.xadd(stream, {b"__data__": b"{}", b"event_id": event_id.encode()})
        await dead_letter(
            redis, stream=stream, group=group, entry_id=entry, fields={b"__data__": b"{}"}, event_id=event_id,
            event_type="TestEvent", deliveries=5, error="RuntimeError: test failure",
        )
    finally:
        await redis.aclose()
    return stream, event_id
