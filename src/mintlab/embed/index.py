"""SLOSH: nearest-set search with sliced Wasserstein embeddings and hashing (``slosh``).

Sets are embedded with :class:`~mintlab.embed.SlicedWassersteinEmbedding`
(Euclidean distance = sliced W2), and the vectors go into a FAISS index:
``"lsh"`` (random-hyperplane locality-sensitive hashing, Hamming search) or
``"flat"`` (exact L2 search). ``save``/``load`` write FAISS's own index
format plus JSON and ``.npy`` files (no pickle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np

from .._artifacts import atomic_path, check_file, load_npy, read_json, save_npy, write_json
from .._validation import check_choice, check_int
from ..errors import ArtifactError, ArtifactNotFoundError
from ..typing import SeedLike
from ._checks import check_bool, check_seed
from ._measures import SetsLike
from .sliced import SlicedWassersteinEmbedding

__all__ = ["SLOSH"]


def _faiss():
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - faiss is in the `scale` extra
        raise ImportError("SLOSH needs faiss: pip install 'mintlab[scale]' (faiss-cpu)") from err
    return faiss


#: Entries every saved index configuration holds.
CONFIG_KEYS = ("n_projections", "n_quantiles", "index", "n_bits", "seed", "dim")


def save_embedding(embedding: SlicedWassersteinEmbedding, d: Path) -> None:
    """Write a fitted sliced Wasserstein embedding's arrays to the directory ``d`` (.npy)."""
    save_npy(embedding.projections_, d / "projections.npy")
    save_npy(embedding.reference_quantiles_, d / "reference_quantiles.npy")


def read_config(d: Path, what: str, fmt: str | None = None) -> dict[str, Any]:
    """The ``config.json`` of a saved index, checked: keys, types and (optionally) format."""
    if not d.exists():
        raise ArtifactNotFoundError(d, f"no such {what} folder")
    if not d.is_dir():
        raise ArtifactError(d, f"expected a {what} folder, found a file")
    path = d / "config.json"
    cfg = read_json(path, what=f"{what} configuration", required=CONFIG_KEYS)
    if fmt is not None and cfg.get("format") != fmt:
        raise ArtifactError(path, f"is not a saved {what} (format {cfg.get('format')!r}, "
                                  f"expected {fmt!r})")
    for key in ("n_projections", "n_quantiles", "n_bits", "dim"):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ArtifactError(path, f"entry {key!r} must be a positive integer, got {v!r}")
    if cfg["index"] not in ("lsh", "flat"):
        raise ArtifactError(path, f"entry 'index' must be 'lsh' or 'flat', got {cfg['index']!r}")
    if cfg["seed"] is not None and (isinstance(cfg["seed"], bool)
                                    or not isinstance(cfg["seed"], int)):
        raise ArtifactError(path, f"entry 'seed' must be an integer or null, got {cfg['seed']!r}")
    return cfg


def load_embedding(d: Path, cfg: dict[str, Any]) -> SlicedWassersteinEmbedding:
    """The embedding written by :func:`save_embedding`, with ``cfg``'s hyper-parameters."""
    L, M, dim = int(cfg["n_projections"]), int(cfg["n_quantiles"]), int(cfg["dim"])
    emb = SlicedWassersteinEmbedding(n_projections=L, n_quantiles=M, seed=cfg["seed"])
    proj = load_npy(d / "projections.npy", what="slicing directions file")
    ref = load_npy(d / "reference_quantiles.npy", what="reference quantiles file")
    for path, arr, shape in ((d / "projections.npy", proj, (dim, L)),
                             (d / "reference_quantiles.npy", ref, (L, M))):
        if arr.shape != shape or arr.dtype.kind != "f":
            raise ArtifactError(path, f"holds a {arr.dtype} array of shape {arr.shape}, but "
                                      f"config.json says {shape} (dim={dim}, n_projections={L}, "
                                      f"n_quantiles={M}): the files do not belong together")
        if not np.isfinite(arr).all():
            raise ArtifactError(path, "holds NaN or infinite values: the file is corrupted")
    emb.projections_ = proj
    emb.reference_quantiles_ = ref
    emb.n_quantiles_ = M
    emb.dim_ = dim
    return emb


def read_index(path: Path, dim: int, n_bits: int, kind: str) -> Any:
    """A FAISS index file, checked against the saved configuration."""
    p = check_file(path, "FAISS index file")
    try:
        index = _faiss().read_index(str(p))
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ArtifactError(p, f"is not a readable FAISS index (truncated or corrupted): "
                               f"{first}") from None
    expected_type = "IndexFlatL2" if kind == "flat" else "IndexLSH"
    want = (dim, None if kind == "flat" else n_bits)
    got = (int(index.d), None if kind == "flat" else int(getattr(index, "nbits", -1)))
    if type(index).__name__ != expected_type or got != want:
        raise ArtifactError(p, f"holds a {type(index).__name__} of (dimension, bits) {got}, but "
                               f"config.json describes a {expected_type} of {want}: the files "
                               "do not belong together")
    return index


def write_index(index: Any, path: Path) -> None:
    """Write a FAISS index atomically."""
    with atomic_path(path) as tmp:
        _faiss().write_index(index, str(tmp))


