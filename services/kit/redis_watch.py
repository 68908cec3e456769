"""Notices a new Redis under a running service and repairs what the change may have cost.

A Redis that restarted (from its AOF, or empty without persistence) or failed over has a new run_id.
Once a second the watch asks for it (`INFO server`, one round trip off the hot path). On a change it
recreates the service's consumer groups at id 0 (a Redis without persistence lost them; FastStream stops
a subscriber for good on NOGROUP), restarts stopped subscribers, and has the outbox relay publish again
what the new Redis does not hold (`Outbox.republish_missing`). Consumers skip duplicates by their inbox.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from services.kit.broker import Consumers
from services.kit.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class RedisWatch:
    redis: Redis
    outbox: Outbox
    consumers: Consumers | None
    interval_s: float = 1.0
    run_id: str | None = None
    restarts_seen: int = 0

    async def run_forever(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the next round asks again
                log.debug("redis watch: %s", type(exc).__name__)
            await asyncio.sleep(self.interval_s)

    async def check(self) -> bool:
        """One look; True if Redis changed since the last one."""
        run_id = str((await self.redis.info("server"))["run_id"])
        changed = self.run_id is not None and run_id != self.run_id
        if changed:
            self.restarts_seen += 1
            log.warning("Redis changed (new run_id): recreating consumer groups, checking recently published events")
            if self.consumers is not None:
                await self.consumers.ensure_groups(self.redis)
            await self.outbox.republish_missing(self.redis)
        if self.consumers is not None:
            await self.consumers.revive(self.redis)
        self.run_id = run_id  # only after the repair succeeded: a failed repair is repeated next round
        return changed
