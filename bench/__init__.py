"""Sandgate's benchmarks: `python -m bench` (or `scripts/bench.sh`). See docs/benchmarks.md."""
