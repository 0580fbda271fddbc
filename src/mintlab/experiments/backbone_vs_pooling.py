"""``backbone-vs-pooling``: how much the global pooling matters next to the backbone.

Point-cloud MNIST: every digit of the MNIST sample that mintlab ships
becomes a set of points drawn by intensity
(:func:`mintlab.datasets.sample_image_points`: 20 points in quick mode, 24
in full mode; coordinates centred and scaled). Each seed draws its own
training set (16 digits per class in quick mode; 16 and 64 per class in
full mode), a disjoint validation set (10 per class, used only to pick the
better member of a pooling pair), its test digits from the official test
split (300 quick, 500 full; the same for every training size) and the
sampling of the points.

A grid of backbones x backbone sizes x poolings is trained with one recipe
(Adam, lr 3e-3, batch 32, 22 epochs in quick mode and 25 in full mode,
initialisation and batch order drawn from the seed): the simple backbone
is the paper's MLP (a shared per-point MLP, PointNet without transform
nets), the complex one a Set Transformer (SAB blocks). Sizes are a small
and a large backbone (width x2 and one more layer: MLP 16x2 and 32x3, Set
Transformer 16x1 and 32x2). Poolings: simple (mean, max) and complex (sliced-Wasserstein
embedding: transport-based; PMA with 2 seeds: attention-based, the
abstract's two examples), and concatenated pairs (quick: max+swe on the
MLP; full: max+swe and max+pma on both backbones). Every model is scored
on the same test digits, so per-digit correctness is paired across the
whole grid. Findings 1, 3 and 4 are judged at the largest training size of
the run, finding 2 at the smallest.

The paper's four findings and how each is judged (margins 0: the findings
say "boost", "benefit", "more significant", "improve"; the whole 95%
interval must clear 0):

1. ``complex_pooling_helps_simple_backbones``: per test digit, the gain of
   the complex poolings over the simple ones (mean correctness over the
   complex poolings minus mean over the simple ones, averaged over the two
   sizes) is positive for the MLP backbone, and larger for it than for the
   Set Transformer (two comparisons; bootstrap over seeds and digits).
2. ``complex_backbones_gain_with_little_data``: with 16 training digits
   per class the same gain is positive for the Set Transformer.
3. ``pooling_matters_more_than_width``: like for like, the mean absolute
   accuracy difference between two single poolings (all pairs, same
   backbone and size) exceeds the mean absolute difference between the two
   backbone sizes (same backbone and pooling); both are differences between
   two independently trained models, so they share one noise floor. One
   value each per seed, paired t interval over seeds.
4. ``pooling_pairs_help``: per test digit, a concatenated pair of poolings
   against the better of its two members in the same (backbone, size) cell,
   the better member chosen on the validation digits (quick mode: pairs on
   the MLP backbone only; full mode: on both).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from mintlab.nn import make_pooling

from ._core import Experiment, Result, Settings
from ._sets_common import fit_predict_sets, image_point_cloud_split, one_thread, set_backbone
from .registry import register

CLAIMS = {
    "complex_pooling_helps_simple_backbones": "Complex pooling methods, such as transport-based "
                                              "or attention-based poolings, can significantly "
                                              "boost the performance of simple backbones, but "
                                              "the benefits diminish for more complex "
                                              "backbones.",
    "complex_backbones_gain_with_little_data": "Even complex backbones can benefit from pooling "
                                               "layers in low data scenarios.",
    "pooling_matters_more_than_width": "The choice of pooling layers can have a more "
                                       "significant impact on the model's performance than "
                                       "adjusting the width and depth of the backbone.",
    "pooling_pairs_help": "Pairwise combination of pooling layers can significantly improve the "
                          "performance of a fixed backbone.",
}

SIMPLE = ("mean", "max")  # the simple poolings, in every run
BACKBONES = ("pointnet", "settransformer")  # the simple (MLP) and the complex backbone
N_CLASSES = 10


@dataclass(frozen=True, kw_only=True)
class BackboneVsPoolingSettings(Settings):
    mlp_sizes: tuple[tuple[int, int], tuple[int, int]]  # (width, depth) small, large: MLP
    transformer_sizes: tuple[tuple[int, int], tuple[int, int]]  # (width, SAB blocks)
    complex_poolings: tuple[str, ...]  # the "complex" poolings (transport, attention, moments)
    pairs: tuple[str, ...]  # concatenated pairs of poolings
    pair_backbones: tuple[str, ...]  # the backbones the pairs are trained on
    n_points: int  # points per digit
    train_sizes: tuple[int, ...]  # training digits per class: first = low data (finding 2),
    # last = the size findings 1, 3 and 4 are judged at
    val_per_class: int  # validation digits per class (pick a pair's better member)
    n_test: int  # test digits (one item each)
    epochs: int  # training epochs of every cell


QUICK = BackboneVsPoolingSettings(seeds=3, mlp_sizes=((16, 2), (32, 3)),
                                  transformer_sizes=((16, 1), (32, 2)),
                                  complex_poolings=("swe", "pma"), pairs=("max+swe",),
                                  pair_backbones=("pointnet",),
                                  n_points=20, train_sizes=(16,), val_per_class=10, n_test=300,
                                  epochs=22)
FULL = BackboneVsPoolingSettings(seeds=3, mlp_sizes=((16, 2), (32, 3)),
                                 transformer_sizes=((16, 1), (32, 2)),
                                 complex_poolings=("swe", "pma"), pairs=("max+swe", "max+pma"),
                                 pair_backbones=BACKBONES, n_points=24, train_sizes=(16, 64),
                                 val_per_class=10, n_test=500, epochs=25)
EXPECTED = "not reproduced at this scale"


def _pooling(name, width, seed):
    kw = {"swe": {"n_slices": 16, "n_reference": 16, "seed": seed},
          "cswe": {"n_slices": 4, "n_reference": 16, "seed": seed},
          "emperor": {"n_slices": 16, "seed": seed}, "pma": {"n_seeds": 2}}
    if "+" in name:
        return make_pooling(name, width, **{p: kw.get(p, {}) for p in name.split("+")})
    return make_pooling(name, width, **kw.get(name, {}))


def run(settings: BackboneVsPoolingSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _grid(settings, n_train, seed):
    """Per-test-digit correctness and validation accuracy of every (backbone, size, pooling)."""
    complex_, pairs = settings.complex_poolings, settings.pairs
    sizes = {"pointnet": settings.mlp_sizes, "settransformer": settings.transformer_sizes}
    train, val, test = image_point_cloud_split(n_train, settings.val_per_class, settings.n_test,
                                               settings.n_points, seed=seed)
    correct, val_acc, seconds = {}, {}, 0.0  # (backbone, size index, pooling) -> ...
    for bb, s, pool in itertools.product(BACKBONES, (0, 1), SIMPLE + complex_ + pairs):
        if pool in pairs and bb not in settings.pair_backbones:
            continue
        width, depth = sizes[bb][s]
        (c_val, c_test), sec = fit_predict_sets(
            set_backbone(bb, 2, width, depth), _pooling(pool, width, seed), train,
            (val, test), n_classes=N_CLASSES, epochs=settings.epochs, seed=seed)
        correct[(bb, s, pool)], val_acc[(bb, s, pool)] = c_test, float(c_val.mean())
        seconds += sec
    return correct, val_acc, seconds


def _run(settings: BackboneVsPoolingSettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    complex_, pairs = settings.complex_poolings, settings.pairs
    singles = SIMPLE + complex_
    poolings = singles + pairs
    sizes = {"pointnet": settings.mlp_sizes, "settransformer": settings.transformer_sizes}
    grids = {n: _grid(settings, n, seed) for n in settings.train_sizes}
    low, main = settings.train_sizes[0], settings.train_sizes[-1]

    def gain(bb, n_train):
        """Per test digit: mean correctness over complex poolings minus over simple ones."""
        c = grids[n_train][0]
        return np.mean([np.mean([c[(bb, s, p)] for p in complex_], 0)
                        - np.mean([c[(bb, s, p)] for p in SIMPLE], 0)
                        for s in (0, 1)], 0)

    for n_train, (correct, _, seconds) in grids.items():
        for (bb, s, pool), c in correct.items():
            w, d = sizes[bb][s]
            res.metrics[f"n{n_train}_acc_{bb}_w{w}d{d}_{pool}"] = float(c.mean())
        res.metrics[f"n{n_train}_train_cpu_seconds"] = seconds
        for bb in BACKBONES:
            res.metrics[f"n{n_train}_complex_pooling_gain_{bb}"] = float(gain(bb, n_train).mean())
    correct, val_acc, _ = grids[main]
    acc = {k: float(v.mean()) for k, v in correct.items()}

    g_simple, g_complex = gain(BACKBONES[0], main), gain(BACKBONES[1], main)
    g_low = gain(BACKBONES[1], low)
    res.compare("complex_pooling_helps_simple_backbone", g_simple, np.zeros_like(g_simple),
                better="higher", claim="complex_pooling_helps_simple_backbones",
                description=f"per test digit, MLP backbone: mean correctness over the complex "
                            f"poolings {complex_} minus over {SIMPLE}, averaged over the two "
                            "sizes",
                known_gap=KNOWN_GAPS["helps_simple"])
    res.compare("gain_larger_for_simple_backbone", g_simple, g_complex, better="higher",
                claim="complex_pooling_helps_simple_backbones",
                description="per test digit, the gain above for the MLP backbone vs for the Set "
                            "Transformer",
                known_gap=KNOWN_GAPS["larger_for_simple"])
    res.compare("complex_backbone_gains_from_pooling", g_low, np.zeros_like(g_low),
                better="higher", claim="complex_backbones_gain_with_little_data",
                description=f"per test digit, Set Transformer with {low} "
                            "training digits per class: mean correctness over the complex "
                            "poolings minus over the simple ones, averaged over the two sizes",
                known_gap=KNOWN_GAPS["complex_gains"])

    pool_effect = float(np.mean([
        abs(acc[(bb, s, p)] - acc[(bb, s, q)])
        for bb, s in itertools.product(BACKBONES, (0, 1))
        for p, q in itertools.combinations(singles, 2)]))
    size_effect = float(np.mean([abs(acc[(bb, 1, p)] - acc[(bb, 0, p)])
                                 for bb in BACKBONES for p in singles]))
    res.metrics["pooling_effect_mean_abs_diff"] = pool_effect
    res.metrics["size_effect_mean_abs_diff"] = size_effect
    res.compare("pooling_matters_more_than_size", pool_effect, size_effect, better="higher",
                claim="pooling_matters_more_than_width",
                description="mean |accuracy difference| between two single poolings (same "
                            "backbone and size) vs between the small and large backbone (same "
                            "backbone and pooling); one value each per seed, paired t interval",
                known_gap=KNOWN_GAPS["pooling_vs_size"])

    pair_ours, pair_base, pair_gain = [], [], []
    for bb, s, pair in itertools.product(settings.pair_backbones, (0, 1), pairs):
        a, b = pair.split("+")
        better = a if val_acc[(bb, s, a)] >= val_acc[(bb, s, b)] else b
        pair_ours.append(correct[(bb, s, pair)])
        pair_base.append(correct[(bb, s, better)])
        pair_gain.append(acc[(bb, s, pair)] - acc[(bb, s, better)])
    res.metrics["pair_gain_mean"] = float(np.mean(pair_gain))
    res.compare("pairs_beat_better_member", np.concatenate(pair_ours),
                np.concatenate(pair_base), better="higher", claim="pooling_pairs_help",
                description=f"per test digit, a concatenated pair {pairs} vs the better of its "
                            "two members (chosen on the validation digits) in the same "
                            f"(backbone, size) cell; {len(pair_gain)} cells",
                known_gap=KNOWN_GAPS["pairs"])

    fig, axes = plt.subplots(1, len(BACKBONES), figsize=(4.2 * len(BACKBONES), 3.6),
                             sharey=True)
    for ax, bb in zip(np.atleast_1d(axes), BACKBONES, strict=True):
        xs = np.arange(len(poolings))
        for s in (0, 1):
            w, d = sizes[bb][s]
            ax.bar(xs + 0.4 * s - 0.2, [acc.get((bb, s, p), np.nan) for p in poolings], 0.4,
                   label=f"width {w}, depth {d}")
        ax.set_xticks(xs, poolings, rotation=60, fontsize=7)
        ax.set_title(bb)
        ax.set_ylim(0, 1)
    np.atleast_1d(axes)[0].set_ylabel(f"test accuracy, point-cloud MNIST, {main} per class")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    res.figures["backbone_vs_pooling"] = fig
    return res


KNOWN_GAPS = {
    "helps_simple": (
        "Not seen at our scale: on the MLP backbone the complex poolings (SWE, PMA) do not "
        "beat mean and max, gain {diff:+.3f} per digit (interval [{low:.3f}, {high:.3f}] over "
        "{n} seed-digit items). With 16 digits per class max is the strongest single pooling "
        "on the MLP and the complex ones trail it by 0.1-0.3 (metrics n16_acc_pointnet_*). "
        "With 64 per class (full mode, 3 seeds) SWE and PMA catch up with max on the small MLP "
        "(0.673 and 0.645 vs 0.641) but not on the large one, where one SWE model did not "
        "train at all (seed 1: training loss stuck at ln 10 from the second epoch, accuracy "
        "0.10). Side runs (seed 0, MLP 32x3, 24 points, 16 digits per class) show the deficit "
        "shrinking with training: max, SWE, PMA 0.623, 0.477, 0.307 after 30 epochs and 0.643, "
        "0.500, 0.487 after 100. The paper trains for hundreds of epochs on thousands of clouds "
        "of 1,024 points; SWE and PMA carry parameters of their own (reference and slices; an "
        "attention block) that this budget leaves under-trained."),
    "larger_for_simple": (
        "Not seen at our scale: the gain for the MLP minus the gain for the Set Transformer "
        "is {diff:+.3f} (interval [{low:.3f}, {high:.3f}] over {n} items). The complex "
        "poolings do not help the MLP here (see the check above), so there is no benefit to "
        "diminish; with few digits they cost the MLP more than the Set Transformer."),
    "complex_gains": (
        "Not seen at our scale: with 16 training digits per class the complex poolings do not "
        "beat mean and max on the Set Transformer, gain {diff:+.3f} (interval [{low:.3f}, "
        "{high:.3f}] over {n} items); max is its strongest single pooling there (metrics "
        "n16_acc_settransformer_*)."),
    "pooling_vs_size": (
        "Pooling choice {ours:.3f} vs backbone size {baseline:.3f} (mean |accuracy "
        "difference|): the difference {diff:+.3f} has the interval [{low:.3f}, {high:.3f}] over "
        "{n} seeds, which includes 0. Both effects are large for these under-trained models, "
        "where a larger backbone gains about as much as a better pooling, and the comparison "
        "sits on its edge: the quick setting with seeds 3-5 passes it (+0.039, interval "
        "[0.026, 0.052]) and the full run (64 digits per class) passes it narrowly."),
    "pairs": (
        "Not seen at our scale: a concatenated pair minus its better member (picked on the "
        "validation digits) {diff:+.3f} per digit (interval [{low:.3f}, {high:.3f}] over {n} "
        "items). With 16 digits per class the pair trails its better member (it also carries "
        "the weaker member's parameters); with 64 per class (full mode) pairs and their better "
        "members tie over 12 cells, so a single side run where max+swe beat max (0.710 vs "
        "0.690, seed 0, MLP 32x3) is within the spread."),
}

EXPERIMENT = register(Experiment(
    "backbone-vs-pooling", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="real: point-cloud MNIST (20 or 24 points drawn by intensity from each of the "
         "MNIST digits mintlab ships; 16 training digits per class, 64 as well in full mode)",
    full_scale="ModelNet40, ScanObjectNN and ShapeNet point clouds (1,024 points) with the "
               "paper's backbones and poolings at several widths and depths, trained for "
               "hundreds of epochs on full training sets; here 2D digit clouds of 20-24 points, "
               "two backbones at two small sizes, 22-25 epochs on 160 or 640 digits",
))
