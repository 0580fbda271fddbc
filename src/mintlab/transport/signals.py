"""Transport between signals: (partial) transport Lp distances and the Radon-CDT.

TLp (Thorpe et al. 2017) compares signals ``f: Omega -> R^k`` by transporting
their *graphs*: a sample ``(x_i, f(x_i))`` of one signal is matched with a
sample ``(y_j, g(y_j))`` of the other at cost ``|x_i - y_j|^p / s^p +
|f(x_i) - g(y_j)|^p``. PTLp (``ptlp``, Liu et al. 2023) allows samples to be
left unmatched at price ``lambda`` each (optimal *partial* transport of the
graphs), which makes the distance robust to local noise and missing parts;
sliced PTLp projects the graphs on random directions and solves every slice
with the exact 1D partial solver of ``sopt``.

The Radon cumulative distribution transform (``rcdt-ns``) represents a
non-negative image by the quantile functions of its Radon projections:
translating the image shifts the transform by ``<v, theta>`` on each angle.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import ot
import torch

from .._validation import ArrayIO, check_int, check_nonnegative, check_positive
from ..typing import Array, ArrayLike, SeedLike
from .exact import partial_wasserstein_lp
from .line import _check_p, partial_wasserstein_1d
from .sliced import _directions

__all__ = ["ptlp_distance", "tlp_distance", "sliced_ptlp_distance", "radon_cdt"]


# ----------------------------------------------------------------- graphs
def _graph(io, f, x, name, xname):
    ft = io.tensor(f, name, min_ndim=1)
    if ft.ndim == 1:
        ft = ft[:, None]
    if ft.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, channels), got {tuple(ft.shape)}")
    n = ft.shape[0]
    if x is None:
        xt = torch.linspace(0.0, 1.0, n, dtype=ft.dtype, device=ft.device)[:, None]
    else:
        xt = io.tensor(x, xname, min_ndim=1)
        xt = xt[:, None] if xt.ndim == 1 else xt
        if xt.ndim != 2 or xt.shape[0] != n:
            raise ValueError(f"{xname} must have shape ({n},) or ({n}, d) to match {name}, "
                             f"got {tuple(xt.shape)}")
    return xt, ft


def _graphs(f, g, x, y, spatial_scale):
    io = ArrayIO(f, g, x, y)
    xf, ff = _graph(io, f, x, "f", "x")
    yg, gg = _graph(io, g, y, "g", "y")
    if ff.shape[1] != gg.shape[1]:
        raise ValueError(f"g must have {ff.shape[1]} channel(s) like f, got {gg.shape[1]}")
    if xf.shape[1] != yg.shape[1]:
        raise ValueError(f"y must have points of dimension {xf.shape[1]} like x, got "
                         f"{yg.shape[1]}")
    s = check_positive(spatial_scale, "spatial_scale")
    return io, torch.cat([xf / s, ff], 1), torch.cat([yg / s, gg], 1)


def _lp_cost(A, B, p):
    """``sum_c |A_c - B_c|^p`` between all rows (the TLp ground cost), numpy."""
    A, B = A.detach().cpu().numpy(), B.detach().cpu().numpy()
    return (np.abs(A[:, None, :] - B[None, :, :]) ** p).sum(-1)


def ptlp_distance(f: ArrayLike, g: ArrayLike, penalty: float, x: ArrayLike | None = None,
                  y: ArrayLike | None = None, p: float = 2, spatial_scale: float = 1.0) -> Array:
    r"""Partial transport Lp distance between two signals (``ptlp``), solved exactly.

    .. math::
        PTL^p_\lambda(f, g)^p = \min_{\gamma} \sum_{ij} \gamma_{ij}
        \Big(\frac{|x_i - y_j|^p}{s^p} + |f(x_i) - g(y_j)|^p\Big)
        + \lambda\,(n - |\gamma|) + \lambda\,(m - |\gamma|)

    over partial matchings of the ``n`` and ``m`` samples (unit masses), as
    an LP (POT's network simplex with dummy points).

    Parameters
    ----------
    f : array of shape (n,) or (n, k)
        Signal values (``k`` channels).
    g : array of shape (m,) or (m, k)
    penalty : float
        ``lambda``: price of each unmatched sample.
    x, y : arrays of shape (n,) / (n, d) and (m,) / (m, d), optional
        Sample positions; default: ``n`` (``m``) evenly spaced points of [0, 1].
    p : float, default 2
    spatial_scale : float, default 1
        ``s``: larger values make moving along the domain cheaper.

    Returns
    -------
    float array of shape ()
        The distance (p-th root of the optimal value).

    Examples
    --------
    >>> import numpy as np
    >>> f = np.sin(np.linspace(0, 6, 30))
    >>> float(ptlp_distance(f, f, penalty=1.0))
    0.0
    """
    p = _check_p(p)
    lam = check_nonnegative(penalty, "penalty")
    io, F, G = _graphs(f, g, x, y, spatial_scale)
    res = partial_wasserstein_lp(np.ones(F.shape[0]), np.ones(G.shape[0]), _lp_cost(F, G, p),
                                 lam)
    return io.out(torch.as_tensor(float(res.cost) ** (1.0 / p), dtype=io.dtype,
                                  device=io.device))


def tlp_distance(f: ArrayLike, g: ArrayLike, x: ArrayLike | None = None,
                 y: ArrayLike | None = None, p: float = 2, spatial_scale: float = 1.0) -> Array:
    r"""Transport Lp distance (TLp, full transport of the graphs): the baseline of ``ptlp``.

    .. math:: TL^p(f, g)^p = \min_{\gamma \in \Pi(\mu, \nu)} \sum_{ij} \gamma_{ij}
       \Big(\frac{|x_i - y_j|^p}{s^p} + |f(x_i) - g(y_j)|^p\Big)

    with uniform probability weights on the samples. Arguments as in
    :func:`ptlp_distance`.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.zeros(4); g = np.ones(4)
    >>> float(tlp_distance(f, g))
    1.0
    """
    p = _check_p(p)
    io, F, G = _graphs(f, g, x, y, spatial_scale)
    cost = ot.emd2([], [], _lp_cost(F, G, p))
    return io.out(torch.as_tensor(float(cost) ** (1.0 / p), dtype=io.dtype, device=io.device))


def sliced_ptlp_distance(f: ArrayLike, g: ArrayLike, penalty: float, x: ArrayLike | None = None,
                         y: ArrayLike | None = None, p: float = 2, spatial_scale: float = 1.0,
                         n_projections: int = 50, projections: ArrayLike | None = None,
                         seed: SeedLike = None) -> Array:
    r"""Sliced partial transport Lp distance (``ptlp``).

    .. math::
        SPTL^p_\lambda(f, g)^p = \frac1L \sum_l OPT_\lambda\big(\theta_l \cdot
        (x_i / s, f(x_i))_i,\ \theta_l \cdot (y_j / s, g(y_j))_j\big)

    The graphs (in ``R^{d+k}``) are projected with one matmul and every slice
    is solved exactly by :func:`~mintlab.transport.partial_wasserstein_1d`.

    Parameters
    ----------
    f, g, penalty, x, y, p, spatial_scale
        As in :func:`ptlp_distance`.
    n_projections, projections, seed
        Directions in ``R^{d+k}`` (``projections`` of shape ``(d + k, L)``).

    Returns
    -------
    float array of shape ()
        The p-th root of the mean slice value.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.sin(np.linspace(0, 6, 30))
    >>> float(sliced_ptlp_distance(f, f, penalty=1.0, seed=0))
    0.0
    """
    p = _check_p(p)
    io, F, G = _graphs(f, g, x, y, spatial_scale)
    theta = _directions(io, F.shape[1], projections, n_projections, seed)
    res = partial_wasserstein_1d((F @ theta).T, (G @ theta).T, penalty, p=p)
    cost = torch.as_tensor(res.cost, dtype=io.dtype, device=io.device)
    return io.out(cost.mean().clamp_min(0).pow(1.0 / p))


# --------------------------------------------------------------- Radon-CDT
def _pixel_grid(h, w, dtype):
    """Pixel centres, origin at the image centre, unit = one pixel."""
    ys = torch.arange(h, dtype=dtype) - (h - 1) / 2
    xs = torch.arange(w, dtype=dtype) - (w - 1) / 2
    Y, X = torch.meshgrid(ys, xs, indexing="ij")
    return X.reshape(-1), -Y.reshape(-1)  # y axis pointing up


def radon_cdt(images: ArrayLike, angles: ArrayLike | None = None, n_levels: int | None = None,
              epsilon: float = 1e-8) -> Array:
    r"""Radon cumulative distribution transform of non-negative images, batched.

    For every angle ``theta``, the image is read as a density on the line:
    pixel ``i`` spreads its mass ``I_i + epsilon * max I`` uniformly over the
    unit interval centred at ``s_i = x_i cos(theta) + y_i sin(theta)``. The
    quantile function of that density (exact: its CDF is piecewise linear)
    is sampled at the levels ``t_j = (j + 1/2) / m`` (the CDT with a
    uniform reference):

    .. math:: \widehat{I}(\theta, t) = F_{\mathcal{R}I(\theta, \cdot)}^{-1}(t)

    Translating the image by ``v`` (inside the frame) adds exactly
    ``<v, (cos theta, sin theta)>`` to every value at angle ``theta``.

    Parameters
    ----------
    images : array of shape (n, H, W) or (H, W)
        Non-negative images.
    angles : array of shape (A,), optional
        Angles in degrees; default ``0, 4, ..., 176`` (45 angles).
    n_levels : int, optional
        ``m``, quantile levels per angle; default ``max(H, W)``.
    epsilon : float, default 1e-8
        Mass added to every pixel, relative to the image maximum, so that
        empty images and flat regions stay well defined.

    Returns
    -------
    array of shape (n, A, m) (or (A, m)), in pixel units.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((9, 9)); img[4, 6] = 1.0   # one bright pixel, 2 right of centre
    >>> radon_cdt(img, angles=[0.0, 90.0], n_levels=4, epsilon=0.0)
    array([[ 1.625,  1.875,  2.125,  2.375],
           [-0.375, -0.125,  0.125,  0.375]])
    """
    io = ArrayIO(images)
    imgs = io.tensor(images, "images", min_ndim=2)
    single = imgs.ndim == 2
    if single:
        imgs = imgs[None]
    if imgs.ndim != 3:
        raise ValueError(f"images must have shape (n, H, W) or (H, W), got {tuple(imgs.shape)}")
    if bool((imgs < 0).any()):
        raise ValueError(f"images must be non-negative, got minimum {float(imgs.min()):.4g}")
    eps = check_nonnegative(epsilon, "epsilon")
    n, h, w = imgs.shape
    if angles is None:
        ang = torch.as_tensor(np.arange(0.0, 180.0, 4.0), dtype=imgs.dtype)
    else:
        if isinstance(angles, numbers.Real) and not isinstance(angles, bool):
            raise ValueError(f"angles must be a non-empty 1D array of degrees, got the scalar "
                             f"{angles!r}")
        ang = io.tensor(angles, "angles", dtype=imgs.dtype).cpu()
        if ang.ndim != 1:
            raise ValueError(f"angles must be a non-empty 1D array of degrees, got shape "
                             f"{tuple(ang.shape)}")
    m = max(h, w) if n_levels is None else check_int(n_levels, "n_levels", minimum=1)
    X, Y = _pixel_grid(h, w, imgs.dtype)
    rad = ang * (math.pi / 180)
    s = torch.cos(rad)[:, None] * X + torch.sin(rad)[:, None] * Y  # (A, HW)
    A, P = s.shape
    # each pixel spreads its mass uniformly over [s - 1/2, s + 1/2]: the CDF is piecewise
    # linear with breakpoints at s +- 1/2, the same for every image, so sort them once
    bps = torch.cat([s - 0.5, s + 0.5], -1)  # (A, 2P)
    bps_sorted, order = torch.sort(bps, dim=-1)
    bps_sorted, order = bps_sorted.to(imgs.device), order.to(imgs.device)
    flat = imgs.reshape(n, 1, P)
    # scale each image by a power of two so its maximum lies in [0.5, 1): exact in floating
    # point (the quantiles do not change), and sums of huge intensities cannot overflow
    _, peak_exp = torch.frexp(flat.amax(-1, keepdim=True))
    flat = torch.ldexp(flat, -peak_exp)
    mass = flat + eps * flat.amax(-1, keepdim=True).clamp_min(1e-300)
    if bool((mass.sum(-1) <= 0).any()):
        raise ValueError("images must have positive total intensity (or set epsilon > 0)")
    slope_change = torch.cat([mass, -mass], -1).expand(n, A, 2 * P)
    slope = torch.cumsum(torch.gather(slope_change, -1, order.expand(n, -1, -1)), -1)
    # CDF at each sorted breakpoint: integral of the density up to it
    gaps = torch.diff(bps_sorted, dim=-1, prepend=bps_sorted[..., :1])
    cdf = torch.cumsum(torch.cat([torch.zeros_like(slope[..., :1]), slope[..., :-1]], -1)
                       * gaps, -1)
    cdf = cdf / cdf[..., -1:]
    m_levels = (torch.arange(m, dtype=imgs.dtype, device=imgs.device) + 0.5) / m
    k = torch.searchsorted(cdf.contiguous(), m_levels.expand(n, A, m).contiguous())
    k = k.clamp_(1, 2 * P - 1)
    c0, c1 = torch.gather(cdf, -1, k - 1), torch.gather(cdf, -1, k)
    sg = bps_sorted.expand(n, -1, -1)
    s0, s1 = torch.gather(sg, -1, k - 1), torch.gather(sg, -1, k)
    frac = ((m_levels - c0) / (c1 - c0).clamp_min(1e-300)).clamp(0, 1)
    out = s0 + frac * (s1 - s0)
    return io.out(out[0] if single else out)
