"""The data and the exact solver of the ``lcot`` experiment.

The experiment judges the paper's claims on gradient-orientation measures of
Fashion-MNIST images; here: the orientation measure itself (turning an image
by a quarter turn turns its measure by a quarter turn), and the batched
exact COT rows against POT's independent ``ot.wasserstein_circle``.
"""

import numpy as np
import ot

from mintlab.experiments.lcot import _cot_rows, orientation_histograms

RNG = np.random.default_rng(0)


def test_orientation_histograms_are_measures_and_turn_with_the_image():
    images = RNG.integers(0, 256, size=(3, 28, 28)).astype(np.uint8)
    H = orientation_histograms(images, 64)
    assert H.shape == (3, 64)
    assert np.allclose(H.sum(1), 1.0) and (H >= 0).all()
    # rot90 turns the image a quarter turn counter-clockwise; in row/column coordinates
    # (y down) the gradient orientation moves by -1/4 turn: 16 bins of 64
    turned = orientation_histograms(np.rot90(images, 1, axes=(1, 2)), 64)
    assert np.allclose(turned, np.roll(H, -16, axis=1), atol=1e-12) or np.allclose(
        turned, np.roll(H, 16, axis=1), atol=1e-12)


def test_a_vertical_edge_points_one_way():
    img = np.zeros((1, 28, 28), np.uint8)
    img[:, :, 14:] = 255  # dark left, bright right: the gradient points along +x
    H = orientation_histograms(img, 8)
    assert H[0, 0] == 1.0  # orientation 0 (bin [0, 1/8))


def test_cot_rows_match_pot():
    H = RNG.random((6, 32))
    H /= H.sum(1, keepdims=True)
    c = (np.arange(32) + 0.5) / 32
    D = _cot_rows(H, np.array([1, 4]), c)
    assert D.shape == (2, 6)
    pos = np.repeat(c[:, None], 6, 1)
    for r, i in enumerate((1, 4)):
        ref = np.sqrt(ot.wasserstein_circle(pos, pos, np.repeat(H[i][:, None], 6, 1), H.T, p=2))
        np.testing.assert_allclose(D[r], ref, rtol=1e-9, atol=1e-8)
    assert D[0, 1] < 1e-8 and D[1, 4] < 1e-8  # a measure against itself
