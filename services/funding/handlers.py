"""Funding's commands."""

from __future__ import annotations

from datetime import date

from services.funding import store
from services.funding.domain import Fund, fiscal_year
from services.kit.db import upsert, utc_now
from services.kit.service import Runtime


async def ensure_current_budgets(rt: Runtime) -> None:
    """Each fund has a budget for the current fiscal year from the settings' default, unless the fund
    manager set one already (an existing budget is never overwritten)."""
    year = fiscal_year(date.today())
    defaults = {Fund.HARDSHIP: rt.settings.hardship_fund_cents, Fund.DISCRETIONARY: rt.settings.discretionary_fund_cents}
    async with rt.db.begin() as conn:
        for fund, cents in defaults.items():
            await upsert(
                conn, store.budgets,
                {"fund": fund.value, "fiscal_year": year, "amount_cents": cents, "set_by": "default", "set_at": utc_now()},
                keys=["fund", "fiscal_year"], only_insert=True,
            )
