"""Funds and their fiscal-year budgets (DOMAIN.md flows 5 and 6)."""

from __future__ import annotations

import enum
from datetime import date

from pydantic import BaseModel


class Fund(enum.StrEnum):
    HARDSHIP = "hardship"  # Härtefallfonds Integration (000 "Härtefallfond", §7 row 34)
    DISCRETIONARY = "discretionary"  # Verfügungsfonds (002 §5)


def fiscal_year(today: date) -> int:
    """German municipalities budget by calendar year (Haushaltsjahr = Kalenderjahr, GO NRW §78)."""
    return today.year


class BudgetOut(BaseModel):
    fund: Fund
    fiscal_year: int
    amount_cents: int
    currency: str = "EUR"
