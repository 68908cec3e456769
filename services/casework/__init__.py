"""Soziales Fallmanagement: cases, assignment, integration plans, review cycle, referrals."""
