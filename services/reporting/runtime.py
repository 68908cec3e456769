"""Reporting's runtime: the kit's Runtime with reporting's settings and the group commit of the live
projections (one per process, made on first use)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts import Event
from services.kit.runtime import Runtime
from services.kit.runtime_dep import runtime_of
from services.reporting import projection
from services.reporting.group_commit import GroupCommit
from services.reporting.settings import ReportingSettings


@dataclass
class ReportingRuntime(Runtime[ReportingSettings]):
    @cached_property
    def group_commit(self) -> GroupCommit:
        """Commits the live projections of events that arrive together in shared transactions."""
        tz = self.settings.time_zone

        async def apply(conn: AsyncConnection, events: list[Event]) -> None:
            await projection.project_batch(conn, events, tz)

        return GroupCommit(self.db, self.tables, apply)


#: A route's runtime.
ReportingRuntimeDep = Annotated[ReportingRuntime, Depends(runtime_of)]
