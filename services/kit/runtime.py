"""The Runtime: what routes, consumers and activities of a service work with, typed by its settings.

`Runtime[S]` carries the service's own settings class as `settings: S`. A service that needs more
objects for its whole life (intake's keyring and blind index, reporting's group commit) subclasses
it with typed fields or cached properties and names the subclass in its `ServiceSpec.runtime`; the
composition root then builds that class::

    @dataclass
    class IntakeRuntime(Runtime[IntakeSettings]):
        @cached_property
        def keyring(self) -> Keyring:
            return Keyring(self.settings.master_key)

    ServiceSpec(name="intake", ..., settings=IntakeSettings(), runtime=IntakeRuntime)

A subclass is built positionally like Runtime itself: (name, platform, settings, db, tables, outbox,
broker, redis); extra fields need defaults (or be cached properties). `temporal_client` is the
connected Temporal client, raising a clear error before the lifespan connected it (no `assert`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar

from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio.client import Client

from services.kit import audit
from services.kit.auth import Principal
from services.kit.broker import Consumers
from services.kit.db import Database, KitTables
from services.kit.outbox import Outbox
from services.kit.redis_watch import RedisWatch
from services.kit.settings import PlatformSettings, ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


@dataclass
class Runtime(Generic[S]):
    """What routes, consumers and activities of a service work with."""

    name: str
    platform: PlatformSettings
    settings: S
    db: Database
    tables: KitTables
    outbox: Outbox
    broker: RedisBroker
    redis: Redis
    temporal: Client | None = None
    consumers: Consumers | None = None
    redis_watch: RedisWatch | None = None

    @property
    def temporal_client(self) -> Client:
        """The Temporal client; raises RuntimeError if the service has not connected it (yet)."""
        if self.temporal is None:
            raise RuntimeError(f"service {self.name}: Temporal is not connected (the app's lifespan connects it; a test sets rt.temporal)")
        return self.temporal

    @property
    def consumers_registry(self) -> Consumers:
        """The service's FastStream consumers; raises RuntimeError before the lifespan made them."""
        if self.consumers is None:
            raise RuntimeError(f"service {self.name}: its consumers are made by the app's lifespan")
        return self.consumers

    @cached_property
    def audit_chain(self) -> audit.AuditChain:
        """The hash chain of this service's audit log (key: ANKOMMEN_AUDIT_KEY or derived from the stack secret)."""
        return audit.AuditChain(self.tables, audit.audit_key(self.platform))

    async def audit(
        self, conn: AsyncConnection, principal: Principal, allowed: Sequence[str], action: str, record_type: str, record_id: object, outcome: str = "ok",
    ) -> None:
        await audit.record(
            conn, self.audit_chain, actor=principal.username, role=principal.acting_role(tuple(allowed)),
            action=action, record_type=record_type, record_id=record_id, outcome=outcome,
        )

    async def audit_many(self, conn: AsyncConnection, principal: Principal, allowed: Sequence[str], entries: list[tuple[str, str, object]]) -> None:
        """(action, record type, record id) per record, in one statement."""
        await audit.record_many(conn, self.audit_chain, actor=principal.username, role=principal.acting_role(tuple(allowed)), entries=entries)
