"""Fault proofs run on demand against the embedded stack (`python -m bench.faults.<name>`): bounded,
loopback only, each stops by itself and prints labelled figures (see bench/README.md)."""
