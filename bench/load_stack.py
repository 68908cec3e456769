"""Another embedded stack that keeps the machine busy: for the benchmarks' `--busy` mode.

    .venv/bin/python -m bench.load_stack [--concurrency 4] [--seconds 1800]

Starts its own stack (`ankommen up --detach` in a temporary data directory), prints `loading` once it
posts, then POSTs intakes (the pipeline's households: each opens a case, so all four services, Redis and
Temporal work) with `--concurrency` in flight until SIGTERM/SIGINT or `--seconds`; stops its stack and
prints how many intakes it created. Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.intake_pipeline import EmbeddedStack, household


async def load(stack: EmbeddedStack, concurrency: int, seconds: float, stop: asyncio.Event) -> tuple[int, int]:
    token = stack.token()
    created = failed = 0
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))
    async with httpx.AsyncClient(base_url=stack.url("intake"), headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:

        async def worker() -> None:
            nonlocal created, failed
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = await client.post("/intakes", json=household(next(counter)))
                    created, failed = (created + 1, failed) if r.status_code == 201 else (created, failed + 1)
                except httpx.HTTPError:
                    failed += 1
                    await asyncio.sleep(0.5)

        print("loading", flush=True)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return created, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=1800)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ankommen-load-") as tmp:
        stack = EmbeddedStack(Path(tmp))
        try:
            stack.up()

            async def run() -> tuple[int, int]:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, stop.set)
                return await load(stack, args.concurrency, args.seconds, stop)

            created, failed = asyncio.run(run())
            print(f"load stack: {created} intakes created, {failed} failed", flush=True)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            stack.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
