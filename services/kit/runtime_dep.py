"""The running service's Runtime as a FastAPI dependency. A leaf module, so that the kit's own routers
that `services.kit.service` includes (alerts, ops) can depend on it without an import cycle; the
annotation must resolve at module level, or FastAPI would take `rt` for a query parameter."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request


def runtime_of(request: Request) -> Any:
    return request.app.state.runtime


AnyRuntimeDep = Annotated[Any, Depends(runtime_of)]
