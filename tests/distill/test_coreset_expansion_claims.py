"""``coreset-expansion``: equal storage and equal augmentation, the conditions of its claims.

Four half-resolution 8-bit patches per class hold the pixel bytes of one
full-resolution image per class by construction (tested here, not judged);
and every arm of the experiment trains with the same seeded augmentation: a
generated set evaluated with ``augment_generated`` sees exactly what a stored
set of the same images sees.
"""

import numpy as np
import torch

from mintlab.datasets import make_glyph_classes
from mintlab.distill import (
    ConvNet,
    DistilledSet,
    SuperResVAE,
    bilinear_coreset,
    coreset_expansion,
    patch_coreset,
    quantize_images,
    random_subset,
)
from mintlab.experiments._distill_common import evaluate_items


def _glyphs(k, n, seed):
    X, y = make_glyph_classes(k, n, seed=seed)
    return torch.as_tensor(X), torch.as_tensor(y)


def test_four_half_resolution_patches_hold_the_pixels_of_one_image():
    torch.manual_seed(0)
    k = 6
    X, y = _glyphs(k, 5, 0)
    teacher = ConvNet(k, 16).eval()
    low, labels = patch_coreset(X, y, 4, teacher, seed=0)
    assert low.shape == (4 * k, 8, 8)
    assert torch.equal(torch.bincount(labels), torch.full((k,), 4))
    assert torch.equal(quantize_images(low), low)  # stored as 8 bits
    real = random_subset(X, y, 1, seed=0).serialize()
    sets = [coreset_expansion(low, labels, SuperResVAE(), seed=0),
            bilinear_coreset(low, labels, 16)]
    for ds in sets:
        stored = ds.serialize()
        assert len(stored["patches"]) == len(real["images"]) == k * 16 * 16
        assert len(stored["labels_u8"]) == 4 * k  # a label per patch
        assert ds.storage_bytes == k * 16 * 16 + 4 * k


def _data(k=3):
    X, y = _glyphs(k, 4, 1)
    Xt, yt = _glyphs(k, 6, 2)
    return {"X_train": X, "y_train": y, "X_test": Xt, "y_test": yt, "n_classes": k,
            "image_size": 16, "name": "glyphs"}


def test_generated_sets_get_the_augmentation_of_stored_sets():
    torch.set_num_threads(1)
    data = _data()
    stored = random_subset(data["X_train"], data["y_train"], 2, seed=0)
    # a "generator" returning the stored images every epoch
    generated = DistilledSet("gen", None, None, 3,
                             sampler=lambda e: (stored.images, stored.labels))
    a = evaluate_items(stored, data, epochs=4, seed=5)
    b = evaluate_items(generated, data, epochs=4, seed=5, augment_generated=True)
    c = evaluate_items(generated, data, epochs=4, seed=5)
    assert np.array_equal(a, b)
    assert a.shape == c.shape == (18,)
