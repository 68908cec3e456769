"""Benchmarks of the ankommen stack (not part of the installed package)."""
