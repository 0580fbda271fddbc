"""Pieces of the ``rcdt-ns`` experiment: affNIST-style data, the CNN baseline, the oracle."""

import numpy as np
import pytest

from mintlab.experiments import rcdt_ns as exp


@pytest.fixture(scope="module")
def digits():
    from mintlab.datasets import load_mnist

    return load_mnist("test", 20, 0)


def test_deformed_digits_sit_in_a_40x40_frame(digits):
    X = exp._deform(digits[0], np.random.default_rng(0))
    assert X.shape == (20, exp.FRAME, exp.FRAME)
    assert X.min() >= 0.0 and X.max() <= 1.0 + 1e-9
    ink = digits[0].reshape(20, -1).sum(1) / 255.0
    scale = X.reshape(20, -1).sum(1) / ink  # an affine map scales the ink by its determinant
    assert np.all((scale > 0.5) & (scale < 1.6))


def test_cnn_is_seeded_without_the_global_generator(digits):
    X = exp._deform(digits[0], np.random.default_rng(1))
    y = digits[1]
    a = exp._cnn_train_predict(X, y, [X], seed=3, lr=2e-3, steps=5)[0]
    b = exp._cnn_train_predict(X, y, [X], seed=3, lr=2e-3, steps=5)[0]
    assert np.array_equal(a, b)


def test_our_rcdt_agrees_with_the_authors_pytranskit(digits):
    PK = exp._pytranskit()
    if PK is None:
        pytest.skip("pytranskit (and scikit-image) not installed")
    from mintlab.embed import RadonCDT

    X = exp._deform(digits[0][:8], np.random.default_rng(2))
    F = RadonCDT(angles=exp.ANGLES).fit(X[:1]).transform(X)
    assert exp._transform_difference(PK, X, F) < exp.ORACLE_TOL
    # and a wrong angle convention is far off: the check can fail
    F_flipped = F.reshape(8, len(exp.ANGLES), -1)[:, ::-1].reshape(8, -1)
    assert exp._transform_difference(PK, X, F_flipped) > 2 * exp.ORACLE_TOL
