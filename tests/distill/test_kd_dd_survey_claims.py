"""``kd-dd-survey``: the equal-storage condition under which its sets are compared.

The relabelled set (images + float32 soft labels of augmented views) is
compared with a hard-label real subset that stores at least as many bytes;
the byte formula and the subset size the experiment derives from it are
tested here against :attr:`DistilledSet.storage_bytes`.
"""

import pytest
import torch

from mintlab.datasets import make_glyph_classes
from mintlab.distill import ConvNet, random_subset, relabel
from mintlab.experiments._distill_common import equal_budget_ipc, hard_label_bytes


@pytest.mark.parametrize("ipc", [1, 3])
def test_hard_label_bytes_match_the_stored_set(ipc):
    X, y = (torch.as_tensor(a) for a in make_glyph_classes(5, 4, seed=0))
    assert random_subset(X, y, ipc, seed=0).storage_bytes == hard_label_bytes(5, 16, ipc)
    assert hard_label_bytes(300, 8, 1) == 300 * (64 + 2)  # more than 256 classes: uint16


def test_the_equal_budget_subset_stores_at_least_the_relabelled_set():
    torch.manual_seed(0)
    k = 4
    X, y = (torch.as_tensor(a) for a in make_glyph_classes(k, 12, seed=0))
    teacher = ConvNet(k, 16).eval()
    soft = relabel(X, y, 1, teacher, n_views=3, seed=0)
    ipc = equal_budget_ipc(soft.storage_bytes, k, 16)
    hard = random_subset(X, y, ipc, seed=0)
    assert hard.storage_bytes >= soft.storage_bytes
    assert random_subset(X, y, ipc - 1, seed=0).storage_bytes < soft.storage_bytes
    # the experiment's digits: 5 images per class and 30 float32 views of 10 classes
    digits_relabel = 50 * 64 + 30 * 50 * 10 * 4 + 8
    assert equal_budget_ipc(digits_relabel, 10, 8) == 98
    assert equal_budget_ipc(1, 10, 8) == 1
