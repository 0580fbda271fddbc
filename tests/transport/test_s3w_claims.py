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



def test_vmf_mixture_sampler_matches_the_closed_form_mean_cosine():
    from mintlab.experiments.s3w import sample_vmf_mixture

    rng = np.random.default_rng(0)
    centre = np.array([[0.0, 0.6, 0.8]])
    for kappa in (2.0, 25.0):
        X = sample_vmf_mixture(rng, 20_000, centre, kappa)
        assert np.allclose(np.linalg.norm(X, axis=1), 1.0)
        expected = 1.0 / np.tanh(kappa) - 1.0 / kappa  # E[cos] for vMF on S^2
        assert abs((X @ centre[0]).mean() - expected) < 0.01


def test_gradient_flow_stays_on_the_sphere_and_approaches_the_target():
    import ot

    from mintlab.experiments.s3w import gradient_flow, sample_vmf_mixture

    rng = np.random.default_rng(1)
    centres = np.eye(3)
    X0 = rng.normal(size=(80, 3))
    X0 /= np.linalg.norm(X0, axis=1, keepdims=True)
    targets = [sample_vmf_mixture(rng, 80, centres, 25.0) for _ in range(30)]

    def distance(X, Y, s):
        return s3w_distance(X, Y, n_projections=30, seed=s)

    X, seconds = gradient_flow(distance, X0, targets, 1.0)
    assert seconds.shape == (30,) and np.allclose(np.linalg.norm(X, axis=1), 1.0)
    Y = sample_vmf_mixture(rng, 80, centres, 25.0)

    def w2(A):
        return ot.emd2([], [], np.arccos(np.clip(A @ Y.T, -1, 1)) ** 2)

    assert w2(X) < 0.5 * w2(X0)
