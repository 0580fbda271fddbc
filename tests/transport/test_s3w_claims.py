"""RI-S3W is invariant to rotating both measures, by construction (``s3w``).

RI-S3W averages S3W over Haar-random rotations, so rotating both measures by
one more rotation leaves its expectation unchanged; with many rotations the
value moves only by Monte Carlo error, while plain S3W (one fixed pole)
moves much more. The experiment judges the paper's claims; this property is
tested here.
"""

import numpy as np

from mintlab.transport import random_rotations, s3w_distance


def _projected_normal(rng, n, kappa):
    c = rng.normal(size=3)
    X = kappa * c / np.linalg.norm(c) + rng.normal(size=(n, 3))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _relative_changes(X, Y, Qs, **kw):
    base = float(s3w_distance(X, Y, n_projections=200, seed=0, **kw))
    return np.array([abs(float(s3w_distance(X @ Q.T, Y @ Q.T, n_projections=200, seed=1 + i,
                                            **kw)) - base) / base
                     for i, Q in enumerate(Qs)])


def test_ri_s3w_is_rotation_invariant_and_plain_s3w_is_not():
    rng = np.random.default_rng(0)
    X, Y = _projected_normal(rng, 300, 3.0), _projected_normal(rng, 300, 3.0)
    Qs = random_rotations(3, 4, seed=7).numpy()
    ri = _relative_changes(X, Y, Qs, variant="ri", n_rotations=300)
    plain = _relative_changes(X, Y, Qs)
    assert ri.max() < 0.05
    assert plain.mean() > 2 * ri.mean()

