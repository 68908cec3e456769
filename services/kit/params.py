"""Parameters that refuse what FastAPI's defaults let through (schemathesis found both, issue 12 S1):

- bounded integer path and query parameters (`Year`, `Number`, `Offset`): an unbounded `int` let a 40-digit year through to SQLite, which
  cannot bind it (OverflowError: 500); out of range is 422 naming the parameter;
- `IsoDateTime`: an ISO 8601 date and time only; pydantic took `0.5` for 1970-01-01T00:00:00.5Z."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator

#: A fiscal or calendar year in a path (budgets, year statements)
Year = Annotated[int, Path(ge=1900, le=2999, description="A year, 1900..2999")]
#: Where a page of a list starts (a query parameter): SQLite binds at most a 64-bit integer
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Records to skip")]
#: A running number in a path (a measure's number, a meeting's number): a positive 32-bit integer
Number = Annotated[int, Path(ge=1, le=2_147_483_647, description="A positive number")]


def _iso_only(value: Any) -> Any:
    if isinstance(value, str | int | float) and not isinstance(value, bool) and re.fullmatch(r"\s*[+-]?\d+(\.\d*)?\s*", str(value)):
        raise ValueError("an ISO 8601 date and time is required, e.g. 2026-12-07T09:00:00+01:00, not a number")
    return value


#: A date and time as ISO 8601 text (a query parameter), never a number of seconds
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
