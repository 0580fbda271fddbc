"""Benchmarks: ours against the anchor (POT, a floor) in one process, same data."""
