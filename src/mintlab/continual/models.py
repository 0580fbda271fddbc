"""Networks for continual learning: MLPs with task heads, k-winner and heterogeneous dropout.

``KWinner`` keeps the ``k`` largest activations of each sample and zeroes the
rest (``sparse-hetero-dropout``); with ``hetero_dropout = rho > 0`` it also
drops, while training, each unit ``j`` with probability
``1 - exp(-rho * a_j / max_i a_i)``, where ``a_j`` counts how often unit ``j``
won on earlier tasks. Units that old tasks rely on are therefore kept out of
the new task's winners, and tasks end up using different units. A dropped
unit cannot win; the number of winners stays ``k``, so no rescaling is needed
at test time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from .._random import seeded_global_rng
from .._validation import check_int, check_nonnegative, check_ratio
from ._checks import check_bool

__all__ = ["KWinner", "ContinualMLP", "ContinualConvNet", "forward_task"]


class KWinner(nn.Module):
    """k-winners-take-all activation with optional heterogeneous dropout.

    Parameters
    ----------
    width : int
        Number of units of the layer.
    density : float
        Fraction of units kept per sample, ``k = max(1, round(density * width))``.
    hetero_dropout : float
        ``rho`` of the heterogeneous dropout (0 disables it).

    Shapes: ``(batch, width) -> (batch, width)``.

    Examples
    --------
    >>> layer = KWinner(6, density=0.5)
    >>> out = layer(torch.tensor([[3., 0.1, 2., 0.5, 4., 1.]]))
    >>> out
    tensor([[3., 0., 2., 0., 4., 0.]])
    """

    activation_counts: torch.Tensor

    def __init__(self, width: int, density: float = 0.1, hetero_dropout: float = 0.0) -> None:
        super().__init__()
        self.width = check_int(width, "width", minimum=1)
        density = check_ratio(density, "density", closed_high=True)
        self.density = density
        self.k = max(1, int(round(density * self.width)))
        self.hetero_dropout = check_nonnegative(hetero_dropout, "hetero_dropout")
        self.register_buffer("activation_counts", torch.zeros(self.width))
        self.generator: torch.Generator | None = None

    def keep_probability(self) -> torch.Tensor:
        """Training-time keep probability of every unit, ``exp(-rho a_j / max a)``."""
        c = self.activation_counts
        m = c.max()
        if self.hetero_dropout == 0.0 or m <= 0:
            return torch.ones_like(c)
        return torch.exp(-self.hetero_dropout * c / m)

    def winners(self, x: torch.Tensor) -> torch.Tensor:
        """Boolean mask of the winning units of every row (dropout applied when training)."""
        score = x
        if self.training and self.hetero_dropout > 0 and self.activation_counts.max() > 0:
            keep = self.keep_probability().to(x.dtype).expand_as(x)
            if self.generator is not None and self.generator.device == x.device:
                drop = torch.rand(x.shape, generator=self.generator, device=x.device) >= keep
            else:
                drop = torch.rand_like(x) >= keep
            score = x.masked_fill(drop, float("-inf"))
        idx = score.topk(self.k, dim=-1).indices
        return torch.zeros_like(x, dtype=torch.bool).scatter_(-1, idx, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.width:
            raise ValueError(f"KWinner expects inputs with {self.width} features, got "
                             f"{tuple(x.shape)}")
        return x * self.winners(x).to(x.dtype)

    @torch.no_grad()
    def count(self, x: torch.Tensor) -> None:
        """Add how often each unit wins on the pre-activations ``x`` (eval mode, no dropout)."""
        was = self.training
        self.eval()
        self.activation_counts += self.winners(x).sum(0).to(self.activation_counts.dtype)
        self.train(was)

    def extra_repr(self) -> str:
        return f"width={self.width}, k={self.k}, hetero_dropout={self.hetero_dropout}"


class ContinualMLP(nn.Module):
    """An MLP trunk shared by all tasks plus one linear head per task (or one shared head).

    Parameters
    ----------
    in_features : int
    hidden : sequence of int
        Widths of the hidden layers.
    head_sizes : sequence of int
        Output width of each head: one entry = a single shared head
        (domain-incremental); one per task = task-incremental heads.
    k_winner_density : float or None
        Use :class:`KWinner` activations of this density instead of ReLU.
    hetero_dropout : float
        ``rho`` of the heterogeneous dropout (needs ``k_winner_density``).
    bias : bool
    seed : int or None
        Initialisation seed (``None``: PyTorch's global generator).

    ``forward(x, task_id=None)``: ``(batch, in_features) -> (batch, head_sizes[task_id])``.

    Examples
    --------
    >>> net = ContinualMLP(64, [32], head_sizes=[2, 2, 2], seed=0)
    >>> net(torch.zeros(4, 64), task_id=1).shape
    torch.Size([4, 2])
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (100, 100),
                 head_sizes: Sequence[int] = (10,), *, k_winner_density: float | None = None,
                 hetero_dropout: float = 0.0, bias: bool = True, seed: int | None = 0) -> None:
        super().__init__()
        in_features = check_int(in_features, "in_features", minimum=1)
        hidden = [check_int(h, "hidden[...]", minimum=1) for h in hidden]
        head_sizes = [check_int(h, "head_sizes[...]", minimum=1) for h in head_sizes]
        if not head_sizes:
            raise ValueError("head_sizes must name at least one head")
        if k_winner_density is not None:
            k_winner_density = check_ratio(k_winner_density, "k_winner_density",
                                           closed_high=True)
        hetero_dropout = check_nonnegative(hetero_dropout, "hetero_dropout")
        bias = check_bool(bias, "bias")
        if hetero_dropout and k_winner_density is None:
            raise ValueError("hetero_dropout needs k-winner activations: set k_winner_density")
        scope = (contextlib.nullcontext() if seed is None
                 else seeded_global_rng(check_int(seed, "seed", minimum=0)))
        with scope:
            layers: list[nn.Module] = []
            width = in_features
            for h in hidden:
                layers.append(nn.Linear(width, h, bias=bias))
                layers.append(KWinner(h, k_winner_density, hetero_dropout)
                              if k_winner_density is not None else nn.ReLU())
                width = h
            self.trunk = nn.Sequential(*layers)
            self.heads = nn.ModuleList(nn.Linear(width, s, bias=bias) for s in head_sizes)
        self.in_features = in_features
        self.multi_head = len(head_sizes) > 1

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor, task_id: int | None = None) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (batch, {self.in_features}), got "
                             f"{tuple(x.shape)}")
        if self.multi_head:
            if task_id is None:
                raise ValueError("this model has one head per task: pass task_id")
            if not 0 <= int(task_id) < len(self.heads):
                raise ValueError(f"task_id must lie in [0, {len(self.heads)}), got {task_id}")
            head = self.heads[int(task_id)]
        else:
            head = self.heads[0]
        return head(self.trunk(x))

    def k_winners(self) -> list[KWinner]:
        return [m for m in self.trunk if isinstance(m, KWinner)]

    @torch.no_grad()
    def count_winners(self, x: torch.Tensor) -> None:
        """Add the winner counts of every :class:`KWinner` layer on the inputs ``x``."""
        was = self.training
        self.eval()
        h = x
        for m in self.trunk:
            if isinstance(m, KWinner):
                m.count(h)
            h = m(h)
        self.train(was)


