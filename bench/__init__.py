"""Benchmarks: ``python bench/run.py`` (see bench/run.py and README.md, Performance)."""
