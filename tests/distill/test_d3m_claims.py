"""``d3m``: the storage of a prompt-distilled set, tested rather than judged as a claim.

The bytes of the learned vectors follow from the configured sizes (16
float32 numbers per vector and one int64 seed), so "one vector per class
stores a quarter of one real image per class" and "four vectors per class
store as much as one image per class" are properties of the format, checked
here against the byte formula at the experiment's class counts.
"""

import numpy as np
import pytest
import torch

from mintlab.datasets import make_glyph_classes
from mintlab.distill import PromptVAE, d3m, random_subset
from mintlab.experiments._distill_common import hard_label_bytes


@pytest.mark.parametrize("n_classes", [50, 100])
def test_prompt_vectors_store_a_quarter_of_an_image_per_vector(n_classes):
    torch.manual_seed(0)
    vae = PromptVAE(n_pretrain_classes=4)
    X, y = (torch.as_tensor(a) for a in make_glyph_classes(n_classes, 2, seed=0))
    real = random_subset(X, y, 1, seed=0)
    assert real.storage_bytes == hard_label_bytes(n_classes, 16, 1) == n_classes * 257
    for vpc in (1, 4):
        ds = d3m(X, y, vae, vectors_per_class=vpc, steps=1, seed=0)
        assert ds.storage_bytes == n_classes * vpc * 16 * 4 + 8
        assert ds.extra["vectors"].dtype == np.float32
    one = d3m(X, y, vae, vectors_per_class=1, steps=1, seed=0).storage_bytes
    four = d3m(X, y, vae, vectors_per_class=4, steps=1, seed=0).storage_bytes
    assert one / real.storage_bytes <= 0.25
    assert 0.99 <= four / real.storage_bytes <= 1.0  # equal memory, a little below
