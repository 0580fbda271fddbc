"""PRANC: the network stored as (seed, coefficients) rebuilds the trained network exactly.

This was a check of the experiment; it holds by construction of the seeded
streams, so it is a unit test: a PRANC model trained the experiment's way
(the experiment's ConvNet on Fashion-MNIST, :func:`fit_classifier`) is exported, written to a
file, read back and rebuilt into a network initialised from another seed;
the rebuilt network gives the same logits bit for bit, stores only the
coefficients and the seed, and another seed gives other weights.
"""

import pytest
import torch

from mintlab.compress import PRANC, CompressedModel, fit_classifier, rebuild
from mintlab.experiments._compress_common import convnet, fashion_tensors


@pytest.fixture(scope="module")
def trained():
    data = fashion_tensors(0, 200, 50, 64)
    model = PRANC(convnet(0), n_coefficients=50, seed=7)
    fit_classifier(model, data["X_train"], data["y_train"], epochs=2, lr=1e-2, seed=0)
    return model.eval(), data["X_test"]


def test_rebuild_from_seed_and_coefficients_is_exact(trained, tmp_path):
    model, X = trained
    exported = model.export()
    assert set(exported.tensors) == {"coefficients"}
    assert exported.nbytes == 50 * 4 + 8
    path = exported.save(tmp_path / "pranc.safetensors")
    rebuilt = rebuild(convnet(1), CompressedModel.load(path)).eval()
    with torch.no_grad():
        assert torch.equal(rebuilt(X), model(X))


def test_another_seed_gives_another_network(trained):
    model, X = trained
    exported = model.export()
    other = CompressedModel(exported.method, exported.seed + 1, exported.config,
                            exported.tensors)
    rebuilt = rebuild(convnet(1), other).eval()
    with torch.no_grad():
        assert not torch.allclose(rebuilt(X), model(X))
