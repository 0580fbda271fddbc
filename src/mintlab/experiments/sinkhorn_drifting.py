"""``sinkhorn-drifting``: one-step generators trained by drifting, one-sided vs Sinkhorn, on MNIST.

Data: the 4,000 MNIST training digits, in the space of their first 32 principal components
(fitted on those digits only; 75% of the pixel variance). For each temperature of a sweep
(in units of the median pairwise distance of the digits), an MLP generator is trained with
the one-sided kernel drift (the drifting baseline) and with the Sinkhorn drift: same network,
initialisation, steps, batch, learning rate and seed; the two differ only in the
normalisation of the couplings. Both sample in one pass.

Quality, against the 1,000 held-out test digits (never trained on), on paired evaluation
batches (bootstrap over batches and seeds):

* Fréchet distance of Gaussians fitted to the PCA coordinates (the FID formula on a fixed
  linear feature space; the paper reports FID);
* exact W2 (POT ``emd2``) in the PCA space (the paper's "latent EMD");
* class coverage: a logistic-regression classifier trained on the held-out real digits
  (5-fold accuracy in ``metrics``) labels the samples; a class is covered when it gets at
  least 2% of them (a fifth of its share in the data).

External reference: with the squared Euclidean cost the Sinkhorn drift is minus ``n`` times
the gradient of the Sinkhorn divergence; ``metrics["geomloss_drift_rel_error"]`` is the
relative difference from GeomLoss's ``SamplesLoss("sinkhorn")`` gradient on real digits
(absent when ``geomloss`` is not installed).

Three claims of the abstract:

1. ``less_temperature_sensitive``: over the sweep, the Fréchet distance of Sinkhorn drifting
   varies less (max minus min, per evaluation batch) than that of kernel drifting;
2. ``low_temperature_quality``: at the lowest temperature, Sinkhorn drifting has a lower
   Fréchet distance and a lower W2 than kernel drifting;
3. ``full_class_coverage``: Sinkhorn drifting covers all ten classes at every temperature
   of the sweep (every seed), and covers more classes than kernel drifting at the lowest
   (paired by class).

Scale: a 32-dimensional linear image space and 150 (quick) to 1,000 (full)
training steps of a small MLP, against the paper's MNIST and FFHQ-ALAE generators trained
for far longer.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from mintlab.generative import DriftingGenerator, drift

from ._core import Experiment, Result, Settings
from ._generative_common import MIN_SHARE, batch_frechet, batch_w2, image_grid, image_space
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "less_temperature_sensitive": "Experiments show that Sinkhorn drifting reduces sensitivity "
                                  "to kernel temperature and improves one-step generative "
                                  "quality.",
    "low_temperature_quality": "These theoretical gains translate to strong low-temperature "
                               "improvements in practice: at the lowest temperature setting we "
                               "evaluate, Sinkhorn drifting reduces mean FID and mean latent "
                               "EMD.",
    "full_class_coverage": "On MNIST, Sinkhorn drifting preserves full class coverage across "
                           "the temperature sweep.",
}


@dataclass(frozen=True, kw_only=True)
class SinkhornDriftingSettings(Settings):
    steps: int  # training steps per generator
    batch: int  # generated and data samples per training step (and Sinkhorn problem size)
    factors: tuple[float, ...]  # temperature sweep, times the median pairwise distance
    eval_batches: int  # evaluation batches per generator (paired items)
    eval_size: int  # samples per evaluation batch and per held-out batch


QUICK = SinkhornDriftingSettings(seeds=3, steps=150, batch=64, factors=(0.01, 0.05, 0.2),
                                 eval_batches=4, eval_size=250)
FULL = SinkhornDriftingSettings(seeds=3, steps=1000, batch=64,
                                factors=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
                                eval_batches=4, eval_size=250)
EXPECTED = "partly reproduced (2 of 3)"

METHODS = ("kernel", "sinkhorn")
DATASET, N_COMPONENTS = "mnist", 32
HIDDEN, LR = 256, 1e-3  # generator width (depth 3) and Adam learning rate, both methods


@functools.cache
def _geomloss_rel_error(factor):
    """Relative difference between the Sinkhorn drift and ``-n`` times GeomLoss's gradient of
    the Sinkhorn divergence, between the first two batches of 64 training digits, with the
    squared Euclidean cost and regularisation ``(factor x their median distance)^2`` (GeomLoss:
    cost |x - y|^2 / 2, so blur = sqrt(tau / 2)); None when GeomLoss is absent."""
    try:
        from geomloss import SamplesLoss
    except ImportError:
        return None
    train = image_space(DATASET, N_COMPONENTS).train
    X, Y = train[:64], train[64:128]
    tau = (factor * float(np.median(np.linalg.norm(X[:, None] - Y[None], axis=-1)))) ** 2
    Xt = torch.tensor(X, requires_grad=True)
    loss = SamplesLoss("sinkhorn", p=2, blur=math.sqrt(tau / 2), scaling=0.999, debias=True,
                       backend="tensorized")
    (grad,) = torch.autograd.grad(loss(Xt, torch.tensor(Y)), Xt)
    V = drift(X, Y, tau, cost="sqeuclidean", n_iter=3000)
    return float(np.linalg.norm(V + len(X) * grad.numpy()) / np.linalg.norm(V))


def run(settings: SinkhornDriftingSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings, seed):
    import matplotlib.pyplot as plt

    s = settings
    res = Result(seed=seed)
    rng = np.random.default_rng(seed)
    space = image_space(DATASET, N_COMPONENTS)
    n_eval = s.eval_batches * s.eval_size
    if n_eval > len(space.held):
        raise ValueError(f"eval_batches * eval_size must be at most {len(space.held)} held-out "
                         f"images, got {n_eval}")
    held = space.held[rng.permutation(len(space.held))[:n_eval]]
    sub = space.train[rng.choice(len(space.train), 300, replace=False)]
    med = float(np.median(np.linalg.norm(sub[:, None] - sub[None], axis=-1)))
    res.metrics.update(pca_explained_variance=space.explained,
                       classifier_cv_accuracy=space.classifier_cv_accuracy,
                       median_distance=med)
    # the sampling floor: training digits scored like a generator
    real = space.train[rng.choice(len(space.train), n_eval, replace=False)]
    res.metrics["floor_frechet_real_digits"] = float(
        batch_frechet(real, held, s.eval_batches).mean())
    res.metrics["floor_w2_real_digits"] = float(batch_w2(real, held, s.eval_batches).mean())
    ref = _geomloss_rel_error(0.3)
    if ref is not None:
        res.metrics["geomloss_drift_rel_error"] = ref

    fd, w2, covered, classes, samples = ({m: {} for m in METHODS} for _ in range(5))
    for f in s.factors:
        for m in METHODS:
            g = DriftingGenerator(space.dim, hidden=HIDDEN, temperature=f * med, method=m,
                                  seed=seed)
            g.fit(space.train, steps=s.steps, batch_size=s.batch, lr=LR)
            S = g.sample(n_eval, seed=seed + 1).numpy()
            fd[m][f] = batch_frechet(S, held, s.eval_batches)
            w2[m][f] = batch_w2(S, held, s.eval_batches)
            share = space.class_shares(S)
            covered[m][f] = (share >= MIN_SHARE).astype(float)
            classes[m][f] = int(covered[m][f].sum())
            samples[m][f] = space.decode(S[:24])
            key = f"{m}_tau{f}xmedian"
            res.metrics[f"frechet_{key}"] = float(fd[m][f].mean())
            res.metrics[f"w2_{key}"] = float(w2[m][f].mean())
            res.metrics[f"classes_{key}"] = classes[m][f]
            res.metrics[f"smallest_class_share_{key}"] = float(share.min())
    spread = {m: np.ptp(np.stack([fd[m][f] for f in s.factors]), axis=0) for m in METHODS}
    for m in METHODS:
        res.metrics[f"frechet_spread_{m}"] = float(spread[m].mean())
    sweep = tuple(s.factors)

    # 1. temperature sensitivity
    res.compare("sinkhorn_less_temperature_sensitive", spread["sinkhorn"], spread["kernel"],
                better="lower", claim="less_temperature_sensitive",
                description=f"MNIST: max - min Fréchet distance (PCA-{N_COMPONENTS}) to held-out "
                            f"digits over the temperature sweep {sweep} x median distance, per "
                            "evaluation batch, Sinkhorn vs kernel drifting")

    # 2. quality at the lowest temperature
    low = min(s.factors)
    res.compare("sinkhorn_lower_frechet_at_low_temperature", fd["sinkhorn"][low],
                fd["kernel"][low], better="lower", claim="low_temperature_quality",
                description=f"MNIST: Fréchet distance to held-out digits at temperature {low} x "
                            "median distance, per evaluation batch, Sinkhorn vs kernel drifting")
    res.compare("sinkhorn_lower_w2_at_low_temperature", w2["sinkhorn"][low], w2["kernel"][low],
                better="lower", claim="low_temperature_quality",
                description=f"MNIST: W2 (latent EMD) to held-out digits at temperature {low} x "
                            "median distance, per evaluation batch, Sinkhorn vs kernel drifting")

    # 3. class coverage
    res.compare("sinkhorn_covers_more_classes_at_low_temperature", covered["sinkhorn"][low],
                covered["kernel"][low], better="higher", claim="full_class_coverage",
                description=f"MNIST: per-class coverage (share >= {MIN_SHARE:.0%}) at "
                            f"temperature {low} x median distance, Sinkhorn vs kernel drifting, "
                            "paired by class")
    res.check("sinkhorn_full_class_coverage_across_sweep", min(classes["sinkhorn"].values()),
              10, ">=", claim="full_class_coverage",
              description="MNIST: fewest classes (of 10) covered by Sinkhorn drifting over the "
                          f"temperature sweep {sweep} x median distance, every seed",
              known_gap="Sinkhorn drifting covers as few as {worst:.0f} of 10 classes "
                        "(mean over seeds {measured:.1f}) at the high end of the sweep (see "
                        "the classes_sinkhorn_* metrics). "
                        "At large temperatures the entropic couplings approach the independent "
                        "one, the drift matches only coarse statistics and samples blur towards "
                        "a few class means. At our training length one-sided kernel drifting "
                        "does better at the top of the sweep (full run, 1,000 steps, at 0.2 and "
                        "0.5 x median: kernel 10 and 10 classes, Fréchet 10.7 and 16.2; "
                        "Sinkhorn 9 and 7.7 classes, Fréchet 17.9 and 21.2). Training length "
                        "matters: in a 1-seed probe at 0.1 x median, Sinkhorn drifting covered "
                        "7 classes after 300 steps and 8 after 1,500 (kernel drifting: 3 and "
                        "10). The paper trains its MNIST generators far longer.")

    fig, axes = plt.subplots(len(METHODS), len(s.factors),
                             figsize=(2.4 * len(s.factors), 2.2 * len(METHODS)), squeeze=False)
    for j, f in enumerate(s.factors):
        for i, m in enumerate(METHODS):
            image_grid(axes[i, j], samples[m][f], 4,
                       f"{m}, tau={f}xmed\nFD {fd[m][f].mean():.2f}, {classes[m][f]} classes")
    fig.tight_layout()
    res.figures["sinkhorn_drifting_mnist"] = fig
    return res


EXPERIMENT = register(Experiment(
    "sinkhorn-drifting", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="MNIST (real; 4,000 training digits for the generators, 1,000 held-out test digits "
         "for the scores and the coverage classifier), in a 32-component PCA space",
    full_scale="FFHQ-ALAE latents (FID, latent EMD) and MNIST at 28x28 with convolutional "
               "generators over the paper's temperature sweep, trained for many thousands of "
               "steps",
))
