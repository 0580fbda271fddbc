"""Run benchmarks: ``python -m benchmarks [name ...] [--quick]`` (default: all)."""

import importlib
import sys

SUITES = ["line", "sliced", "embed", "sets", "attention", "gromov", "compress", "svd", "scale",
          "rl"]

names = [a for a in sys.argv[1:] if not a.startswith("--")] or SUITES
for name in names:
    if name not in SUITES:
        sys.exit(f"unknown benchmark {name!r}; choose from {SUITES}")
    importlib.import_module(f"benchmarks.{name}").main()