class ContinualConvNet(nn.Module):
    """A small ConvNet trunk shared by all tasks plus one linear head per task (or one shared head).

    Inputs are flattened images ``(batch, channels * side * side)``, as the
    tasks of :func:`~mintlab.continual.benchmarks.image_stream` hold them;
    the network reshapes them to ``(batch, channels, side, side)``. Each
    block is a 3x3 convolution (padding 1), ReLU and 2x2 max-pooling; a
    hidden linear layer with ReLU follows, then the heads. Every layer has
    a bias (zero at initialisation, weights He-normal), and no normalisation
    layer is used, so gradient projection
    (:class:`~mintlab.continual.strategies.GPM`, which protects convolutions
    as well as linear layers) and the Fisher penalty see all parameters.

    Parameters
    ----------
    in_shape : tuple of int
        ``(channels, side, side)`` of the images, ``(1, 28, 28)`` for
        Fashion-MNIST and MNIST.
    channels : sequence of int
        Output channels of each convolution block.
    hidden : int
        Width of the hidden linear layer.
    head_sizes : sequence of int
        Output width of each head: one entry = a single shared head; one per
        task = task-incremental heads.
    seed : int or None
        Initialisation seed (``None``: PyTorch's global generator).

    Examples
    --------
    >>> net = ContinualConvNet((1, 28, 28), channels=(8, 16), hidden=32, head_sizes=[2] * 5)
    >>> net(torch.zeros(3, 784), task_id=4).shape
    torch.Size([3, 2])
    >>> sum(p.numel() for p in net.parameters())
    26698
    """

    def __init__(self, in_shape: Sequence[int] = (1, 28, 28), channels: Sequence[int] = (16, 32),
                 hidden: int = 128, head_sizes: Sequence[int] = (10,), *,
                 seed: int | None = 0) -> None:
        super().__init__()
        if isinstance(in_shape, str) or not isinstance(in_shape, Sequence) or len(in_shape) != 3:
            raise ValueError(f"in_shape must be (channels, height, width), got {in_shape!r}")
        shape = tuple(check_int(v, "in_shape[...]", minimum=1) for v in in_shape)
        chans = [check_int(c, "channels[...]", minimum=1) for c in channels]
        if not chans:
            raise ValueError("channels must name at least one convolution block")
        hidden = check_int(hidden, "hidden", minimum=1)
        head_sizes = [check_int(h, "head_sizes[...]", minimum=1) for h in head_sizes]
        if not head_sizes:
            raise ValueError("head_sizes must name at least one head")
        c, h, w = shape
        if min(h, w) < 2 ** len(chans):
            raise ValueError(f"in_shape {shape} is too small for {len(chans)} pooling blocks "
                             f"(each halves the side): need sides >= {2 ** len(chans)}")
        scope = (contextlib.nullcontext() if seed is None
                 else seeded_global_rng(check_int(seed, "seed", minimum=0)))
        with scope:
            layers: list[nn.Module] = []
            for out in chans:
                layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
                c, h, w = out, h // 2, w // 2
            self.conv = nn.Sequential(*layers)
            self.fc = nn.Linear(c * h * w, hidden)
            self.heads = nn.ModuleList(nn.Linear(hidden, s) for s in head_sizes)
            for m in [*self.conv, self.fc]:  # He initialisation: ReLU layers keep their scale
                if isinstance(m, nn.Conv2d | nn.Linear):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(cast(torch.Tensor, m.bias))
        self.in_shape = shape
        self.in_features = shape[0] * shape[1] * shape[2]
        self.multi_head = len(head_sizes) > 1

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden representation ``(batch, hidden)`` the heads read."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (batch, {self.in_features}) (flattened "
                             f"{self.in_shape} images), got {tuple(x.shape)}")
        z = self.conv(x.reshape(len(x), *self.in_shape))
        return torch.relu(self.fc(z.flatten(1)))

    def forward(self, x: torch.Tensor, task_id: int | None = None) -> torch.Tensor:
        z = self.features(x)
        if self.multi_head:
            if task_id is None:
                raise ValueError("this model has one head per task: pass task_id")
            if not 0 <= int(task_id) < len(self.heads):
                raise ValueError(f"task_id must lie in [0, {len(self.heads)}), got {task_id}")
            return self.heads[int(task_id)](z)
        return self.heads[0](z)


def forward_task(model: nn.Module, x: torch.Tensor, task_id: int) -> torch.Tensor:
    """Call ``model(x, task_id)`` for task-aware models, ``model(x)`` otherwise."""
    if getattr(model, "multi_head", False):
        return model(x, task_id)
    return model(x)
