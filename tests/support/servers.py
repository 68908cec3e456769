"""Real servers for tests (the starters live in deploy/embedded.py, which the benchmarks share)."""

from deploy.embedded import TEMPORAL_FAST_SQLITE, docker_available, free_port, postgres_server, redis_server, temporal_binary, wait_until

__all__ = ["TEMPORAL_FAST_SQLITE", "docker_available", "free_port", "postgres_server", "redis_server", "temporal_binary", "wait_until"]
