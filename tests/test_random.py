import pytest
import torch

from mintlab._random import make_generator, rand, randn


def test_int_seed_reproduces():
    a = randn(5, generator=make_generator(3))
    b = randn(5, generator=make_generator(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, randn(5, generator=make_generator(4)))


def test_generator_passes_through_and_advances():
    g = make_generator(0)
    assert make_generator(g) is g
    first = rand(2, generator=g)
    assert not torch.equal(first, rand(2, generator=g))


def test_none_gives_fresh_generator():
    assert isinstance(make_generator(None), torch.Generator)


@pytest.mark.parametrize("bad, exc", [(1.5, TypeError), ("0", TypeError), (True, TypeError),
                                      (-1, ValueError)])
def test_bad_seeds(bad, exc):
    with pytest.raises(exc, match="seed must be"):
        make_generator(bad)


def test_draws_follow_dtype_and_device():
    t = randn(3, generator=make_generator(0), dtype=torch.float32, device="cpu")
    assert t.dtype == torch.float32 and t.device.type == "cpu"
