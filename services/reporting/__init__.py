"""Projections from events, measures catalogue, KPIs and funder reports."""
