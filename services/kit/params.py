"""Bounded integer path parameters. An unbounded `int` let a 40-digit year through to SQLite, which
cannot bind it (OverflowError: 500); schemathesis found it (issue 12, S1). Out of range is 422 naming
the parameter."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

#: A fiscal or calendar year in a path (budgets, year statements)
Year = Annotated[int, Path(ge=1900, le=2999, description="A year, 1900..2999")]
#: A running number in a path (a measure's number, a meeting's number): a positive 32-bit integer
Number = Annotated[int, Path(ge=1, le=2_147_483_647, description="A positive number")]
