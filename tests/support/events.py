"""Publish contract events into real Redis exactly as a producer's outbox relay does (same stream,
same body, same headers), for tests of consumers whose producers are not driven through HTTP
(`publish_events` is in bench/support.py, which the benchmarks share)."""

from bench.support import publish_events

__all__ = ["publish_events"]
