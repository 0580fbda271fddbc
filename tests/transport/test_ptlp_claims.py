"""Properties behind the ``ptlp`` experiment that hold by construction.

The corruption touches exactly the samples it says, and PTLp between a
signal and its corrupted copy is bounded by leaving the touched samples
unmatched on both sides (``2 lambda`` per sample); the experiment judges the
paper's claims on MNIST-1D.
"""

import numpy as np

from mintlab.experiments.ptlp import _corrupt
from mintlab.transport import ptlp_distance


def test_corruption_touches_the_spikes_and_one_zeroed_stretch():
    rng = np.random.default_rng(0)
    f = np.ones(40)
    g = _corrupt(rng, f, 0.1, 0.15)
    zero = np.flatnonzero(g == 0.0)
    assert len(zero) >= 6 and np.all(np.diff(zero) == 1)  # one contiguous stretch of 6
    spiked = np.flatnonzero((g != 1.0) & (g != 0.0))
    assert len(spiked) <= 4 and np.all(np.abs(g[spiked] - 1.0) >= 2.0)


def test_ptlp_to_the_corrupted_copy_is_at_most_the_unmatched_price():
    rng = np.random.default_rng(1)
    f = np.sin(np.linspace(0, 6, 40))
    g = _corrupt(rng, f, 0.1, 0.15)
    touched = int((g != f).sum())
    lam = 1.0
    d = float(ptlp_distance(f, g, lam, spatial_scale=0.1)) ** 2
    assert d <= 2 * lam * touched + 1e-9
