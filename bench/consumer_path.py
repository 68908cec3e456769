"""CPU per consumed stream entry through FastStream as the kit configures it (services/kit/broker.py:
the tolerant parser, the services' logger, the OpenTelemetry middleware), for two ways a handler can
get the message:

- `annotation`: `async def handler(msg: RedisStreamMessage)`. FastStream resolves the annotation (a
  `Context` field) through a sync call, which fast_depends runs in a worker thread: a thread hand-off
  per message.
- `decoder` (what the kit does): the subscriber's decoder returns the message itself
  (`wire.the_message`) and the handler takes it as its body, `async def handler(msg: Any)`.

    .venv/bin/python -m bench.consumer_path [--entries 4000]

Starts its own Redis (the venv's redis-server, a free loopback port), writes the entries with the
relay's headers, and reads them with one consumer group, 16 in flight, as the services do. Prints CPU
µs per entry (this process, every thread) and entries/s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import tempfile
import time
import uuid
from typing import Any

from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisStreamMessage
from faststream.redis.opentelemetry import RedisTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from redis.asyncio import Redis

from deploy.stack import _binary, _redis_ready, free_port
from services.kit import wire

STREAM = "bench.consumer-path.v1"
WORKERS = 16


async def measure(port: int, style: str, entries: int) -> tuple[float, float]:
    stream = f"{STREAM}.{style}"
    redis = Redis(port=port)
    await redis.xgroup_create(stream, "bench", id="0", mkstream=True)
    await redis.aclose()
    async with RedisBroker(f"redis://127.0.0.1:{port}", logger=None) as writer:
        for _ in range(entries):
            await writer.publish({"n": 1}, stream=stream, headers={"event_id": str(uuid.uuid4()), "event_type": "Bench"})

    broker = RedisBroker(f"redis://127.0.0.1:{port}", middlewares=[RedisTelemetryMiddleware(tracer_provider=TracerProvider())],
                         logger=logging.getLogger("faststream"))
    done = asyncio.Event()
    seen = 0

    def count(msg: Any) -> None:
        nonlocal seen
        assert msg.headers["event_type"] == "Bench"
        seen += 1
        if seen == entries:
            done.set()

    sub = StreamSub(stream, group="bench", consumer="bench-1", polling_interval=1000, max_records=WORKERS)
    if style == "annotation":
        async def by_annotation(msg: RedisStreamMessage) -> None:
            count(msg)

        broker.subscriber(stream=sub, max_workers=WORKERS, parser=wire.tolerant_parser)(by_annotation)
    else:
        async def by_decoder(msg: Any) -> None:
            count(msg)

        broker.subscriber(stream=sub, max_workers=WORKERS, parser=wire.tolerant_parser, decoder=wire.the_message)(by_decoder)
    cpu, wall = time.process_time(), time.perf_counter()
    await broker.start()
    await asyncio.wait_for(done.wait(), 300)
    result = ((time.process_time() - cpu) / entries * 1e6, entries / (time.perf_counter() - wall))
    await broker.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=4000)
    args = parser.parse_args(argv)
    logging.getLogger("faststream").setLevel(logging.WARNING)  # as the services set it (kit/telemetry.py)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ankommen-consumer-") as tmp:
        redis = subprocess.Popen([_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not _redis_ready(port):
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not answer")
                time.sleep(0.05)
            for style in ("annotation", "decoder"):
                cpu, rate = asyncio.run(measure(port, style, args.entries))
                print(f"{style:<12} CPU {cpu:7.1f} µs per entry, {rate:7.0f} entries/s", flush=True)
        finally:
            redis.terminate()
            redis.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
