"""Server-side sessions of the web application in real Redis: idle and absolute expiry, rotation at
sign-in, only a hash of the session id as the key."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.web.sessions import ANONYMOUS_TTL_S, PREFIX, SessionStore, _key


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[SessionStore]:
    redis = Redis.from_url(redis_url)
    yield SessionStore(redis, idle_s=600, max_s=3600)
    await redis.aclose()


def signed_in(store: SessionStore, *, at: float):  # type: ignore[no-untyped-def]
    s = store.new()
    s.username, s.token, s.roles, s.signed_in_at = "frontdesk", "t", ["front_desk"], at
    return s


class TestSessions:
    async def test_a_saved_session_is_loaded_by_its_id_and_stored_under_a_hash(self, store: SessionStore) -> None:
        s = signed_in(store, at=time.time())
        await store.save(s)
        loaded = await store.load(s.id)
        assert loaded is not None and loaded.username == "frontdesk" and loaded.csrf == s.csrf
        assert await store.redis.exists(PREFIX + s.id) == 0

    async def test_the_idle_timeout_is_the_keys_lifetime(self, store: SessionStore) -> None:
        s = signed_in(store, at=time.time())
        await store.save(s)
        assert 590 <= await store.redis.ttl(_key(s.id)) <= 600

    async def test_a_session_ends_at_its_maximum_age_even_when_used(self, store: SessionStore) -> None:
        s = signed_in(store, at=time.time() - 3601)
        await store.save(s)
        assert await store.load(s.id) is None

    async def test_the_last_stretch_before_the_maximum_age_is_all_that_is_left(self, store: SessionStore) -> None:
        s = signed_in(store, at=time.time() - 3500)
        await store.save(s)
        assert 0 < await store.redis.ttl(_key(s.id)) <= 100

    async def test_an_anonymous_session_lives_briefly(self, store: SessionStore) -> None:
        s = store.new()
        await store.save(s)
        loaded = await store.load(s.id)
        assert loaded is not None and not loaded.signed_in
        assert 0 < await store.redis.ttl(_key(s.id)) <= ANONYMOUS_TTL_S

    async def test_rotation_gives_a_new_id_and_csrf_token_and_drops_the_old(self, store: SessionStore) -> None:
        s = signed_in(store, at=time.time())
        await store.save(s)
        old_id, old_csrf = s.id, s.csrf
        rotated = await store.rotate(s)
        await store.save(rotated)
        assert rotated.id != old_id and rotated.csrf != old_csrf
        assert await store.load(old_id) is None
        assert await store.load(rotated.id) is not None

    async def test_an_unknown_or_oversized_id_has_no_session(self, store: SessionStore) -> None:
        assert await store.load("nope") is None
        assert await store.load("x" * 500) is None
