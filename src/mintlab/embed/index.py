"""SLOSH: nearest-set search with sliced Wasserstein embeddings and hashing (``slosh``).

Sets are embedded with :class:`~mintlab.embed.SlicedWassersteinEmbedding`
(Euclidean distance = sliced W2), and the vectors go into a FAISS index:
``"lsh"`` (random-hyperplane locality-sensitive hashing, Hamming search) or
``"flat"`` (exact L2 search). ``save``/``load`` write FAISS's own index
format plus JSON and ``.npy`` files (no pickle).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._validation import check_choice, check_int
from .sliced import SlicedWassersteinEmbedding

__all__ = ["SLOSH"]


def _faiss():
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - faiss is in the `scale` extra
        raise ImportError("SLOSH needs faiss: pip install 'mintlab[scale]' (faiss-cpu)") from err
    return faiss


def save_embedding(embedding, d: Path) -> None:
    """Write a fitted sliced Wasserstein embedding's arrays to the directory ``d`` (.npy)."""
    np.save(d / "projections.npy", embedding.projections_, allow_pickle=False)
    np.save(d / "reference_quantiles.npy", embedding.reference_quantiles_, allow_pickle=False)


def load_embedding(d: Path, cfg: dict) -> SlicedWassersteinEmbedding:
    """The embedding written by :func:`save_embedding`, with ``cfg``'s hyper-parameters."""
    emb = SlicedWassersteinEmbedding(n_projections=cfg["n_projections"],
                                     n_quantiles=cfg["n_quantiles"], seed=cfg["seed"])
    emb.projections_ = np.load(d / "projections.npy", allow_pickle=False)
    emb.reference_quantiles_ = np.load(d / "reference_quantiles.npy", allow_pickle=False)
    emb.n_quantiles_ = int(cfg["n_quantiles"])
    emb.dim_ = int(cfg["dim"])
    return emb


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

    def __init__(self, n_projections=64, n_quantiles=32, index="lsh", n_bits=512, seed=None,
                 progress=False):
        self.n_projections = n_projections
        self.n_quantiles = n_quantiles
        self.index = check_choice(index, "index", ("lsh", "flat"))
        self.n_bits = check_int(n_bits, "n_bits", minimum=1)
        self.seed = seed
        self.progress = progress
        self.embedding_ = None
        self.index_ = None

    # ------------------------------------------------------------------ build
    def fit(self, sets, *, add=True):
        """Fit the embedding on ``sets`` (and add them to the index unless ``add=False``)."""
        self.embedding_ = SlicedWassersteinEmbedding(
            n_projections=self.n_projections, n_quantiles=self.n_quantiles, seed=self.seed,
            progress=self.progress).fit(sets)
        D = self.embedding_.projections_.shape[1] * self.embedding_.n_quantiles_
        faiss = _faiss()
        if self.index == "flat":
            self.index_ = faiss.IndexFlatL2(D)
        else:
            self.index_ = faiss.IndexLSH(D, self.n_bits, True)  # random rotation first
            self.index_.train(np.ascontiguousarray(self._vectors(sets)))
        if add:
            self.add(sets)
        return self

    def _check_fitted(self):
        if self.index_ is None:
            raise RuntimeError("this SLOSH index is not fitted yet: call fit(sets) first")

    def _vectors(self, sets):
        E = self.embedding_.transform(sets)
        E = E.detach().cpu().numpy() if hasattr(E, "detach") else np.asarray(E)
        return np.ascontiguousarray(E, dtype=np.float32)

    def add(self, sets):
        """Add sets to the index; their ids continue from the current size."""
        self._check_fitted()
        self.index_.add(self._vectors(sets))
        return self

    @property
    def n_sets(self) -> int:
        """Number of sets in the index."""
        return 0 if self.index_ is None else int(self.index_.ntotal)

    # ----------------------------------------------------------------- search
    def search(self, query_sets, k=10):
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
        D, ids = self.index_.search(self._vectors(query_sets), k)
        if self.index == "flat":
            D = np.sqrt(np.maximum(D, 0.0))
        return D.astype(np.float64), ids.astype(np.int64)

    # -------------------------------------------------------------- save/load
    def save(self, path):
        """Write the index to the directory ``path`` (FAISS index + JSON + .npy)."""
        self._check_fitted()
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        _faiss().write_index(self.index_, str(d / "index.faiss"))
        save_embedding(self.embedding_, d)
        cfg = {"n_projections": self.n_projections, "n_quantiles": self.n_quantiles,
               "index": self.index, "n_bits": self.n_bits, "seed": self.seed,
               "dim": int(self.embedding_.dim_)}
        (d / "config.json").write_text(json.dumps(cfg, indent=2))

    @classmethod
    def load(cls, path):
        """Read an index written by :meth:`save`."""
        d = Path(path)
        cfg = json.loads((d / "config.json").read_text())
        obj = cls(cfg["n_projections"], cfg["n_quantiles"], cfg["index"], cfg["n_bits"],
                  cfg["seed"])
        obj.embedding_ = load_embedding(d, cfg)
        obj.index_ = _faiss().read_index(str(d / "index.faiss"))
        return obj
