"""Temporal workflow definitions: deterministic, one module per business process. They import only
temporalio and services.contracts, and call activities by the names declared in contracts."""
