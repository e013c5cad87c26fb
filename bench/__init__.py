"""Benchmark of the course's method against this pipeline: `python -m bench.run` (see bench/run.py)."""
