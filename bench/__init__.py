"""Benchmarks: ``python bench/run.py`` (see bench/run.py and docs/performance.md)."""
