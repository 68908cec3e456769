"""Poll for an effect instead of sleeping for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.05) -> T:
    """Calls `check` until it returns without AssertionError or ValueError (returning its value) or
    `timeout` passes. ValueError counts as "not yet" because checks unpack what they expect exactly once,
    `(event,) = await events(...)`, which raises ValueError while the event has not arrived."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except (AssertionError, ValueError):
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(interval)
