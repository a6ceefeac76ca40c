"""Benchmarks (not tests): ``make bench`` / ``python -m bench``. See docs/performance.md."""
