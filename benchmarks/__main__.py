"""Run benchmarks: ``python -m benchmarks [name ...]`` (default: all)."""

import importlib
import sys

SUITES = ["line"]

names = sys.argv[1:] or SUITES
for name in names:
    if name not in SUITES:
        sys.exit(f"unknown benchmark {name!r}; choose from {SUITES}")
    importlib.import_module(f"benchmarks.{name}").main()
