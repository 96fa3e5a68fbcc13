"""Benchmarks: `make bench` runs each module (python -m bench.NAME) from the repository root."""
