"""Reporting's read models (projections built only from events)."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.db import add_kit_tables

metadata = sa.MetaData()
kit = add_kit_tables(metadata)

monthly_counts = sa.Table(
    "monthly_counts",
    metadata,
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("kpi", sa.String(64), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
