"""The running service's Runtime as a FastAPI dependency. A leaf module (it imports only
`services.kit.runtime`), so that the kit's own routers that `services.kit.service` includes (alerts,
ops) can depend on it without an import cycle; the annotation must resolve at module level, or
FastAPI would take `rt` for a query parameter.

A service declares its own typed dependency the same way, e.g.
`IntakeRuntimeDep = Annotated[IntakeRuntime, Depends(runtime_of)]`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.runtime import Runtime
from services.kit.settings import ServiceSettings


async def runtime_of(request: Request) -> Runtime[ServiceSettings]:
    """The Runtime the app's lifespan built (the service's own Runtime subclass, if it names one).
    Async, as every per-request dependency here: FastAPI runs a sync one in a worker thread."""
    runtime: Runtime[ServiceSettings] = request.app.state.runtime
    return runtime


#: The kit's routers need only what every Runtime has (db, tables, temporal).
KitRuntimeDep = Annotated[Runtime[ServiceSettings], Depends(runtime_of)]
