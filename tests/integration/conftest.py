"""Fixtures shared by the integration tests of one service's workflows and activities."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.casework import store
from services.kit.db import Database


@pytest.fixture
async def casework_db(tmp_path) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """Casework's schema on a fresh SQLite file, for its workflows' real activities."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'casework.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(store.metadata.create_all)
    yield db
    await db.dispose()
