"""Casework's typed runtime: the kit's Runtime with casework's settings (no `Any` settings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.casework.settings import CaseworkSettings
from services.kit.runtime import Runtime
from services.kit.runtime_dep import runtime_of

CaseworkRuntime = Runtime[CaseworkSettings]

#: A route's runtime, typed by casework's settings.
CaseworkRuntimeDep = Annotated[CaseworkRuntime, Depends(runtime_of)]
