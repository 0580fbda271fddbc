import numpy as np
import pytest
import torch

from mintlab._validation import (
    ArrayIO,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_probability,
    check_same_leading,
    check_weights,
)


def test_numpy_in_numpy_out_float64():
    io = ArrayIO(np.arange(3, dtype=np.float32))
    t = io.tensor(np.arange(3, dtype=np.float32), "x")
    assert t.dtype == torch.float64
    out = io.out(t * 2)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, [0, 2, 4])


def test_lists_are_accepted_as_numpy():
    io = ArrayIO([1.0, 2.0])
    assert not io.is_torch
    assert isinstance(io.out(io.tensor([1.0, 2.0], "x")), np.ndarray)


def test_torch_in_torch_out_keeps_dtype_and_grad():
    x = torch.arange(3, dtype=torch.float32, requires_grad=True)
    io = ArrayIO(np.zeros(3), x)
    assert io.is_torch and io.dtype == torch.float32
    t = io.tensor(x, "x")
    assert t.requires_grad
    other = io.tensor(np.ones(3), "y")
    assert other.dtype == torch.float32
    assert io.out(t) is t


def test_integer_torch_input_uses_default_float():
    io = ArrayIO(torch.arange(3))
    assert io.dtype == torch.get_default_dtype()


@pytest.mark.parametrize(
    "value, kwargs, exc, match",
    [
        (None, {}, TypeError, "x must be an array, got None"),
        ("abc", {}, TypeError, "x must be a numpy array or torch tensor"),
        (True, {}, TypeError, "x must be"),
        (np.array(["a"]), {}, TypeError, "x must hold real numbers"),
        (np.array([1 + 1j]), {}, TypeError, "x must hold real numbers"),
        (torch.tensor([True]), {}, TypeError, "x must be numeric"),
        (np.zeros((2, 2)), {"ndim": 1}, ValueError, r"x must be 1-dimensional, got shape \(2, 2\)"),
        (np.zeros(3), {"min_ndim": 2}, ValueError, "x must have at least 2 dimension"),
        (np.zeros((2, 4)), {"shape": (None, 3)}, ValueError,
         r"x must have shape \(\*, 3\), got \(2, 4\)"),
        (np.zeros(0), {}, ValueError, "x must not be empty"),
        (np.array([1.0, np.nan]), {}, ValueError, "x must be finite, got 1 NaN"),
        (np.array([1.0, np.inf]), {}, ValueError, "x must be finite, got 0 NaN and 1 infinite"),
    ],
)
def test_tensor_rejections_name_the_argument(value, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ArrayIO(np.zeros(1)).tensor(value, "x", **kwargs)


def test_shape_matches_trailing_axes_with_min_ndim():
    io = ArrayIO(np.zeros(1))
    assert io.tensor(np.zeros((5, 2, 3)), "x", min_ndim=2, shape=(None, 3)).shape == (5, 2, 3)


def test_weights_checks():
    w = torch.tensor([1.0, 3.0])
    torch.testing.assert_close(check_weights(w, "a"), torch.tensor([0.25, 0.75]))
    with pytest.raises(ValueError, match="a must be non-negative"):
        check_weights(torch.tensor([1.0, -1.0]), "a")
    with pytest.raises(ValueError, match="a must have a positive sum"):
        check_weights(torch.tensor([0.0, 0.0]), "a")


def test_same_leading():
    check_same_leading(torch.zeros(3, 4), torch.zeros(1, 5), "u", "v")
    with pytest.raises(ValueError, match="u and v must have broadcastable leading"):
        check_same_leading(torch.zeros(3, 4), torch.zeros(2, 5), "u", "v")


def test_scalar_checks():
    assert check_positive(2, "p") == 2.0
    with pytest.raises(ValueError, match="p must be positive, got 0"):
        check_positive(0, "p")
    with pytest.raises(TypeError, match="p must be a real number, got str"):
        check_positive("1", "p")
    with pytest.raises(ValueError, match="p must be finite"):
        check_positive(float("inf"), "p")
    assert check_nonnegative(0, "lam") == 0.0
    with pytest.raises(ValueError, match="lam must be non-negative"):
        check_nonnegative(-1, "lam")
    with pytest.raises(ValueError, match=r"q must lie in \[0, 1\]"):
        check_probability(1.5, "q")
    assert check_int(3, "k", minimum=1) == 3
    with pytest.raises(TypeError, match="k must be an integer, got float"):
        check_int(3.0, "k")
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        check_int(0, "k", minimum=1)
    with pytest.raises(ValueError, match=r"mode must be one of \['a', 'b'\], got 'c'"):
        check_choice("c", "mode", ["a", "b"])


def test_reversed_and_read_only_views_are_accepted():
    import numpy as np

    from mintlab._validation import ArrayIO

    x = np.arange(6.0)
    io = ArrayIO(x)
    assert io.out(io.tensor(x[::-1], "x")).tolist() == [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    ro = np.broadcast_to(x, (2, 6))
    assert io.tensor(ro, "x", ndim=2).shape == (2, 6)


# ------------------------------------------------------------ checks for labels, images, tokens
from mintlab._validation import (  # noqa: E402
    check_array,
    check_images,
    check_labels,
    check_probability_vectors,
    check_ratio,
    check_temperature,
    check_tokens,
)


@pytest.mark.parametrize("value, kwargs, exc, match", [
    (0.0, {}, ValueError, r"ratio must lie in \(0, 1\), got 0.0"),
    (1.0, {}, ValueError, r"\(0, 1\)"),
    (1.2, {"closed_high": True}, ValueError, r"\(0, 1\]"),
    (float("nan"), {}, ValueError, "finite"),
    ("0.5", {}, TypeError, "real number"),
])
def test_check_ratio_rejects(value, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        check_ratio(value, "ratio", **kwargs)


def test_check_ratio_closed_ends():
    assert check_ratio(0.0, "ratio", closed_low=True) == 0.0
    assert check_ratio(1, "ratio", closed_high=True) == 1.0


def test_check_temperature():
    assert check_temperature(2) == 2.0
    with pytest.raises(ValueError, match="temperature must be positive, got 0.0"):
        check_temperature(0.0)


def test_check_labels():
    y = check_labels(np.array([0.0, 2.0, 1.0]), "y", n_classes=3, n=3)
    assert y.dtype == torch.int64 and y.tolist() == [0, 2, 1]
    cases = [
        (np.array([0, 3]), {"n_classes": 3}, ValueError, r"y must lie in \[0, 3\).*got maximum 3"),
        (np.array([-1, 0]), {}, ValueError, "non-negative class indices, got minimum -1"),
        (np.array([0.5, 1.0]), {}, ValueError, "integer class labels"),
        (np.array([[0, 1]]), {}, ValueError, "1-D array"),
        (np.array([0, 1]), {"n": 3}, ValueError, r"one label per sample \(3\), got 2"),
        (np.array([True, False]), {}, TypeError, "dtype bool"),
        (np.array([np.nan, 1.0]), {}, ValueError, "finite"),
        ("abc", {}, TypeError, "numpy array or a torch tensor, got str"),
        (["a", "b"], {}, TypeError, "must hold numbers"),
    ]
    for y, kwargs, exc, match in cases:
        with pytest.raises(exc, match=match):
            check_labels(y, "y", **kwargs)


def test_check_images_and_arrays():
    assert check_images(torch.zeros(2, 1, 4, 4), channels=1).shape == (2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"must have 3 or 4 dimension\(s\), got shape \(4, 4\)"):
        check_images(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="3 channel"):
        check_images(np.zeros((2, 1, 4, 4)), channels=3)
    with pytest.raises(ValueError, match="images must be finite, got 1 NaN"):
        check_images(np.array([[[np.nan, 0.0], [0.0, 0.0]]]))
    with pytest.raises(ValueError, match="at least 1 element"):
        check_array(np.zeros((0, 3)), "X")
    with pytest.raises(ValueError, match="ragged"):
        check_array([[1.0, 2.0], [3.0]], "X")
    with pytest.raises(TypeError, match="X must be a real numeric array, got dtype torch.bool"):
        check_array(torch.ones(2, dtype=torch.bool), "X")
    with pytest.raises(TypeError, match="numpy array or a torch tensor, got dict"):
        check_array({"a": 1}, "X")
    t = torch.ones(3)
    assert check_array(t, "X") is t


def test_check_tokens_and_probabilities():
    assert check_tokens(np.array([[1, 2, 3]]), vocab_size=4).shape == (1, 3)
    with pytest.raises(ValueError, match=r"input_ids must lie in \[0, 4\), got values in \[1, 9\]"):
        check_tokens(np.array([1, 9]), vocab_size=4)
    with pytest.raises(TypeError, match="integer token ids"):
        check_tokens(np.array([1.0]))
    with pytest.raises(ValueError, match="at least one token"):
        check_tokens(np.zeros((1, 0), dtype=np.int64))
    p = check_probability_vectors(np.array([[0.25, 0.75]]), "probs")
    assert p.dtype == torch.float64
    with pytest.raises(ValueError, match="probs must sum to 1"):
        check_probability_vectors(np.array([[0.5, 0.6]]), "probs")
    with pytest.raises(ValueError, match="non-negative probabilities"):
        check_probability_vectors(np.array([[-0.5, 1.5]]), "probs")
