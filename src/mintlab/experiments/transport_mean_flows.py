"""``transport-mean-flows``: one-step mean flows with OT-paired noise vs independent pairing.

Two tasks. Images: the shipped Fashion-MNIST subset (12,000 training images for the
models; the 2,000 test images held out), in the space of its first 16 principal components
(fitted on the training images only). 2D, in the full run only (the quick budget holds
the image task alone): a ring of eight Gaussians and two moons. On each, three models with
the same MLP, initialisation, steps, batch, learning rate and seed: a plain mean flow
(independent noise), a transport mean flow (noise paired with each data batch by exact
optimal assignment) and a multi-step flow-matching model (the reference the one-step
generators try to match, sampled with 50 Euler steps).

Quality, on paired evaluation batches (bootstrap over batches and seeds):

* images: Fréchet distance of Gaussians fitted to the PCA coordinates, against the held-out
  test images (the FID formula on a fixed linear feature space; the paper reports FID),
  with W2 in ``metrics``; class balance: a logistic-regression classifier trained on the
  held-out real images labels the samples, and each class's share is compared with its
  share among the real images (per-class absolute deviation);
* 2D: exact W2 (POT ``emd2``) against held-out data.

External baseline (full run, when ``torchcfm`` is installed): OT-CFM, a multi-step flow
trained on torchcfm's exact OT pairing and conditional path (``OTPlanSampler``,
``ConditionalFlowMatcher``) with the same MLP; reported in ``metrics``, with the share of
pairs where torchcfm's OT plan and ``pair_noise(..., "ot")`` agree.

Three claims of the abstract:

1. ``mean_flows_fall_short``: the plain one-step mean flow is further from the data than the
   multi-step flow (images; and 2D in the full run);
2. ``preserves_multistep_fidelity``: the one-step transport mean flow stays within 25% of the
   multi-step flow's distance to the data (images; 2D in the full run), and its class
   shares deviate from the real ones by at most one point more per class than the
   multi-step flow's;
3. ``superior_one_step_accuracy``: the one-step transport mean flow is closer to the data
   than the plain one-step mean flow (images; 2D in the full run).

Scale: MLPs on a 16-dimensional linear image space and 300 (quick) to 1,500 (full)
steps, against the paper's U-Nets on CIFAR-10 / ImageNet latents, image-to-image translation
and ShapeNet point clouds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mintlab.generative import MeanFlow, pair_noise

from ._core import Experiment, Result, Settings
from ._generative_common import batch_frechet, batch_w2, image_grid, image_space
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "mean_flows_fall_short": "Yet, in many continuous domains, Mean Flows fail to faithfully "
                             "approximate the behavior of the original multi-step "
                             "flow-matching process.",
    "preserves_multistep_fidelity": "We incorporate optimal transport-based sampling "
                                    "strategies into the Mean Flow framework, enabling one-step "
                                    "generators that better preserve the fidelity and diversity "
                                    "of the original multi-step flow process.",
    "superior_one_step_accuracy": "Experiments demonstrate that our approach achieves superior "
                                  "inference accuracy in one-step generative modeling.",
}


@dataclass(frozen=True, kw_only=True)
class TransportMeanFlowsSettings(Settings):
    datasets_2d: tuple[str, ...]  # 2D datasets ("ring", "moons")
    steps_2d: int  # training steps per 2D model
    hidden_2d: int  # MLP width on 2D data
    steps_image: int  # training steps per image model
    hidden_image: int  # MLP width on images
    batch: int  # data (and paired noise) samples per step
    eval_batches: int  # evaluation batches per model (paired items)
    eval_size_2d: int  # samples per 2D evaluation batch
    external_baseline: bool  # also train torchcfm's OT-CFM on the images (when installed)


QUICK = TransportMeanFlowsSettings(seeds=3, datasets_2d=(), steps_2d=400, hidden_2d=64,
                                   steps_image=300, hidden_image=128, batch=128, eval_batches=4,
                                   eval_size_2d=250, external_baseline=False)
FULL = TransportMeanFlowsSettings(seeds=3, datasets_2d=("ring", "moons"), steps_2d=1500,
                                  hidden_2d=128, steps_image=1500, hidden_image=256, batch=128,
                                  eval_batches=4, eval_size_2d=300, external_baseline=True)
EXPECTED = "partly reproduced (2 of 3)"  # the image fidelity check sits on its edge

FIDELITY_MARGIN = 1.25  # one-step distance within 25% of the multi-step flow's counts as kept
CLASS_SHARE_SLACK = 0.01  # per-class share deviation allowed above the multi-step flow's
EULER_STEPS = 50  # sampling steps of the multi-step flow
DATASET, N_COMPONENTS = "fashion-mnist", 16
LR = 1e-3


def _ring(n, rng):
    k = rng.integers(0, 8, n)
    ang = 2 * np.pi * k / 8
    return np.c_[2 * np.cos(ang), 2 * np.sin(ang)] + 0.1 * rng.normal(size=(n, 2))


def _moons(n, rng):
    from sklearn.datasets import make_moons

    X, _ = make_moons(n, noise=0.05, random_state=int(rng.integers(2**31)))
    return (X - X.mean(0)) * 1.5


DATASETS = {"ring": _ring, "moons": _moons}
MODELS = {"mean flow": dict(coupling="independent"),
          "transport mean flow": dict(coupling="ot"),
          "flow matching": dict(coupling="independent", multistep_only=True)}


def _torchcfm():
    try:
        from torchcfm.conditional_flow_matching import ConditionalFlowMatcher
        from torchcfm.optimal_transport import OTPlanSampler
    except ImportError:
        return None
    return ConditionalFlowMatcher, OTPlanSampler


def _torchcfm_pairs(sampler, e, x):
    """torchcfm's exact OT plan between noise ``e`` and data ``x``, as a pairing: the data
    index of each noise sample (the plan of two equal uniform batches is a permutation)."""
    return torch.as_tensor(sampler.get_map(e, x).argmax(1))


def _fit_otcfm(data, hidden, steps, batch, seed):
    """A multi-step flow trained on torchcfm's OT pairing and conditional path (sigma = 0).

    torchcfm runs time from noise (0) to data (1) with target ``x1 - x0``; ``MeanFlow``
    runs from data (0) to noise (1) with velocity ``e - x``, so its time is ``1 - t`` and
    its target ``-u_t``.
    """
    cfm_cls, sampler_cls = _torchcfm()
    cfm, sampler = cfm_cls(sigma=0.0), sampler_cls(method="exact")
    model = MeanFlow(data.shape[1], hidden=hidden, multistep_only=True, seed=seed)
    Y = torch.as_tensor(data, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x1 = Y[torch.randint(0, len(Y), (batch,), generator=g)]
        x0 = torch.randn(batch, Y.shape[1], generator=g)
        x1 = x1[_torchcfm_pairs(sampler, x0, x1)]
        t = torch.rand(batch, generator=g)
        t, xt, ut = cfm.sample_location_and_conditional_flow(x0, x1, t=t)
        s = 1 - t
        loss = (model(xt, s, s) + ut).square().sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model


def run(settings: TransportMeanFlowsSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _train_and_sample(dim, data, hidden, steps, batch, n, seed, kw):
    m = MeanFlow(dim, hidden=hidden, seed=seed, **kw)
    m.fit(data, steps=steps, batch_size=batch, lr=LR)
    n_steps = EULER_STEPS if kw.get("multistep_only") else 1
    return m, m.sample(n, steps=n_steps, seed=seed + 1).numpy()


def _run(settings, seed):
    import matplotlib.pyplot as plt

    s = settings
    res = Result(seed=seed)
    rng = np.random.default_rng(seed)
    k = s.eval_batches

    # images
    space = image_space(DATASET, N_COMPONENTS)
    held_idx = rng.permutation(len(space.held))
    held, held_y = space.held[held_idx], space.held_labels[held_idx]
    n_img = len(held) // k * k
    held, held_y = held[:n_img], held_y[:n_img]
    real_share = space.class_shares(held)
    res.metrics.update(pca_explained_variance=space.explained,
                       classifier_cv_accuracy=space.classifier_cv_accuracy)
    real = space.train[rng.choice(len(space.train), n_img, replace=False)]
    res.metrics["image_floor_frechet_real_images"] = float(batch_frechet(real, held, k).mean())
    fd, dev, img_samples = {}, {}, {}
    for mname, kw in MODELS.items():
        m, S = _train_and_sample(space.dim, space.train, s.hidden_image, s.steps_image,
                                 s.batch, n_img, seed, kw)
        fd[mname] = batch_frechet(S, held, k)
        dev[mname] = np.abs(space.class_shares(S) - real_share)
        img_samples[mname] = space.decode(S[:32])
        key = mname.replace(" ", "_")
        n_steps = EULER_STEPS if kw.get("multistep_only") else 1
        res.metrics[f"image_frechet_{key}_{n_steps}step"] = float(fd[mname].mean())
        res.metrics[f"image_w2_{key}_{n_steps}step"] = float(batch_w2(S, held, k).mean())
        res.metrics[f"image_class_share_deviation_{key}"] = float(dev[mname].sum())
        other = 1 if n_steps > 1 else EULER_STEPS
        S2 = m.sample(n_img, steps=other, seed=seed + 1).numpy()
        res.metrics[f"image_frechet_{key}_{other}step"] = float(batch_frechet(S2, held, k).mean())
    if _torchcfm() is not None:
        x = torch.as_tensor(space.train[:256], dtype=torch.float32)
        e = torch.randn(256, space.dim, generator=torch.Generator().manual_seed(seed))
        ours = pair_noise(x, e, "ot")  # noise reordered to match x
        theirs = e[torch.argsort(_torchcfm_pairs(_torchcfm()[1](method="exact"), e, x))]
        res.metrics["torchcfm_ot_pairing_agreement"] = float(
            (ours == theirs).all(1).float().mean())
        if s.external_baseline:
            ext = _fit_otcfm(space.train, s.hidden_image, s.steps_image, s.batch, seed)
            for n_steps in (1, EULER_STEPS):
                S = ext.sample(n_img, steps=n_steps, seed=seed + 1).numpy()
                res.metrics[f"image_frechet_torchcfm_otcfm_{n_steps}step"] = float(
                    batch_frechet(S, held, k).mean())
    else:
        res.metrics["torchcfm_installed"] = 0.0

    # 2D
    w2 = {mname: [] for mname in MODELS}  # per evaluation batch, datasets concatenated
    samples_2d = {}
    n_eval = k * s.eval_size_2d
    for dname in s.datasets_2d:
        make = DATASETS[dname]
        Y, Y_held = make(5000, rng), make(n_eval, rng)
        for mname, kw in MODELS.items():
            m, S = _train_and_sample(2, Y, s.hidden_2d, s.steps_2d, s.batch, n_eval, seed, kw)
            w = batch_w2(S, Y_held, k)
            w2[mname].append(w)
            n_steps = EULER_STEPS if kw.get("multistep_only") else 1
            res.metrics[f"{dname}_w2_{mname.replace(' ', '_')}_{n_steps}step"] = float(w.mean())
            samples_2d[(dname, mname)] = (Y_held, S)
    on = ", ".join(s.datasets_2d)

    mf, tmf, fm = "mean flow", "transport mean flow", "flow matching"
    img = f"Fashion-MNIST (PCA-{N_COMPONENTS})"
    res.compare("images_plain_mean_flow_falls_short", fd[mf], fd[fm], better="higher",
                claim="mean_flows_fall_short",
                description=f"{img}: Fréchet distance to held-out images per evaluation batch, "
                            f"one-step plain mean flow vs {EULER_STEPS}-step flow matching "
                            "(higher: further from the data)")
    res.compare("images_transport_mean_flow_matches_multistep", fd[tmf], FIDELITY_MARGIN * fd[fm],
                better="lower", claim="preserves_multistep_fidelity",
                description=f"{img}: Fréchet distance per evaluation batch, one-step transport "
                            f"mean flow vs {FIDELITY_MARGIN} x the {EULER_STEPS}-step flow's "
                            "(the abstract gives no number; preserving the multi-step fidelity "
                            "is read as at most a quarter above it)",
                known_gap="the one-step transport mean flow's Fréchet distance ({ours:.3f}) is "
                          "below 1.25 x the multi-step flow's ({baseline:.3f}) on average, but "
                          "the interval of the difference ({low:.3f} to {high:.3f}) still "
                          "reaches the margin: at a small step budget (the quick setting's "
                          "300 steps) both models are undertrained and 4 evaluation batches "
                          "of 500 samples are noisy, so this check sits on its edge there; "
                          "the full setting (1,500 steps) is the one to read.")
    res.compare("images_transport_mean_flow_keeps_class_balance", dev[tmf],
                dev[fm] + CLASS_SHARE_SLACK, better="lower", claim="preserves_multistep_fidelity",
                description=f"{img}: |share of a class among samples - its share among held-out "
                            "images| (classifier trained on the held-out real images), per "
                            "class, one-step transport mean flow vs the multi-step flow's plus "
                            f"{CLASS_SHARE_SLACK} (diversity)",
                known_gap="per class, the one-step transport mean flow's share deviation "
                          "({ours:.4f}) is below the multi-step flow's plus one point "
                          "({baseline:.4f}) on average, but the interval ({low:.4f} to "
                          "{high:.4f}) reaches the margin: the multi-step flow keeps the class "
                          "balance better than either one-step model (summed deviation over "
                          "the 10 classes in the published full run: flow 0.102, transport "
                          "mean flow 0.155, plain mean flow 0.195), and 10 classes x 3 seeds "
                          "are too few to bound the difference within one point.")
    res.compare("images_ot_pairing_improves_one_step", fd[tmf], fd[mf], better="lower",
                claim="superior_one_step_accuracy",
                description=f"{img}: Fréchet distance per evaluation batch, one-step transport "
                            "mean flow vs one-step plain mean flow")
    if s.datasets_2d:
        w2 = {key: np.concatenate(v) for key, v in w2.items()}
        res.compare("2d_plain_mean_flow_falls_short", w2[mf], w2[fm], better="higher",
                    claim="mean_flows_fall_short",
                    description=f"2D ({on}): W2 to held-out data per evaluation batch, one-step "
                                f"plain mean flow vs {EULER_STEPS}-step flow matching",
                    known_gap="on the 2D data the one-step plain mean flow ({ours:.3f}) is not "
                              "clearly further from the data than the multi-step flow "
                              "({baseline:.3f}; difference {low:.3f} to {high:.3f}): the small "
                              "2D flows are still undertrained (at 400 steps on the ring the "
                              "50-step flow's W2, 0.72, was above the one-step transport mean "
                              "flow's, 0.56: means over seeds 0-2, width 64), so the "
                              "multi-step reference is not yet better than a one-step model "
                              "there.")
        res.compare("2d_transport_mean_flow_matches_multistep", w2[tmf],
                    FIDELITY_MARGIN * w2[fm], better="lower", claim="preserves_multistep_fidelity",
                    description=f"2D ({on}): W2 per evaluation batch, one-step transport mean "
                                f"flow vs {FIDELITY_MARGIN} x the {EULER_STEPS}-step flow's")
        res.compare("2d_ot_pairing_improves_one_step", w2[tmf], w2[mf], better="lower",
                    claim="superior_one_step_accuracy",
                    description=f"2D ({on}): W2 per evaluation batch, one-step transport mean "
                                "flow vs one-step plain mean flow")

    fig, axes = plt.subplots(1 + len(s.datasets_2d), len(MODELS),
                             figsize=(3.4 * len(MODELS), 3.2 * (1 + len(s.datasets_2d))),
                             squeeze=False)
    for col, (mname, kw) in enumerate(MODELS.items()):
        n_steps = EULER_STEPS if kw.get("multistep_only") else 1
        image_grid(axes[0, col], img_samples[mname], 4,
                   f"{mname} ({n_steps} step{'s' * (n_steps > 1)}): FD {fd[mname].mean():.2f}")
        for row, dname in enumerate(s.datasets_2d, start=1):
            Y_held, S = samples_2d[(dname, mname)]
            ax = axes[row, col]
            ax.scatter(*Y_held[:500].T, s=2, c="0.8")
            ax.scatter(*S[:1000].T, s=2)
            ax.set_title(f"{dname}: {mname}", fontsize=9)
            ax.set_aspect("equal")
    fig.tight_layout()
    res.figures["transport_mean_flows_samples"] = fig
    return res


EXPERIMENT = register(Experiment(
    "transport-mean-flows", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="Fashion-MNIST (real; 12,000 training images for the models, 2,000 held-out test "
         "images for the scores and the class-balance classifier) in a 16-component PCA "
         "space; synthetic 2D ring of eight Gaussians and two moons (full run only)",
    full_scale="image generation (CIFAR-10, ImageNet latents) with U-Nets and FID on "
               "Inception features, image-to-image translation and ShapeNet point clouds",
))
