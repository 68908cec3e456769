"""Sign-in throttling (BSI IT-Grundschutz ORP.4.A22, OWASP ASVS V2.2.1): wrong passwords are counted per
account and per client address in Redis, so every replica of the services and of the web application
(which signs in through a service's /auth/token, passing the browser's address) shares the counters.
After `signin_max_failures` (each within `signin_window_s` of the last) the account, or the address, is locked for
`signin_lock_s`: that attempt and every later one is refused with 429 (the later ones before the password
is checked, the right one too). Addresses of this machine (`signin_unlocked_addresses`) count per account only.
Each wrong password, each lock and each refused attempt is audited (record type "account")."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from services.kit.settings import PlatformSettings

PREFIX = "signin:"


def _keys(kind: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(value.strip().casefold().encode()).hexdigest()[:32]  # no user names in Redis keys
    return f"{PREFIX}failures:{kind}:{digest}", f"{PREFIX}lock:{kind}:{digest}"


class SignInGuard:
    def __init__(self, redis: Redis, settings: PlatformSettings) -> None:
        self.redis = redis
        self.max_failures = settings.signin_max_failures
        self.window_s = settings.signin_window_s
        self.lock_s = settings.signin_lock_s
        self.unlocked = {a.strip() for a in settings.signin_unlocked_addresses.split(",") if a.strip()}

    def _subjects(self, username: str, address: str) -> list[tuple[str, str]]:
        return [("account", username), *([("address", address)] if address not in self.unlocked else [])]

    async def locked_for(self, username: str, address: str) -> int:
        """Seconds until sign-in is possible again for this account from this address (0: now)."""
        ttls = [await self.redis.ttl(_keys(kind, value)[1]) for kind, value in self._subjects(username, address)]
        return max([t for t in ttls if t > 0] or [0])

    async def failed(self, username: str, address: str) -> bool:
        """Counts a wrong password; True if it locked the account or the address."""
        locked = False
        for kind, value in self._subjects(username, address):
            counter, lock = _keys(kind, value)
            async with self.redis.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(counter).expire(counter, self.window_s).execute()  # the window slides with each failure
            if count >= self.max_failures:
                await self.redis.set(lock, "1", ex=self.lock_s)
                await self.redis.delete(counter)
                locked = True
        return locked

    async def succeeded(self, username: str) -> None:
        """A right password clears the account's count (not the address's)."""
        await self.redis.delete(_keys("account", username)[0])
