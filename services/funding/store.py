"""Funding's tables and queries."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.db import UTCDateTime, add_kit_tables

metadata = sa.MetaData()
kit = add_kit_tables(metadata)

budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("fund", sa.String(32), primary_key=True),
    sa.Column("fiscal_year", sa.Integer, primary_key=True),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("set_by", sa.String(200), nullable=False),
    sa.Column("set_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("amount_cents >= 0", name="ck_budget_not_negative"),
)
