"""Fuzz cases: embeddings, set layers and attention, scale-out, registration, generative models.

Estimators get three cases each: the constructor's hyper-parameters (checked in
``fit``, as scikit-learn does), ``fit`` on broken data and ``transform`` of broken
data after a valid ``fit``. Layers are built from their hyper-parameters and called
on a padded batch ``(batch, n, d)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from _fuzz_harness import Case, Inputs, arr, labels, rand, randn, simplex

# ---------------------------------------------------------------------------------- helpers


def _sets(kind: str, s, k: int | None = None, d: int | None = None, seed_off: int = 0) -> list:
    """``k`` point sets of ``2..n+1`` points in dimension ``d`` (sizes differ)."""
    k = s.k if k is None else k
    d = s.d if d is None else d
    return [randn(kind, 2 + (s.n + i) % 4, d, seed=s.seed + seed_off + i) for i in range(k)]


def _sphere_sets(kind: str, s, k: int | None = None) -> list:
    d = max(s.d, 3)
    out = []
    for i in range(s.k if k is None else k):
        x = np.random.default_rng(s.seed + i).standard_normal((3 + i % 3, d))
        out.append(arr(kind, x / np.linalg.norm(x, axis=1, keepdims=True)))
    return out


def _circle_sets(kind: str, s, k: int | None = None) -> list:
    return [rand(kind, 3 + (s.n + i) % 4, 1, seed=s.seed + i)
            for i in range(s.k if k is None else k)]


def _split(kw: Inputs, data_keys: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    hp = {k: v for k, v in kw.items() if k not in data_keys}
    data = {k: v for k, v in kw.items() if k in data_keys}
    return hp, data


def estimator_cases(target: str, hp, data, hp_roles: dict[str, str], *,
                    data_role: str = "sets", kinds=("numpy", "torch"), method: str = "transform",
                    fit_extra=None, skip=None, known=None, data_key: str = "X",
                    check_output: bool = True) -> list[Case]:
    """Constructor / fit / transform cases of a scikit-learn-style estimator.

    ``hp(kind, s)`` gives the hyper-parameters, ``data(kind, s)`` a valid ``X``;
    ``fit_extra(kind, s)`` extra keyword arguments of ``fit`` (e.g. ``y``).
    """
    skip = skip or {}
    known = known or {}
    fit_extra = fit_extra or (lambda kind, s: {})
    extra_keys = ("y",)

    def build_ctor(kind, s):
        return Inputs(**hp(kind, s), **{data_key: data(kind, s)}, **fit_extra(kind, s))

    def call_ctor(cls, kw):
        hp_kw, d = _split(kw, (data_key, *extra_keys))
        est = cls(**hp_kw)
        fitted = est.fit(d[data_key], **{k: v for k, v in d.items() if k != data_key})
        return getattr(fitted, method)(d[data_key])

    def call_fit(cls, kw):
        hp_kw, d = _split(kw, (data_key, *extra_keys))
        return cls(**hp_kw).fit(d[data_key], **{k: v for k, v in d.items() if k != data_key})

    def build_tr(kind, s):
        return Inputs(**{data_key: data(kind, s)}, _hp=hp(kind, s), _train=data(kind, s),
                      _extra=fit_extra(kind, s))

    def call_tr(cls, kw):
        est = cls(**kw["_hp"]).fit(kw["_train"], **kw["_extra"])
        return getattr(est, method)(kw[data_key])

    fit_roles = {data_key: data_role}
    if "y" in fit_extra(kinds[0], _S0):
        fit_roles["y"] = "labels"
    return [
        Case(target=target, build=build_ctor, call=call_ctor, roles=dict(hp_roles), kinds=kinds,
             skip_breakers={k: v for k, v in skip.items() if k[0] in hp_roles},
             known_failures={k: v for k, v in known.items() if k[0] in hp_roles},
             check_output=check_output),
        Case(target=target, id=f"{target}.fit", build=build_ctor, call=call_fit,
             roles=fit_roles, kinds=kinds, check_output=False,
             skip_breakers={k: v for k, v in skip.items() if k[0] in fit_roles},
             known_failures={k: v for k, v in known.items() if k[0] in fit_roles}),
        Case(target=target, id=f"{target}.{method}", build=build_tr, call=call_tr,
             roles={data_key: data_role}, kinds=kinds, check_output=check_output,
             skip_breakers={k: v for k, v in skip.items() if k[0] == data_key},
             known_failures={k: v for k, v in known.items() if k[0] == data_key}),
    ]


class _S0:
    n, m, d, k, seed = 6, 5, 3, 4, 0


# ---------------------------------------------------------------------------------- embed

CASES: list[Case] = []

CASES += estimator_cases(
    "mintlab.embed.LinearOT",
    hp=lambda kind, s: dict(n_references=s.k, method="exact", n_projections=8, seed=s.seed),
    data=lambda kind, s: _sets(kind, s),
    hp_roles={"n_references": "pos_int", "method": "choice", "n_projections": "pos_int",
              "seed": "seed"},
)
CASES.append(Case(
    target="mintlab.embed.LinearOT", id="mintlab.embed.LinearOT.inverse_transform",
    build=lambda kind, s: Inputs(E=randn(kind, 2, 2 * s.d, seed=s.seed),
                                 _train=_sets(kind, s)),
    call=lambda cls, kw: cls(n_references=2, seed=0).fit(kw["_train"]).inverse_transform(kw["E"]),
    roles={"E": "matrix"},
))

CASES += estimator_cases(
    "mintlab.embed.LinearOptimalPartialTransport",
    hp=lambda kind, s: dict(n_references=s.k, penalty=1.0, point_mass=0.2, seed=s.seed),
    data=lambda kind, s: _sets(kind, s),
    hp_roles={"n_references": "pos_int", "penalty": "pos_float", "point_mass": "pos_float",
              "seed": "seed"},
)
CASES.append(Case(
    target="mintlab.embed.LinearOptimalPartialTransport",
    id="mintlab.embed.LinearOptimalPartialTransport.pairwise_distances",
    build=lambda kind, s: Inputs(E=randn(kind, 3, 2 * s.d + 3, seed=s.seed),
                                 _train=_sets(kind, s)),
    call=lambda cls, kw: cls(n_references=2, seed=0).fit(kw["_train"]).pairwise_distances(
        kw["E"]),
    roles={"E": "matrix"},
))

CASES += estimator_cases(
    "mintlab.embed.LinearCircularOT",
    hp=lambda kind, s: dict(n_references=4 * s.k),
    data=lambda kind, s: _circle_sets(kind, s),
    hp_roles={"n_references": "pos_int"},
)
CASES.append(Case(
    target="mintlab.embed.LinearCircularOT",
    id="mintlab.embed.LinearCircularOT.pairwise_distances",
    build=lambda kind, s: Inputs(E=rand(kind, 3, 8, seed=s.seed), _train=_circle_sets(kind, s)),
    call=lambda cls, kw: cls(n_references=8).fit(kw["_train"]).pairwise_distances(kw["E"]),
    roles={"E": "matrix"},
))

CASES += estimator_cases(
    "mintlab.embed.LinearSphericalSlicedOT",
    hp=lambda kind, s: dict(n_projections=s.k, n_references=8, seed=s.seed),
    data=lambda kind, s: _sphere_sets(kind, s),
    hp_roles={"n_projections": "pos_int", "n_references": "pos_int", "seed": "seed"},
)
CASES.append(Case(
    target="mintlab.embed.LinearSphericalSlicedOT",
    id="mintlab.embed.LinearSphericalSlicedOT.pairwise_distances",
    build=lambda kind, s: Inputs(E=rand(kind, 3, 2 * 8, seed=s.seed),
                                 _train=_sphere_sets(kind, s)),
    call=lambda cls, kw: cls(n_projections=2, n_references=8, seed=0).fit(
        kw["_train"]).pairwise_distances(kw["E"]),
    roles={"E": "matrix"},
))

CASES += estimator_cases(
    "mintlab.embed.RadonCDT",
    hp=lambda kind, s: dict(angles=[0.0, 45.0, 90.0], n_levels=s.k + 4, epsilon=1e-6,
                            batch_size=2),
    data=lambda kind, s: rand(kind, s.k, s.n + 4, s.n + 5, seed=s.seed),
    data_role="images",
    hp_roles={"angles": "array", "n_levels": "pos_int", "epsilon": "nonneg_float",
              "batch_size": "pos_int"},
    kinds=("numpy",),
)
CASES.append(Case(
    target="mintlab.embed.RadonCDT", id="mintlab.embed.RadonCDT.translation_basis",
    build=lambda kind, s: Inputs(X=rand(kind, 2, s.n + 4, s.n + 4, seed=s.seed)),
    call=lambda cls, kw: cls(angles=[0.0, 90.0]).fit(kw["X"]).translation_basis(),
    roles={"X": "images"}, kinds=("numpy",),
))


def _subspace_data(kind, s):
    rng = np.random.default_rng(s.seed)
    basis = rng.standard_normal((2, 2, 6))
    X = np.concatenate([rng.standard_normal((s.n, 2)) @ basis[c] for c in range(2)])
    return arr(kind, X)


CASES += estimator_cases(
    "mintlab.embed.NearestSubspaceClassifier",
    hp=lambda kind, s: dict(energy=0.9, extra_basis=randn(kind, 1, 6, seed=s.seed + 5)),
    data=_subspace_data,
    data_role="matrix",
    fit_extra=lambda kind, s: dict(y=np.repeat(np.arange(2), s.n)),
    hp_roles={"energy": "prob", "extra_basis": "matrix"},
    method="predict",
    kinds=("numpy",),
    skip={("y", "too_big"): "a classifier's labels are any values (scikit-learn convention)",
          ("y", "negative"): "a classifier's labels are any values (scikit-learn convention)",
          ("y", "fraction"): "a classifier's labels are any values (scikit-learn convention)"},
)
CASES.append(Case(
    target="mintlab.embed.NearestSubspaceClassifier",
    id="mintlab.embed.NearestSubspaceClassifier.decision_function",
    build=lambda kind, s: Inputs(X=_subspace_data(kind, s)),
    call=lambda cls, kw: cls().fit(_subspace_data("numpy", _S0), np.repeat(np.arange(2), 6))
    .decision_function(kw["X"]),
    roles={"X": "matrix"}, kinds=("numpy",),
))

CASES += estimator_cases(
    "mintlab.embed.SlicedWassersteinEmbedding",
    hp=lambda kind, s: dict(n_projections=s.k, n_quantiles=s.n, orthonormal=True,
                            subtract_reference=True, seed=s.seed, batch_size=3),
    data=lambda kind, s: _sets(kind, s),
    hp_roles={"n_projections": "pos_int", "n_quantiles": "pos_int", "orthonormal": "bool",
              "subtract_reference": "bool", "seed": "seed", "batch_size": "pos_int"},
)

CASES += estimator_cases(
    "mintlab.embed.PoolingEmbedding",
    hp=lambda kind, s: dict(kind="gem", gem_power=2.0, n_quantiles=s.k),
    data=lambda kind, s: [x * x for x in _sets(kind, s)],
    hp_roles={"kind": "choice", "gem_power": "pos_float", "n_quantiles": "pos_int"},
)

CASES += estimator_cases(
    "mintlab.embed.FSPoolEmbedding",
    hp=lambda kind, s: dict(out_features=s.k, width=4, n_pieces=3, epochs=1, lr=1e-3,
                            batch_size=4, temperature=0.5, seed=s.seed),
    data=lambda kind, s: _sets(kind, s),
    hp_roles={"out_features": "pos_int", "width": "pos_int", "n_pieces": "pos_int",
              "epochs": "pos_int", "lr": "pos_float", "batch_size": "pos_int",
              "temperature": "pos_float", "seed": "seed"},
)

CASES += estimator_cases(
    "mintlab.embed.SLOSH",
    hp=lambda kind, s: dict(n_projections=s.k, n_quantiles=4, index="flat", n_bits=16,
                            seed=s.seed),
    data=lambda kind, s: _sets(kind, s),
    hp_roles={"n_projections": "pos_int", "n_quantiles": "pos_int", "index": "choice",
              "n_bits": "pos_int", "seed": "seed"},
    method="search", data_key="sets",
    # FAISS answers in numpy (distances and ids) whatever the input kind: torch sets are
    # accepted, the results stay numpy
    kinds=("numpy",),
)
CASES.append(Case(
    target="mintlab.embed.SLOSH", id="mintlab.embed.SLOSH.search.k",
    build=lambda kind, s: Inputs(query_sets=_sets(kind, s, k=2), k=2, _train=_sets(kind, s)),
    call=lambda cls, kw: cls(n_projections=4, n_quantiles=4, index="lsh", n_bits=16, seed=0)
    .fit(kw["_train"]).search(kw["query_sets"], k=kw["k"]),
    roles={"query_sets": "sets", "k": "pos_int"}, kinds=("numpy",),
))
CASES.append(Case(
    target="mintlab.embed.SLOSH", id="mintlab.embed.SLOSH.add",
    build=lambda kind, s: Inputs(sets=_sets(kind, s, k=2), _train=_sets(kind, s)),
    call=lambda cls, kw: cls(n_projections=4, n_quantiles=4, index="flat", seed=0)
    .fit(kw["_train"]).add(kw["sets"]).n_sets,
    roles={"sets": "sets"},
))

CASES += estimator_cases(
    "mintlab.embed.EMPEROR",
    hp=lambda kind, s: dict(n_projections=s.k, n_components=2, n_iter=3, seed=s.seed,
                            batch_size=2),
    data=lambda kind, s: _sets(kind, s),
    hp_roles={"n_projections": "pos_int", "n_components": "pos_int", "n_iter": "pos_int",
              "seed": "seed", "batch_size": "pos_int"},
)


def _graphs(features: Any) -> Any:
    """``(edges, features)`` pairs: a path over each feature matrix's rows (the fuzzer breaks
    the node features, passed as ``X``)."""
    if not isinstance(features, list):
        return features
    out = []
    for F in features:
        n = len(F) if hasattr(F, "__len__") and not isinstance(F, str) else 0
        out.append(([(i, i + 1) for i in range(n - 1)], F))
    return out


def _wegl_cases() -> list[Case]:
    hp = dict(n_layers=2, n_references=3, feature_key="x", seed=0)

    def call_ctor(cls, kw):
        h, d = _split(kw, ("X",))
        return cls(**h).fit_transform(_graphs(d["X"]))

    return [
        Case(target="mintlab.embed.WEGL",
             build=lambda kind, s: Inputs(n_layers=s.k - 1, n_references=s.k, feature_key="x",
                                          seed=s.seed, X=_sets("numpy", s)),
             call=call_ctor, kinds=("numpy",),
             roles={"n_layers": "nonneg_int", "n_references": "pos_int", "seed": "seed"}),
        Case(target="mintlab.embed.WEGL", id="mintlab.embed.WEGL.fit",
             build=lambda kind, s: Inputs(X=_sets("numpy", s)),
             call=lambda cls, kw: cls(**hp).fit(_graphs(kw["X"])),
             roles={"X": "sets"}, kinds=("numpy",), check_output=False),
        Case(target="mintlab.embed.WEGL", id="mintlab.embed.WEGL.transform",
             build=lambda kind, s: Inputs(X=_sets("numpy", s), _train=_sets("numpy", s)),
             call=lambda cls, kw: cls(**hp).fit(_graphs(kw["_train"])).transform(
                 _graphs(kw["X"])),
             roles={"X": "sets"}, kinds=("numpy",)),
    ]


CASES += _wegl_cases()


def _tasks(features: Any, labels_: Any) -> Any:
    if not isinstance(features, list):
        return features
    return [(F, labels_) for F in features]


_TASK_LABELS_SKIP = {
    ("labels", b): "a task's labels are any class ids (hashable values), not indices into a "
                   "fixed range" for b in ("too_big", "negative", "fraction")}


def _task_cases() -> list[Case]:
    def feats(kind, s):
        return [randn(kind, 6, s.d, seed=s.seed + i) for i in range(3)]

    def labs(kind, s):
        return labels("numpy", 6, 2, seed=s.seed)

    def call_ctor(cls, kw):
        h, d = _split(kw, ("X", "labels"))
        return cls(**h).fit_transform(_tasks(d["X"], d["labels"]))

    hp0 = dict(label_dim=2, n_references=3, max_per_class=4, seed=0)
    return [
        Case(target="mintlab.embed.TaskEmbedding",
             build=lambda kind, s: Inputs(label_dim=2, label_scale=1.0, n_references=3,
                                          max_per_class=4, shared_labels=False, seed=s.seed,
                                          X=feats(kind, s), labels=labs(kind, s)),
             call=call_ctor, kinds=("numpy",),
             roles={"label_dim": "pos_int", "label_scale": "pos_float",
                    "n_references": "pos_int", "max_per_class": "pos_int",
                    "shared_labels": "bool", "seed": "seed"}),
        Case(target="mintlab.embed.TaskEmbedding", id="mintlab.embed.TaskEmbedding.fit",
             build=lambda kind, s: Inputs(X=feats(kind, s), labels=labs(kind, s)),
             call=lambda cls, kw: cls(**hp0).fit(_tasks(kw["X"], kw["labels"])),
             roles={"X": "sets", "labels": "labels"}, kinds=("numpy",), check_output=False,
             skip_breakers=_TASK_LABELS_SKIP),
        Case(target="mintlab.embed.TaskEmbedding", id="mintlab.embed.TaskEmbedding.transform",
             build=lambda kind, s: Inputs(X=feats(kind, s), labels=labs(kind, s),
                                          _f=feats(kind, s), _y=labs(kind, s)),
             call=lambda cls, kw: cls(**hp0).fit(_tasks(kw["_f"], kw["_y"])).transform(
                 _tasks(kw["X"], kw["labels"])),
             roles={"X": "sets", "labels": "labels"}, kinds=("numpy",),
             skip_breakers=_TASK_LABELS_SKIP),
    ]


CASES += _task_cases()

CASES += estimator_cases(
    "mintlab.embed.LinearPartialGromovWasserstein",
    hp=lambda kind, s: dict(penalty=1.0, reference="barycenter", n_reference=3,
                            metric="euclidean", solver="fw1", n_masses=2, seed=s.seed),
    data=lambda kind, s: _sets(kind, s, k=3),
    hp_roles={"penalty": "pos_float", "reference": "choice", "n_reference": "pos_int",
              "metric": "choice", "solver": "choice", "n_masses": "pos_int", "seed": "seed"},
    skip={("penalty", "zero"): "penalty 0 is valid (no mass is transported)",
          ("X", "dim_mismatch"): "Gromov-Wasserstein compares sets of different dimensions"},
)
CASES.append(Case(
    target="mintlab.embed.LinearPartialGromovWasserstein",
    id="mintlab.embed.LinearPartialGromovWasserstein.pairwise_distances",
    build=lambda kind, s: Inputs(E=randn(kind, 2, 13, seed=s.seed), _train=_sets(kind, s, k=3)),
    call=lambda cls, kw: cls(n_reference=3, n_masses=2, seed=0).fit(
        kw["_train"]).pairwise_distances(kw["E"]),
    roles={"E": "matrix"},
))
CASES.append(Case(
    target="mintlab.embed.lpgw_distance",
    build=lambda kind, s: Inputs(E=randn(kind, 2, 13, seed=s.seed),
                                 F=randn(kind, 3, 13, seed=s.seed + 1), penalty=1.0,
                                 n_reference=3),
    roles={"E": "matrix", "F": "matrix", "penalty": "nonneg_float", "n_reference": "pos_int"},
))


# ---------------------------------------------------------------------------------- nn


def _batch(kind, s, d=None):
    d = s.d if d is None else d
    return randn("torch", s.k, s.n, d, seed=s.seed).float()


def _mask(s):
    m = torch.ones(s.k, s.n, dtype=torch.bool)
    m[0, -1] = False
    return m


def layer_cases(target: str, hp, hp_roles: dict[str, str], *, d=None, skip=None, known=None,
                forward=None) -> list[Case]:
    """Constructor and forward cases of a set layer ``layer(x, mask)``."""
    d_of = d or (lambda s: s.d)
    forward = forward or (lambda layer, x, mask: layer(x, mask))

    def call_ctor(cls, kw):
        h, data = _split(kw, ("x", "mask"))
        return forward(cls(**h), data["x"], data["mask"])

    def call_fwd(cls, kw):
        return forward(cls(**kw["_hp"]), kw["x"], kw["mask"])

    return [
        Case(target=target, build=lambda kind, s: Inputs(**hp(s), x=_batch(kind, s, d_of(s)),
                                                         mask=_mask(s)),
             call=call_ctor, roles=hp_roles, kinds=("torch",),
             skip_breakers={k: v for k, v in (skip or {}).items() if k[0] in hp_roles},
             known_failures={k: v for k, v in (known or {}).items() if k[0] in hp_roles}),
        Case(target=target, id=f"{target}.forward",
             build=lambda kind, s: Inputs(x=_batch(kind, s, d_of(s)), mask=_mask(s), _hp=hp(s)),
             call=call_fwd, roles={"x": "points_batch", "mask": "mask"}, kinds=("torch",),
             known_failures={k: v for k, v in (known or {}).items() if k[0] == "x"}),
    ]


CASES += layer_cases("mintlab.nn.MeanPooling", lambda s: dict(in_features=s.d),
                     {"in_features": "pos_int"})
CASES += layer_cases("mintlab.nn.SumPooling", lambda s: dict(in_features=s.d),
                     {"in_features": "pos_int"})
CASES += layer_cases("mintlab.nn.MaxPooling", lambda s: dict(in_features=s.d),
                     {"in_features": "pos_int"})
CASES += layer_cases("mintlab.nn.GeMPooling",
                     lambda s: dict(in_features=s.d, p=3.0, eps=1e-6, learn_p=True),
                     {"in_features": "pos_int", "p": "pos_float", "eps": "pos_float",
                      "learn_p": "bool"})
CASES += layer_cases("mintlab.nn.SortPooling", lambda s: dict(in_features=s.d, n_pieces=s.k),
                     {"in_features": "pos_int", "n_pieces": "pos_int"})
CASES += layer_cases("mintlab.nn.FSPool",
                     lambda s: dict(in_features=s.d, out_features=s.k, width=4, n_pieces=3,
                                    seed=s.seed),
                     {"in_features": "pos_int", "out_features": "pos_int", "width": "pos_int",
                      "n_pieces": "pos_int", "seed": "seed"})
CASES += layer_cases("mintlab.nn.CovariancePooling",
                     lambda s: dict(in_features=s.d, with_mean=True),
                     {"in_features": "pos_int", "with_mean": "bool"})
CASES += layer_cases("mintlab.nn.AttentionPooling",
                     lambda s: dict(in_features=2 * s.d, n_seeds=2, n_heads=2),
                     {"in_features": "pos_int", "n_seeds": "pos_int", "n_heads": "pos_int"},
                     d=lambda s: 2 * s.d)
CASES += layer_cases("mintlab.nn.SWEPooling",
                     lambda s: dict(in_features=s.d, n_slices=s.k, n_reference=s.n,
                                    learn_slices=True, learn_reference=True, seed=s.seed),
                     {"in_features": "pos_int", "n_slices": "pos_int", "n_reference": "pos_int",
                      "learn_slices": "bool", "learn_reference": "bool", "seed": "seed"})
CASES += layer_cases("mintlab.nn.ConstrainedSWEPooling",
                     lambda s: dict(in_features=s.d, n_slices=2, n_reference=4,
                                    constraint="relative", slack=0.1, epsilon=1.0, dual_lr=0.1,
                                    temperature=0.1, tau=1.0, seed=s.seed),
                     {"in_features": "pos_int", "n_slices": "pos_int", "n_reference": "pos_int",
                      "constraint": "choice", "slack": "nonneg_float", "epsilon": "nonneg_float",
                      "dual_lr": "nonneg_float", "temperature": "pos_float", "tau": "pos_float",
                      "seed": "seed"})
CASES += layer_cases("mintlab.nn.EMPERORPooling",
                     lambda s: dict(in_features=s.d, n_slices=s.k, n_components=2, n_iter=2,
                                    learn_slices=False, seed=s.seed),
                     {"in_features": "pos_int", "n_slices": "pos_int", "n_components": "pos_int",
                      "n_iter": "pos_int", "learn_slices": "bool", "seed": "seed"})
# the abstract base of the poolings: its constructor only (subclasses define the pooling)
CASES.append(Case(
    target="mintlab.nn.SetPooling",
    build=lambda kind, s: Inputs(in_features=s.d, out_features=s.k),
    call=lambda cls, kw: cls(**kw).out_features,
    roles={"in_features": "pos_int", "out_features": "pos_int"}, kinds=("none",),
))


def _concat(cls, kw):
    from mintlab.nn import MeanPooling

    h, data = _split(kw, ("x", "mask"))
    first = h.pop("poolings")
    pool = cls(first, MeanPooling(first.in_features) if hasattr(first, "in_features") else first)
    return pool(data["x"], data["mask"])


def _concat_build(kind, s):
    from mintlab.nn import MaxPooling

    return Inputs(poolings=MaxPooling(s.d), x=_batch(kind, s), mask=_mask(s))


CASES += [
    Case(target="mintlab.nn.ConcatPooling", build=_concat_build, call=_concat,
         roles={"poolings": "module"}, kinds=("torch",)),
    Case(target="mintlab.nn.ConcatPooling", id="mintlab.nn.ConcatPooling.forward",
         build=_concat_build, call=_concat, roles={"x": "points_batch", "mask": "mask"},
         kinds=("torch",)),
]

CASES.append(Case(
    target="mintlab.nn.make_pooling",
    build=lambda kind, s: Inputs(name="mean+max", in_features=s.d),
    roles={"name": "choice", "in_features": "pos_int"}, kinds=("none",),
))

CASES += layer_cases("mintlab.nn.PointNetBackbone",
                     lambda s: dict(in_features=s.d, width=4, depth=2),
                     {"in_features": "pos_int", "width": "pos_int", "depth": "pos_int"})
CASES += layer_cases("mintlab.nn.DeepSetsBackbone",
                     lambda s: dict(in_features=s.d, width=4, depth=2, reduce="max"),
                     {"in_features": "pos_int", "width": "pos_int", "depth": "pos_int",
                      "reduce": "choice"})
CASES += layer_cases("mintlab.nn.SetTransformerBackbone",
                     lambda s: dict(in_features=s.d, width=4, depth=1, n_heads=2, n_inducing=3),
                     {"in_features": "pos_int", "width": "pos_int", "depth": "pos_int",
                      "n_heads": "pos_int", "n_inducing": "pos_int"})
CASES += layer_cases("mintlab.nn.SAB", lambda s: dict(dim=2 * s.d, n_heads=2),
                     {"dim": "pos_int", "n_heads": "pos_int"}, d=lambda s: 2 * s.d)
CASES += layer_cases("mintlab.nn.ISAB", lambda s: dict(dim=2 * s.d, n_heads=2, n_inducing=3),
                     {"dim": "pos_int", "n_heads": "pos_int", "n_inducing": "pos_int"},
                     d=lambda s: 2 * s.d)
CASES += layer_cases("mintlab.nn.MultiheadAttentionBlock",
                     lambda s: dict(dim=2 * s.d, n_heads=2, dim_kv=2 * s.d),
                     {"dim": "pos_int", "n_heads": "pos_int", "dim_kv": "pos_int"},
                     d=lambda s: 2 * s.d,
                     forward=lambda layer, x, mask: layer(x, x, mask))
CASES.append(Case(
    target="mintlab.nn.make_backbone",
    build=lambda kind, s: Inputs(name="deepsets", in_features=s.d, width=4),
    roles={"name": "choice", "in_features": "pos_int", "width": "pos_int"}, kinds=("none",),
))


def _classifier_build(kind, s):
    from mintlab.nn import MaxPooling, PointNetBackbone

    return Inputs(backbone=PointNetBackbone(s.d, width=4, depth=1), pooling=MaxPooling(4),
                  n_classes=s.k, hidden=4, x=_batch(kind, s), mask=_mask(s))


def _classifier_call(cls, kw):
    h, data = _split(kw, ("x", "mask"))
    return cls(**h)(data["x"], data["mask"])


CASES += [
    Case(target="mintlab.nn.SetClassifier", build=_classifier_build, call=_classifier_call,
         roles={"backbone": "module", "pooling": "module", "n_classes": "pos_int",
                "hidden": "pos_int"}, kinds=("torch",)),
    Case(target="mintlab.nn.SetClassifier", id="mintlab.nn.SetClassifier.forward",
         build=_classifier_build, call=_classifier_call,
         roles={"x": "points_batch", "mask": "mask"}, kinds=("torch",)),
]


def _train_build(kind, s):
    from mintlab.nn import MeanPooling, PointNetBackbone, SetClassifier

    model = SetClassifier(PointNetBackbone(s.d, width=4, depth=1), MeanPooling(4), n_classes=2,
                          hidden=4)
    return Inputs(model=model, X=_batch(kind, s), y=labels("torch", s.k, 2, seed=s.seed),
                  mask=_mask(s), epochs=1, lr=1e-2, batch_size=2, weight_decay=0.0, seed=s.seed)


CASES.append(Case(
    target="mintlab.nn.fit_classifier", build=_train_build, kinds=("torch",),
    roles={"model": "module", "X": "points_batch", "y": "labels", "mask": "mask",
           "epochs": "pos_int",
           "lr": "pos_float", "batch_size": "pos_int", "weight_decay": "nonneg_float",
           "seed": "seed"},
))


def _accuracy_build(kind, s):
    inp = _train_build(kind, s)
    return Inputs(model=inp["model"], X=inp["X"], y=inp["y"], mask=inp["mask"], batch_size=2)


CASES.append(Case(
    target="mintlab.nn.accuracy", build=_accuracy_build, kinds=("torch",),
    roles={"model": "module", "X": "points_batch", "y": "labels", "mask": "mask",
           "batch_size": "pos_int"},
))

CASES.append(Case(
    target="mintlab.nn.pad_sets",
    build=lambda kind, s: Inputs(sets=_sets(kind, s)),
    roles={"sets": "sets"}, kinds=("torch",),
))


def attention_cases(target: str, hp, hp_roles: dict[str, str], *, skip=None,
                    known=None) -> list[Case]:
    def data(s):
        q = randn("torch", 2, s.n, 2 * s.d, seed=s.seed).float()
        kv = randn("torch", 2, s.m, 2 * s.d, seed=s.seed + 1).float()
        pad = torch.zeros(2, s.m, dtype=torch.bool)
        pad[0, -1] = True
        return q, kv, pad

    def build_ctor(kind, s):
        q, kv, pad = data(s)
        return Inputs(**hp(s), query=q, key=kv, value=kv.clone(), key_padding_mask=pad)

    def call(cls, kw):
        h, d = _split(kw, ("query", "key", "value", "key_padding_mask", "_hp"))
        layer = cls(**(kw["_hp"] if "_hp" in kw else h))
        return layer(d["query"], d["key"], d["value"], key_padding_mask=d["key_padding_mask"])[0]

    def build_fwd(kind, s):
        q, kv, pad = data(s)
        return Inputs(query=q, key=kv, value=kv.clone(), key_padding_mask=pad, _hp=hp(s))

    return [
        Case(target=target, build=build_ctor, call=call, roles=hp_roles, kinds=("torch",),
             skip_breakers=skip or {}, known_failures=known or {}),
        Case(target=target, id=f"{target}.forward", build=build_fwd, call=call,
             roles={"query": "points_batch", "key": "points_batch", "value": "points_batch",
                    "key_padding_mask": "padding_mask"},
             kinds=("torch",)),
    ]


CASES += attention_cases("mintlab.nn.SoftmaxAttention",
                         lambda s: dict(embed_dim=2 * s.d, num_heads=2),
                         {"embed_dim": "pos_int", "num_heads": "pos_int"})
CASES += attention_cases("mintlab.nn.SinkhornAttention",
                         lambda s: dict(embed_dim=2 * s.d, num_heads=2, n_iter=3),
                         {"embed_dim": "pos_int", "num_heads": "pos_int", "n_iter": "pos_int"})
CASES += attention_cases("mintlab.nn.ESPAttention",
                         lambda s: dict(embed_dim=2 * s.d, num_heads=2, n_slices=s.k,
                                        temperature=0.1, beta=0.0, learn_slices=True,
                                        seed=s.seed),
                         {"embed_dim": "pos_int", "num_heads": "pos_int", "n_slices": "pos_int",
                          "temperature": "pos_float", "beta": "nonneg_float",
                          "learn_slices": "bool", "seed": "seed"})
CASES += attention_cases("mintlab.nn.LOTAttention",
                         lambda s: dict(embed_dim=2 * s.d, num_heads=2, n_pivots=s.k,
                                        epsilon=0.5, n_iter=3, seed=s.seed),
                         {"embed_dim": "pos_int", "num_heads": "pos_int", "n_pivots": "pos_int",
                          "epsilon": "pos_float", "n_iter": "pos_int", "seed": "seed"})
CASES += attention_cases("mintlab.nn.LUNAAttention",
                         lambda s: dict(embed_dim=2 * s.d, num_heads=2, n_features=s.k,
                                        causal=False, chunk_size=4, learn_features=True,
                                        seed=s.seed),
                         {"embed_dim": "pos_int", "num_heads": "pos_int",
                          "n_features": "pos_int", "causal": "bool", "chunk_size": "pos_int",
                          "learn_features": "bool", "seed": "seed"})
CASES.append(Case(
    target="mintlab.nn.make_attention",
    build=lambda kind, s: Inputs(name="esp", embed_dim=2 * s.d, num_heads=2),
    roles={"name": "choice", "embed_dim": "pos_int", "num_heads": "pos_int"}, kinds=("none",),
))


# ---------------------------------------------------------------------------------- scale

CASES.append(Case(
    target="mintlab.scale.partition_sets",
    build=lambda kind, s: Inputs(sets=_sets(kind, s), partition_size=2),
    roles={"sets": "sets", "partition_size": "pos_int"},
))


def _topk_build(kind, s):
    rng = np.random.default_rng(s.seed)
    results = [(np.sort(rng.random((2, 3)), axis=1), rng.integers(0, 3, (2, 3)))
               for _ in range(2)]
    return Inputs(results=results, offsets=np.array([0, 3]), k=s.k, sqrt=True)


CASES.append(Case(
    target="mintlab.scale.merge_topk", build=_topk_build, kinds=("numpy",),
    roles={"offsets": "array", "k": "pos_int", "sqrt": "bool"},
))


# ---------------------------------------------------------------------------------- registration

def _register(fn: Any, kw: Inputs) -> Any:
    # the fitted deformation (res.transform) is a numpy callable whatever the input kind; the
    # points and weights follow the input's kind
    res = fn(**kw)
    return res.transformed, res.weights, res.n_iter, res.converged


CASES.append(Case(
    target="mintlab.registration.register", call=_register,
    build=lambda kind, s: Inputs(X_s=randn(kind, s.n + 3, 2, seed=s.seed),
                                 X_t=randn(kind, s.m + 3, 2, seed=s.seed + 1),
                                 transform="rigid", correspondence="sliced_opt", penalty=0.5,
                                 n_iter=2, n_frames=2, regularization=1e-3, width=1.0,
                                 anneal=0.9, tol=1e-6, seed=s.seed),
    roles={"X_s": "points", "X_t": "points", "transform": "choice", "correspondence": "choice",
           "penalty": "pos_float", "n_iter": "pos_int", "n_frames": "pos_int",
           "regularization": "pos_float", "width": "pos_float", "anneal": "prob",
           "tol": "nonneg_float", "seed": "seed"},
))
CASES.append(Case(
    target="mintlab.registration.fit_transform_model",
    build=lambda kind, s: Inputs(X=randn(kind, s.n + 3, 2, seed=s.seed),
                                 Y=randn(kind, s.n + 3, 2, seed=s.seed + 1),
                                 w=simplex(kind, s.n + 3, seed=s.seed), kind="tps",
                                 regularization=1e-3, width=1.0),
    roles={"X": "points", "Y": "points", "w": "weights", "kind": "choice",
           "regularization": "pos_float", "width": "pos_float"},
    kinds=("numpy",), check_output=False,
))
CASES.append(Case(
    target="mintlab.registration.correspondences",
    build=lambda kind, s: Inputs(Y=randn(kind, s.n, s.d, seed=s.seed),
                                 X_t=randn(kind, s.m, s.d, seed=s.seed + 1), method="sliced_opt",
                                 penalty=0.5, n_frames=2, rng=np.random.default_rng(s.seed)),
    roles={"Y": "points", "X_t": "points", "method": "choice", "penalty": "pos_float",
           "n_frames": "pos_int", "rng": "seed"},
    seeded=False,
))


# ---------------------------------------------------------------------------------- generative

CASES.append(Case(
    target="mintlab.generative.drift",
    build=lambda kind, s: Inputs(X=randn(kind, s.n, s.d, seed=s.seed),
                                 Y=randn(kind, s.m, s.d, seed=s.seed + 1), temperature=0.5,
                                 method="sinkhorn", cost="euclidean", n_iter=5),
    roles={"X": "points", "Y": "points", "temperature": "pos_float", "method": "choice",
           "cost": "choice", "n_iter": "pos_int"},
))
CASES.append(Case(
    target="mintlab.generative.particle_flow",
    build=lambda kind, s: Inputs(X=randn(kind, s.n, s.d, seed=s.seed),
                                 Y=randn(kind, s.m, s.d, seed=s.seed + 1), temperature=0.5,
                                 method="kernel", steps=2, step_size=0.5, cost="sqeuclidean",
                                 n_iter=5),
    roles={"X": "points", "Y": "points", "temperature": "pos_float", "method": "choice",
           "steps": "pos_int", "step_size": "pos_float", "cost": "choice", "n_iter": "pos_int"},
))
CASES.append(Case(
    target="mintlab.generative.sinkhorn_coupling",
    build=lambda kind, s: Inputs(X=randn(kind, s.n, s.d, seed=s.seed),
                                 Y=randn(kind, s.m, s.d, seed=s.seed + 1), reg=0.5,
                                 cost="euclidean", n_iter=5),
    roles={"X": "points", "Y": "points", "reg": "pos_float", "cost": "choice",
           "n_iter": "pos_int"},
))
CASES.append(Case(
    target="mintlab.generative.pair_noise",
    build=lambda kind, s: Inputs(x=randn("torch", s.n, s.d, seed=s.seed),
                                 e=randn("torch", s.n, s.d, seed=s.seed + 1), coupling="sliced",
                                 generator=torch.Generator().manual_seed(s.seed)),
    roles={"x": "points", "e": "points", "coupling": "choice", "generator": "seed"},
    kinds=("torch",), seeded=False,
))


def generator_cases(target: str, hp, hp_roles: dict[str, str]) -> list[Case]:
    def data(kind, s):
        return randn(kind, 2 * s.n, 2, seed=s.seed)

    def call_ctor(cls, kw):
        model = cls(**kw)
        return model.sample(3, seed=0)

    def call_fit(cls, kw):
        return cls(**kw["_hp"]).fit(kw["data"], steps=kw["steps"], batch_size=kw["batch_size"],
                                    lr=kw["lr"])

    def call_sample(cls, kw):
        return cls(**kw["_hp"]).sample(kw["n"], seed=kw["seed"])

    return [
        Case(target=target, build=lambda kind, s: Inputs(**hp(s)), call=call_ctor,
             roles=hp_roles, kinds=("torch",)),
        Case(target=target, id=f"{target}.fit",
             build=lambda kind, s: Inputs(data=data(kind, s), steps=1, batch_size=4, lr=1e-3,
                                          _hp=hp(s)),
             call=call_fit, roles={"data": "points", "steps": "pos_int",
                                   "batch_size": "pos_int", "lr": "pos_float"}),
        Case(target=target, id=f"{target}.sample",
             build=lambda kind, s: Inputs(n=s.k, seed=s.seed, _hp=hp(s)),
             call=call_sample, roles={"n": "pos_int", "seed": "seed"}, kinds=("torch",)),
    ]


CASES += generator_cases(
    "mintlab.generative.DriftingGenerator",
    lambda s: dict(dim=2, noise_dim=s.d, hidden=4, depth=1, temperature=0.5, method="sinkhorn",
                   cost="euclidean", n_iter=3, seed=s.seed),
    {"dim": "pos_int", "noise_dim": "pos_int", "hidden": "pos_int", "depth": "pos_int",
     "temperature": "pos_float", "method": "choice", "cost": "choice", "n_iter": "pos_int",
     "seed": "seed"},
)
CASES += generator_cases(
    "mintlab.generative.MeanFlow",
    lambda s: dict(dim=2, hidden=4, depth=1, coupling="ot", flow_fraction=0.5,
                   multistep_only=False, seed=s.seed),
    {"dim": "pos_int", "hidden": "pos_int", "depth": "pos_int", "coupling": "choice",
     "flow_fraction": "prob", "multistep_only": "bool", "seed": "seed"},
)


EXEMPT: dict[str, str] = {
    "mintlab.registration.RegistrationResult": "a frozen result dataclass that register() "
                                               "returns; users never build one from input",
    "mintlab.scale.get_client": "starts or connects to a Dask cluster (seconds per call); its "
                                "argument checks are tested in "
                                "tests/scale/test_validation_scale.py",
    "mintlab.scale.embed_distributed": "a valid call needs a Dask cluster (too slow for the "
                                       "fuzzer); its checks run before any cluster is used and "
                                       "are tested in tests/scale/test_validation_scale.py",
    "mintlab.scale.pairwise_distances_distributed": "a valid call needs a Dask cluster; its "
                                                    "checks run first and are tested in "
                                                    "tests/scale/test_validation_scale.py",
    "mintlab.scale.ShardedSLOSH": "its shards live on Dask workers (a cluster per call is too "
                                  "slow for the fuzzer); constructor, fit and load checks are "
                                  "tested in tests/scale/test_validation_scale.py",
}