class SLOSH:
    """A nearest-set index: sliced Wasserstein embeddings in a FAISS index.

    Parameters
    ----------
    n_projections, n_quantiles : int
        Of the sliced Wasserstein embedding (vector length ``L * M``).
    index : {"lsh", "flat"}, default "lsh"
        ``"lsh"``: ``n_bits`` random-hyperplane hash bits per set, Hamming
        search (fast, approximate). ``"flat"``: exact Euclidean search, i.e.
        exact nearest sets for the Monte Carlo sliced W2.
    n_bits : int, default 512
    seed : int or None
    progress : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> corpus = [rng.normal(loc=i, size=(30, 2)) for i in range(20)]
    >>> idx = SLOSH(n_projections=16, n_quantiles=16, index="flat", seed=0).fit(corpus)
    >>> dist, ids = idx.search([corpus[7] + 0.01], k=3)
    >>> int(ids[0, 0])
    7
    """

    def __init__(self, n_projections: int = 64, n_quantiles: int = 32, index: str = "lsh",
                 n_bits: int = 512, seed: SeedLike = None, progress: bool = False) -> None:
        self.n_projections = check_int(n_projections, "n_projections", minimum=1)
        self.n_quantiles = check_int(n_quantiles, "n_quantiles", minimum=1)
        self.index = check_choice(index, "index", ("lsh", "flat"))
        self.n_bits = check_int(n_bits, "n_bits", minimum=1)
        self.seed = check_seed(seed, torch_ok=False, numpy_ok=False)
        self.progress = check_bool(progress, "progress")
        self.embedding_: SlicedWassersteinEmbedding | None = None
        self.index_: Any = None

    # ------------------------------------------------------------------ build
    def fit(self, sets: SetsLike, *, add: bool = True) -> Self:
        """Fit the embedding on ``sets`` (and add them to the index unless ``add=False``)."""
        self.embedding_ = SlicedWassersteinEmbedding(
            n_projections=self.n_projections, n_quantiles=self.n_quantiles, seed=self.seed,
            progress=self.progress)._fit(sets, "sets")
        D = self.embedding_.projections_.shape[1] * self.embedding_.n_quantiles_
        faiss = _faiss()
        if self.index == "flat":
            self.index_ = faiss.IndexFlatL2(D)
        else:
            self.index_ = faiss.IndexLSH(D, self.n_bits, True)  # random rotation first
            self.index_.train(np.ascontiguousarray(self._vectors(sets, "sets")))
        if add:
            self.add(sets)
        return self

    def _check_fitted(self):
        if self.index_ is None:
            raise RuntimeError("this SLOSH index is not fitted yet: call fit(sets) first")

    def _vectors(self, sets, name="sets"):
        assert self.embedding_ is not None
        E = self.embedding_._transform(sets, name)
        E = E.detach().cpu().numpy() if hasattr(E, "detach") else np.asarray(E)
        return np.ascontiguousarray(E, dtype=np.float32)

    def add(self, sets: SetsLike) -> Self:
        """Add sets to the index; their ids continue from the current size."""
        self._check_fitted()
        self.index_.add(self._vectors(sets, "sets"))
        return self

    @property
    def n_sets(self) -> int:
        """Number of sets in the index."""
        return 0 if self.index_ is None else int(self.index_.ntotal)

    # ----------------------------------------------------------------- search
    def search(self, query_sets: SetsLike, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest indexed sets of each query.

        Returns
        -------
        distances : ndarray of shape (n_queries, k)
            Sliced W2 distances (``"flat"``) or Hamming distances (``"lsh"``).
        ids : ndarray of shape (n_queries, k)
            Ids of the nearest sets (``-1`` where fewer than ``k`` exist).
        """
        self._check_fitted()
        k = check_int(k, "k", minimum=1)
        D, ids = self.index_.search(self._vectors(query_sets, "query_sets"), k)
        if self.index == "flat":
            D = np.sqrt(np.maximum(D, 0.0))
        return D.astype(np.float64), ids.astype(np.int64)

    # -------------------------------------------------------------- save/load
    def save(self, path: str | Path) -> None:
        """Write the index to the directory ``path`` (FAISS index + JSON + .npy)."""
        self._check_fitted()
        assert self.embedding_ is not None  # fitted
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        write_index(self.index_, d / "index.faiss")
        save_embedding(self.embedding_, d)
        cfg = {"format": "mintlab.slosh/1", "n_projections": self.n_projections,
               "n_quantiles": self.n_quantiles, "index": self.index, "n_bits": self.n_bits,
               "seed": None if self.seed is None else int(self.seed),
               "dim": int(self.embedding_.dim_)}
        write_json(cfg, d / "config.json")  # last: a complete config marks a complete save

    @classmethod
    def load(cls, path: str | Path) -> SLOSH:
        """Read an index written by :meth:`save`.

        Raises :class:`mintlab.ArtifactError` naming the file when one is missing, empty,
        truncated, corrupted or does not match the others; a missing folder or file raises
        :class:`mintlab.errors.ArtifactNotFoundError`, also a ``FileNotFoundError``.
        """
        d = Path(path)
        cfg = read_config(d, "SLOSH index")
        if cfg.get("format", "mintlab.slosh/1") != "mintlab.slosh/1":
            raise ArtifactError(d / "config.json", f"is not a saved SLOSH index (format "
                                                   f"{cfg.get('format')!r})")
        obj = cls(cfg["n_projections"], cfg["n_quantiles"], cfg["index"], cfg["n_bits"],
                  cfg["seed"])
        obj.embedding_ = load_embedding(d, cfg)
        obj.index_ = read_index(d / "index.faiss", cfg["n_projections"] * cfg["n_quantiles"],
                                cfg["n_bits"], cfg["index"])
        return obj
