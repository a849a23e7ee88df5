"""Benchmarks shared by ``benchmarks/`` (pytest-benchmark) and ``gradcore bench``."""
from gradcore.bench.report import run_cli, run_suite
from gradcore.bench.runner import sync, time_interleaved

__all__ = ["run_suite", "run_cli", "time_interleaved", "sync"]
