"""Hardship fund (Härtefallfonds) and discretionary fund (Verfügungsfonds): applications, decisions, budget ledger."""
