"""Funding's typed runtime: the kit's Runtime with funding's settings, and the FastAPI dependency for it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.funding.settings import FundingSettings
from services.kit.runtime import Runtime
from services.kit.runtime_dep import runtime_of

FundingRuntime = Runtime[FundingSettings]

#: A route's runtime, typed by funding's settings (`rt.settings.receipt_max_bytes` etc.).
FundingRuntimeDep = Annotated[FundingRuntime, Depends(runtime_of)]
