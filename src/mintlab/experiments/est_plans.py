"""``est-plans``: Expected Sliced Transport plans on MNIST point clouds and Gaussian sets.

Data: real MNIST digits as weighted 2D point clouds (every pixel above half
intensity is a point weighted by its intensity, 60-250 points per digit),
and, for higher dimension, random weighted Gaussian point sets in R^10 and
R^50. The EST distance is ``d(mu, nu) = C(EST plan)^(1/2)`` with the squared
Euclidean ground cost (p = 2).

Claims and how each is judged (every seed must pass):

1. ``est_is_metric``: the EST distance satisfies the triangle inequality
   - with the same directions for every distance call (the expectation over
     a fixed discrete slicing measure): the largest relative violation
     ``(d(x,z) - d(x,y) - d(y,z)) / d(x,z)`` over random digit triples, the
     equality case (a digit and two translates along one line), Gaussian
     triples in R^10 and R^50 (half of them nearly tight) and adversarial
     triples (starting from two translates, where equality holds, the middle
     cloud's points are moved by a hill-climb towards a violation) stays
     below 1e-10;
   - with fresh directions for every call (a Monte Carlo estimate of the
     expectation over the uniform measure on the sphere): no violation
     exceeds 4 Monte Carlo standard errors of the slack (the error of each
     distance from the spread of its slice costs);
   - and our plans and costs equal POT's independent
     ``ot.expected_sliced_plan`` on the same projections, for beta = 0 and
     beta > 0 (largest relative cost difference and largest plan entry
     difference below 1e-10).
2. ``min_swgg_connection``: as beta grows, the EST plan concentrates on the
   cheapest slice: at ``beta = 1e6 / (cheapest slice cost)`` its cost equals
   POT's ``ot.sliced.min_sliced_transport_plan`` (min-SWGG) on the same
   projections (relative difference below 1e-6), on uniform 60-point digit
   clouds. The whole cost curve from beta = 0 to that limit, and the exact
   OT cost, are reported.

POT 0.9.7 as an oracle: its averaged plan (beta = 0) is exact for weighted
measures of any sizes, but the per-slice costs it reports for weighted or
unequal-size measures are not the costs of its own per-slice plans
(``ot.utils.sparse_ot_dist`` weights each plan entry by ``w[i]``, the mass
of the entry whose index is the entry's *row*, instead of ``w[k]``, the
entry's own mass). Those costs drive its beta weighting and its choice of
the min-SWGG slice, so the beta > 0 and min-SWGG cross-checks use uniform
clouds of equal size, where POT takes its permutation path; the size of
the discrepancy on the weighted digits is reported
(``pot_weighted_slice_cost_relative_error``).

That the plan is a coupling, that its cost is at least the exact OT cost, that
the distance is symmetric and that the cost decreases with beta hold by
construction and are tested in ``tests/transport/test_est_plans_claims.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot

from mintlab.datasets import image_point_clouds, load_mnist
from mintlab.transport import emd, expected_sliced_plan, random_directions

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "est_is_metric": "Using the EST plan to weight the sum of the individual Euclidean costs "
                     "for moving from one point to another results in a valid metric between "
                     "the input discrete probability measures.",
    "min_swgg_connection": "We demonstrate the connection between our approach and the "
                           "recently proposed min-SWGG.",
}


@dataclass(frozen=True, kw_only=True)
class EstPlansSettings(Settings):
    n_projections: int  # slices L of every EST plan with fixed directions
    fresh_projections: int  # slices of every call in the fresh-directions test
    n_triples: int  # random digit triples (and Gaussian triples per dimension)
    adversarial: int  # adversarial (hill-climbed) digit triples
    climb_steps: int  # hill-climb steps per adversarial triple
    gauss_dims: tuple[int, ...]  # dimensions of the Gaussian triples
    max_points: int  # largest support of a Gaussian measure
    n_pairs: int  # digit pairs for the POT cross-checks and the beta curve


QUICK = EstPlansSettings(seeds=3, n_projections=64, fresh_projections=128, n_triples=12,
                         adversarial=2, climb_steps=25, gauss_dims=(10, 50), max_points=40,
                         n_pairs=6)
FULL = EstPlansSettings(seeds=5, n_projections=128, fresh_projections=256, n_triples=40,
                        adversarial=6, climb_steps=40, gauss_dims=(3, 10, 50, 100),
                        max_points=80, n_pairs=20)
EXPECTED = "reproduced"

MAX_Z = 4.0  # fresh directions: largest violation in Monte Carlo standard errors
BETAS = (0.0, 1.0, 10.0, 100.0, 1e3, 1e6)  # in units of 1 / (cheapest slice cost)


def _digits(rng, k):
    imgs, _ = load_mnist("test", n=max(k, 10), seed=int(rng.integers(2**31)))
    meas = image_point_clouds(imgs[rng.permutation(len(imgs))[:k]], threshold=0.5).measures()
    return [(np.asarray(X, float), np.asarray(w, float)) for X, w in meas]


def _uniform_digits(rng, k, n_points=60):
    """Digits as uniform clouds of their ``n_points`` brightest pixels (equal sizes)."""
    imgs, _ = load_mnist("test", n=max(3 * k, 10), seed=int(rng.integers(2**31)))
    pc = image_point_clouds(imgs[rng.permutation(len(imgs))], threshold=0.2,
                            n_points=n_points)
    keep = np.asarray(pc.mask).all(axis=1)  # digits with at least n_points bright pixels
    return [(np.asarray(X, float), np.full(n_points, 1.0 / n_points))
            for X in np.asarray(pc.X)[keep][:k]]


def _gauss(rng, n, d):
    X = rng.normal(size=(n, d)) * rng.uniform(0.3, 2.0) + rng.normal(scale=2.0, size=d)
    w = rng.random(n) + 0.05
    return X, w / w.sum()


def _dist(U, u, V, v, theta):
    return float(expected_sliced_plan(U, V, u, v, projections=theta).cost) ** 0.5


def _violation(tri, theta):
    (X, a), (Y, b), (Z, c) = tri
    dxy, dyz, dxz = _dist(X, a, Y, b, theta), _dist(Y, b, Z, c, theta), _dist(X, a, Z, c, theta)
    return (dxz - dxy - dyz) / max(dxz, 1e-12)


def _fresh_z(tri, L, rng):
    """Violation of one triple with fresh directions per call, in Monte Carlo standard errors."""
    (X, a), (Y, b), (Z, c) = tri
    d = X.shape[1]
    out = []
    for (U, u), (V, v) in (((X, a), (Y, b)), ((Y, b), (Z, c)), ((X, a), (Z, c))):
        th = random_directions(d, L, seed=int(rng.integers(2**31))).numpy()
        sc = np.asarray(expected_sliced_plan(U, V, u, v, projections=th).slice_costs)
        dist = np.sqrt(sc.mean())
        se = sc.std(ddof=1) / np.sqrt(L) / (2 * max(dist, 1e-12))  # delta method for the root
        out.append((dist, se))
    (dxy, sxy), (dyz, syz), (dxz, sxz) = out
    return (dxz - dxy - dyz) / max(np.sqrt(sxy**2 + syz**2 + sxz**2), 1e-15)


def _climb(rng, tri, theta, steps):
    """Move the middle measure's points to maximise the relative violation (fixed directions)."""
    (X, a), (Y, b), (Z, c) = tri
    best = _violation(tri, theta)
    scale = 0.01 * np.std(Y)
    for _ in range(steps):
        cand = Y + scale * rng.normal(size=Y.shape)
        v = _violation(((X, a), (cand, b), (Z, c)), theta)
        if v > best:
            best, Y = v, cand
    return best


