"""Run benchmarks: ``python -m benchmarks [name ...] [--quick] [--device cpu|cuda]``.

Default: all suites. ``--device cuda`` runs our side of the suites that honour
it (``line``, ``sliced``, ``attention``, ``couple``) on the GPU; CPU-only
anchors (POT, numpy) stay on the CPU. Results of a GPU run go to
``benchmarks/results/*_cuda.json``.
"""

import importlib
import sys

from ._timing import parse_device, set_device

SUITES = ["line", "sliced", "batch", "couple", "embed", "sets", "attention", "gromov",
          "compress", "svd", "scale", "rl"]
DEVICE_SUITES = {"line", "sliced", "attention", "couple"}

device = parse_device(sys.argv[1:])
set_device(device or "cpu")  # checks the device before any suite runs
args = sys.argv[1:]
if "--device" in args:  # the separate value of "--device cuda" is not a suite name
    del args[args.index("--device"):args.index("--device") + 2]
names = [a for a in args if not a.startswith("--")] or SUITES
for name in names:
    if name not in SUITES:
        sys.exit(f"unknown benchmark {name!r}; choose from {SUITES}")
if device not in (None, "cpu"):
    skipped = [n for n in names if n not in DEVICE_SUITES]
    if skipped:
        print(f"--device {device}: {skipped} run on the CPU (they have no device option)")
for name in names:
    set_device(device or "cpu" if name in DEVICE_SUITES else "cpu")
    importlib.import_module(f"benchmarks.{name}").main()
