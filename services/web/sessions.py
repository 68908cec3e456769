"""Server-side sessions in Redis. The browser holds only a random session id (HttpOnly, SameSite=Lax,
Secure over HTTPS); the user's bearer token, roles and the CSRF token stay on the server.

A session ends after `session_idle_s` without a request and `session_max_s` after sign-in (BSI
IT-Grundschutz APP.3.1.A1: sessions expire and are destroyed on sign-out). Signing in issues a new
session id (no session fixation)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

PREFIX = "web:session:"
#: An anonymous session (sign-in form, OIDC round trip) lives this long.
ANONYMOUS_TTL_S = 900


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    username: str | None = None
    display_name: str = ""
    roles: list[str] = field(default_factory=list)
    token: str | None = None
    token_expires: float = 0.0
    refresh_token: str | None = None
    signed_in_at: float = 0.0
    oidc: dict[str, str] = field(default_factory=dict)
    flash: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.username is not None and self.token is not None

    def has(self, *roles: str) -> bool:
        return bool(set(self.roles).intersection(roles))


def _key(session_id: str) -> str:
    return PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, redis: Redis, *, idle_s: int, max_s: int) -> None:
        self.redis = redis
        self.idle_s = idle_s
        self.max_s = max_s

    def new(self) -> Session:
        return Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), created=time.time())

    async def load(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        raw = await self.redis.get(_key(session_id))
        if raw is None:
            return None
        session = Session(**json.loads(raw))
        if session.signed_in and time.time() - session.signed_in_at > self.max_s:
            await self.delete(session)
            return None
        return session

    async def save(self, session: Session) -> None:
        if session.signed_in:
            remaining = self.max_s - (time.time() - session.signed_in_at)
            ttl = max(1, int(min(self.idle_s, remaining)))
        else:
            ttl = ANONYMOUS_TTL_S
        data: dict[str, Any] = asdict(session)
        await self.redis.set(_key(session.id), json.dumps(data), ex=ttl)

    async def delete(self, session: Session) -> None:
        await self.redis.delete(_key(session.id))

    async def rotate(self, session: Session) -> Session:
        """A new id and CSRF token for the same session data (at sign-in)."""
        await self.delete(session)
        session.id = secrets.token_urlsafe(32)
        session.csrf = secrets.token_urlsafe(32)
        return session
