"""Helpers for funding tests: a funding runtime on a real database and given hardship applications
(in bench/support.py, which the funding benchmark shares)."""

from bench.support import funding_runtime, given_budget, given_hardship, hardship_request

__all__ = ["funding_runtime", "given_budget", "given_hardship", "hardship_request"]
