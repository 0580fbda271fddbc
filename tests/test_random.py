import numpy as np
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


# ------------------------------------------------------- numpy states (POT's seeds)
@pytest.mark.parametrize("make_state", [np.random.RandomState, np.random.default_rng])
def test_numpy_states_are_reproducible_and_advance(make_state):
    first = randn(4, generator=make_generator(make_state(7)))
    assert torch.equal(first, randn(4, generator=make_generator(make_state(7))))
    state = make_state(7)
    a = randn(4, generator=make_generator(state))
    b = randn(4, generator=make_generator(state))  # the caller's stream moved on, as in POT
    assert torch.equal(a, first) and not torch.equal(a, b)
    assert not torch.equal(first, randn(4, generator=make_generator(make_state(8))))


def test_numpy_state_draws_one_integer():
    state, twin = np.random.RandomState(0), np.random.RandomState(0)
    make_generator(state)
    twin.randint(0, 2**63 - 1, dtype=np.int64)
    assert state.randint(1000) == twin.randint(1000)
    gen, gen_twin = np.random.default_rng(0), np.random.default_rng(0)
    make_generator(gen)
    gen_twin.integers(0, 2**63 - 1)
    assert gen.integers(1000) == gen_twin.integers(1000)


def test_numpy_integer_and_large_seeds():
    assert torch.equal(rand(3, generator=make_generator(np.int64(5))),
                       rand(3, generator=make_generator(5)))
    make_generator(2**64 - 1)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*64\), got"):
        make_generator(2**64)


def test_bad_seed_message_lists_the_accepted_kinds():
    with pytest.raises(TypeError, match="RandomState.*Generator.*got str"):
        make_generator("0")


def test_seeded_global_rng_restores_the_callers_stream_and_repeats():
    from mintlab._random import seeded_global_rng
    from mintlab.continual.models import ContinualMLP
    from mintlab.experiments._compress_common import mlp

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded_global_rng(7):
        a = torch.nn.Linear(4, 3).weight.detach().clone()
    net1, net2 = mlp([5, 4, 2], seed=3), mlp([5, 4, 2], seed=3)
    m1 = ContinualMLP(6, [8], [2], seed=1)
    assert torch.equal(torch.rand(3), expected)  # the caller's stream did not move
    with seeded_global_rng(7):
        assert torch.equal(torch.nn.Linear(4, 3).weight, a)
    assert torch.equal(net1[0].weight, net2[0].weight)
    assert torch.equal(m1.trunk[0].weight, ContinualMLP(6, [8], [2], seed=1).trunk[0].weight)
    with pytest.raises(ValueError, match="seed"):
        with seeded_global_rng(-1):
            pass


def test_global_rng_slot_gives_the_stream_the_owner_would_have_alone():
    """Draws inside a slot, interleaved with the caller's, equal one uninterrupted stream."""
    import torch

    from mintlab._random import GlobalRNGSlot

    torch.manual_seed(7)
    alone = torch.rand(4)                 # the owner's stream, run by itself
    slot = GlobalRNGSlot()
    torch.manual_seed(123)
    caller_before = torch.get_rng_state()
    with slot.active():
        torch.manual_seed(7)
        first = torch.rand(2)
    assert torch.equal(torch.get_rng_state(), caller_before)
    torch.rand(5)                          # the caller draws in between
    with slot.active():
        second = torch.rand(2)
    assert torch.equal(torch.cat([first, second]), alone)
