"""Alembic migrations per service (each service owns its schema). `ankommen up` applies them;
`ankommen migrate` does it alone for production databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

SERVICES = ("intake", "casework", "funding", "reporting")
_ROOT = Path(__file__).resolve().parent.parent


def config_for(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_ROOT / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(service: str, url: str, revision: str = "head") -> None:
    command.upgrade(config_for(service, url), revision)


def run_env(metadata: sa.MetaData) -> None:
    """Body of every service's migrations/env.py."""
    from alembic import context
    from sqlalchemy.ext.asyncio import create_async_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: sa.Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=sa.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run())