def run(settings: EstPlansSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    L = settings.n_projections
    th2 = random_directions(2, L, seed=seed).numpy()

    # --- triangle inequality, fixed directions
    digits = _digits(rng, 3 * settings.n_triples)
    triples = {"digits": [tuple(digits[3 * i:3 * i + 3]) for i in range(settings.n_triples)]}
    X, a = digits[0]
    v = rng.normal(size=2) * 0.3
    triples["translates"] = [((X, a), (X + 0.5 * v, a), (X + v, a))]
    for d in settings.gauss_dims:
        tr = []
        for t in range(settings.n_triples):
            A, B, C = (_gauss(rng, int(rng.integers(5, settings.max_points)), d) for _ in range(3))
            if t % 2:  # nearly tight: the middle set halfway between the other two
                C = _gauss(rng, A[0].shape[0], d)
                u = np.full(A[0].shape[0], 1.0 / A[0].shape[0])
                A, C = (A[0], u), (C[0], u)
                B = (0.5 * (A[0] + C[0]) + 1e-3 * rng.normal(size=A[0].shape), u)
            tr.append((A, B, C))
        triples[f"gauss_d{d}"] = tr
    thetas = {d: random_directions(d, L, seed=seed + d).numpy() for d in settings.gauss_dims}
    worst = -np.inf
    for name, tr in triples.items():
        theta = th2 if not name.startswith("gauss") else thetas[int(name.split("_d")[1])]
        viol = np.array([_violation(t, theta) for t in tr])
        res.metrics[f"max_relative_violation_{name}"] = float(viol.max())
        worst = max(worst, float(viol.max()))
    adv = []
    for i in range(settings.adversarial):
        # start at equality (two translates) and push the middle cloud towards a violation
        Xa, wa = digits[i]
        va = rng.normal(size=2) * 0.3
        adv.append(_climb(rng, ((Xa, wa), (Xa + 0.5 * va, wa), (Xa + va, wa)), th2,
                          settings.climb_steps))
    res.metrics["max_relative_violation_adversarial"] = float(max(adv))
    worst = max(worst, float(max(adv)))
    res.check("triangle_fixed_directions", worst, 1e-10, "<=", claim="est_is_metric",
              description="largest relative violation (d(x,z) - d(x,y) - d(y,z)) / d(x,z) over "
                          "digit triples, translates on a line, Gaussian triples in d = "
                          f"{', '.join(map(str, settings.gauss_dims))} and hill-climbed "
                          f"adversarial triples; L = {L} directions shared by all calls; "
                          "every seed")

    # --- triangle inequality, fresh directions per call (Monte Carlo estimate)
    z = [_fresh_z(t, settings.fresh_projections, rng) for name, tr in triples.items()
         for t in tr if name != "translates"]  # translates: every slice costs the same
    res.metrics["max_violation_in_standard_errors_fresh"] = float(max(z))
    res.check("triangle_fresh_directions", float(max(z)), MAX_Z, "<=", claim="est_is_metric",
              description="largest violation of the triangle inequality in Monte Carlo "
                          "standard errors of the slack, fresh "
                          f"{settings.fresh_projections} directions per distance call, all "
                          "triples above; every seed")

    # --- POT's independent implementation on the same projections. Weighted clouds of
    # different sizes at beta = 0 (POT averages its lifted plans); beta > 0 and min-SWGG on
    # uniform clouds of equal size (the 60 brightest pixels), where POT's per-slice costs are
    # those of its plans (see the module docstring for the weighted case)
    pairs = [(digits[i], digits[-1 - i]) for i in range(settings.n_pairs)]
    uniform = _uniform_digits(rng, 2 * settings.n_pairs)
    upairs = [(uniform[2 * i], uniform[2 * i + 1]) for i in range(settings.n_pairs)]
    cost_diff, plan_diff, pot_slice_err = 0.0, 0.0, 0.0
    for ((Xs, ws), (Xt, wt)), ((Us, us), (Ut, ut)) in zip(pairs, upairs, strict=True):
        for (A, wa, B, wb, beta) in ((Xs, ws, Xt, wt, 0.0), (Us, us, Ut, ut, 0.0),
                                     (Us, us, Ut, ut, 50.0)):
            ours = expected_sliced_plan(A, B, wa, wb, projections=th2, beta=beta)
            P, c = ot.expected_sliced_plan(A, B, wa, wb, projections=th2, beta=beta)
            cost_diff = max(cost_diff, abs(float(ours.cost) - float(c)) / float(c))
            plan_diff = max(plan_diff, float(np.abs(ours.plan - P).max()))
        # POT's reported per-slice costs vs the costs of its own per-slice plans (weighted)
        plans, costs = ot.sliced.sliced_plans(Xs, Xt, ws, wt, projections=th2[:, :8])
        M = ot.dist(Xs, Xt)
        for pl, c in zip(plans, costs, strict=True):
            true = float(np.sum(np.asarray(pl.data) * M[np.asarray(pl.rows), np.asarray(pl.cols)]))
            pot_slice_err = max(pot_slice_err, abs(float(c) - true) / true)
    res.metrics.update({"max_relative_cost_difference_to_pot": cost_diff,
                        "max_plan_difference_to_pot": plan_diff,
                        "pot_weighted_slice_cost_relative_error": pot_slice_err})
    res.check("agrees_with_pot_expected_sliced_plan", max(cost_diff, plan_diff), 1e-10, "<=",
              claim="est_is_metric",
              description="largest of (relative cost difference, largest plan entry "
                          "difference) between our EST plans and POT's ot.expected_sliced_plan "
                          f"on the same {L} projections: weighted digit clouds at beta = 0, "
                          "uniform 60-point digit clouds at beta = 0 and 50; "
                          f"{settings.n_pairs} pairs each; every seed")

    # --- min-SWGG as beta grows (uniform clouds of equal size)
    curves_list, exact, swgg_diff = [], [], 0.0
    for (Xs, ws), (Xt, wt) in upairs:
        base = expected_sliced_plan(Xs, Xt, ws, wt, projections=th2)
        cmin = float(np.min(base.slice_costs))
        costs = [float(expected_sliced_plan(Xs, Xt, ws, wt, projections=th2,
                                            beta=bt / cmin).cost) for bt in BETAS]
        _, c_swgg = ot.sliced.min_sliced_transport_plan(Xs, Xt, ws, wt, projections=th2)
        swgg_diff = max(swgg_diff, abs(costs[-1] - float(c_swgg)) / float(c_swgg))
        curves_list.append(np.array(costs) / float(c_swgg))
        exact.append(float(ot.emd2(ws, wt, ot.dist(Xs, Xt))) / float(c_swgg))
    curves = np.array(curves_list)
    for bt, col in zip(BETAS, curves.T, strict=True):
        res.metrics[f"median_est_over_min_swgg_beta{bt:g}"] = float(np.median(col))
    res.metrics["median_exact_over_min_swgg"] = float(np.median(exact))
    res.metrics["max_relative_difference_large_beta_to_pot_min_swgg"] = swgg_diff
    res.check("large_beta_equals_pot_min_swgg", swgg_diff, 1e-6, "<=",
              claim="min_swgg_connection",
              description="relative difference between the EST cost at beta = 1e6 / (cheapest "
                          "slice cost) and POT's min_sliced_transport_plan (min-SWGG) on the "
                          f"same {L} projections, {settings.n_pairs} pairs of uniform 60-point "
                          "digit clouds; every seed")

    # figure: plans on a 2D example and the beta curve
    (P2, a2), (Q2, b2) = pairs[0]
    M = ot.dist(P2, Q2)
    plans = {"exact OT": emd(a2, b2, M),
             "EST (beta=0)": expected_sliced_plan(P2, Q2, a2, b2, projections=th2).plan,
             "min-SWGG (POT)": ot.sliced.min_sliced_transport_plan(P2, Q2, a2, b2,
                                                                   projections=th2)[0]}
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    Q2s = Q2 + np.array([1.2, 0.0])
    for ax, (name, G) in zip(axes, plans.items(), strict=False):
        ax.scatter(*P2.T, c="C0", s=4)
        ax.scatter(*Q2s.T, c="C1", s=4)
        gmax = G.max()
        for i, j in list(zip(*np.nonzero(G > 1e-4 * gmax), strict=True))[::4]:
            ax.plot([P2[i, 0], Q2s[j, 0]], [P2[i, 1], Q2s[j, 1]], "k-",
                    alpha=float(G[i, j] / gmax) * 0.5, lw=0.5)
        ax.set_title(f"{name}: cost {(G * M).sum():.4f}", fontsize=9)
        ax.set_aspect("equal")
    xs = [max(b, 0.1) for b in BETAS]
    axes[3].semilogx(xs, np.median(curves, axis=0), "o-", label="EST cost / min-SWGG")
    axes[3].axhline(1.0, color="C2", ls="--", label="min-SWGG (POT)")
    axes[3].axhline(float(np.median(exact)), color="k", ls=":", label="exact OT")
    axes[3].set_xlabel("beta x cheapest slice cost (0 plotted at 0.1)")
    axes[3].legend(fontsize=7)
    fig.tight_layout()
    res.figures["est_plans"] = fig
    return res


EXPERIMENT = register(Experiment(
    "est-plans", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="MNIST digits (test split) as weighted 2D point clouds, pixels above half intensity; "
         "random weighted Gaussian point sets in R^10 and R^50 (R^3 to R^100 in full) for the "
         "higher-dimensional triangle tests",
    full_scale="the paper's illustrative examples at their sizes; here hundreds of triples "
               "per run, adversarial hill-climbs, and POT cross-checks on the same projections",
))
