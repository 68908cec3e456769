"""KPIs counted from events. Months are calendar months in the municipality's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel

INTAKES_COMPLETED = "intakes_completed"
CASES_OPENED = "cases_opened"


def month_of(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


class MonthKpis(BaseModel):
    month: str
    intakes_completed: int = 0
    cases_opened: int = 0


class KpiReport(BaseModel):
    months: list[MonthKpis]
