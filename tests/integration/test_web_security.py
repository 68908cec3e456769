"""Sign-in throttling in real Redis (services/kit/signin_guard.py), and the web application's answer to an
unexpected error: a German page with every security header, not Starlette's bare 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from bench.faults.web_attacks import REQUIRED_HEADERS
from services.kit.settings import PlatformSettings
from services.kit.signin_guard import SignInGuard
from services.web.app import create_app
from services.web.backend import Backend
from services.web.sessions import SessionStore
from services.web.settings import WebSettings


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    r = Redis.from_url(redis_url)
    yield r
    await r.aclose()


def guard(redis: Redis) -> SignInGuard:
    return SignInGuard(redis, PlatformSettings(signin_max_failures=10, signin_window_s=900, signin_lock_s=600))


def fresh() -> tuple[str, str]:
    n = uuid.uuid4().int
    return f"user-{n % 10**8}", f"203.0.113.{n % 250 + 1}-{n % 10**6}"


class TestSignInGuard:
    async def test_the_tenth_wrong_password_locks_the_account_from_any_address(self, redis: Redis) -> None:
        g, (user, address) = guard(redis), fresh()
        results = [await g.failed(user, f"{address}-{i}") for i in range(10)]
        assert results == [False] * 9 + [True]
        assert 590 <= await g.locked_for(user, "198.51.100.1") <= 600

    async def test_ten_wrong_passwords_from_one_address_lock_the_address_for_every_account(self, redis: Redis) -> None:
        g, (user, address) = guard(redis), fresh()
        results = [await g.failed(f"{user}-{i}", address) for i in range(10)]
        assert results[-1] and not any(results[:-1])
        assert await g.locked_for("frontdesk", address) > 0
        assert await g.locked_for("frontdesk", "198.51.100.2") == 0

    async def test_the_local_machine_is_counted_per_account_only(self, redis: Redis) -> None:
        g, (user, _) = guard(redis), fresh()
        for i in range(12):
            await g.failed(f"{user}-{i}", "127.0.0.1")
        assert await g.locked_for(f"{user}-new", "127.0.0.1") == 0

    async def test_a_right_password_clears_the_accounts_count(self, redis: Redis) -> None:
        g, (user, address) = guard(redis), fresh()
        for _ in range(9):
            await g.failed(user, address)
        await g.succeeded(user)
        assert not await g.failed(user, address + "x")
        assert await g.locked_for(user, address + "x") == 0

    async def test_no_user_name_is_kept_in_redis(self, redis: Redis) -> None:
        g, (user, address) = guard(redis), fresh()
        await g.failed(user, address)
        assert not [k async for k in redis.scan_iter(match=f"*{user}*")]


class TestUnexpectedErrorPage:
    async def test_an_unexpected_error_gets_a_german_page_with_the_security_headers(self, redis_url: str) -> None:
        app = create_app(WebSettings(), PlatformSettings(redis_url=redis_url))

        @app.get("/kaputt")
        async def broken() -> None:
            raise RuntimeError("boom")

        redis = Redis.from_url(redis_url)
        app.state.sessions = SessionStore(redis, idle_s=600, max_s=3600)
        app.state.backend, app.state.oidc = Backend(WebSettings()), None
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://web") as c:
                r = await c.get("/kaputt")
        finally:
            await app.state.backend.close()
            await redis.aclose()
        assert r.status_code == 500 and "Interner Fehler" in r.text
        assert [h for h, ok in REQUIRED_HEADERS.items() if not ok(r.headers.get(h, ""))] == []
