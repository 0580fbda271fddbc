"""``nola``: adapting a frozen network with fewer numbers than rank-1 LoRA, on digits.

An MLP (64-128-128-10) is trained on upright 8x8 digits, then adapted to
digits rotated by 90 degrees (a shift that drops it to chance) with its
weights frozen:

* LoRA at rank 1 on all three layers (Hugging Face PEFT's LoRA when
  ``peft`` is installed, else mintlab's; 586 trained numbers), the
  smallest LoRA there is;
* NOLA at rank 4 with 48 + 48 basis matrices per layer (288 trained
  numbers, about half);
* full fine-tuning, the reference.

Each gets the same learning-rate grid (best on the validation split).
Claims checked: NOLA, with half of rank-1 LoRA's trained numbers, reaches
LoRA's accuracy within 2 points, and the adaptation recovers the shift.
The full run also shows that NOLA's rank can grow (4 -> 16) without adding
trained numbers.
Scaled down from the paper's GPT-2 / LLaMA-2 / ViT fine-tuning.
"""

from __future__ import annotations

import copy

from mintlab.compress import (
    LoRAConfig,
    NOLAConfig,
    accuracy,
    adapter_bytes,
    apply_lora,
    apply_nola,
    peft_available,
)
from mintlab.datasets import rotate_digits

from ._compress_common import digits_tensors, fit_best_lr, mlp, n_trainable
from ._core import Experiment, Result
from .registry import register

CLAIM = (
    "Re-parameterising LoRA's factors as linear combinations of seeded random matrices matches "
    "LoRA's accuracy with fewer trained parameters than rank-1 LoRA, the most compact LoRA."
)

WIDTHS = [64, 128, 128, 10]


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result()
    source = digits_tensors(seed)
    target = digits_tensors(seed, lambda X: rotate_digits(X, 1))
    lrs = [3e-3, 1e-2, 3e-2, 1e-1]
    epochs = 60 if quick else 150

    pre = fit_best_lr(lambda: mlp(WIDTHS, seed), source, [3e-3, 1e-2], epochs, seed)
    state = copy.deepcopy(pre.model.state_dict())

    def pretrained():
        m = mlp(WIDTHS, seed)
        m.load_state_dict(state)
        return m

    res.metrics["source_accuracy"] = pre.test_accuracy
    res.metrics["target_accuracy_without_adaptation"] = accuracy(
        pretrained(), target["X_test"], target["y_test"])

    backend = "peft" if peft_available() else "mintlab"
    lora = fit_best_lr(lambda: apply_lora(pretrained(), LoRAConfig(rank=1, seed=seed),
                                          backend=backend), target, lrs, epochs, seed)
    configs = {"nola_r4": NOLAConfig(rank=4, n_basis_A=48, n_basis_B=48, seed=seed)}
    if not quick:
        configs["nola_r16"] = NOLAConfig(rank=16, n_basis_A=48, n_basis_B=48, seed=seed)
        configs["nola_r4_small"] = NOLAConfig(rank=4, n_basis_A=24, n_basis_B=24, seed=seed)
    nola = {name: fit_best_lr(lambda c=c: apply_nola(pretrained(), c), target, lrs, epochs, seed)
            for name, c in configs.items()}
    full = fit_best_lr(pretrained, target, [1e-3, 3e-3], epochs, seed)

    res.metrics.update({
        "lora_backend_is_peft": float(backend == "peft"),
        "lora_r1_accuracy": lora.test_accuracy, "lora_r1_trained": n_trainable(lora.model),
        "lora_r1_bytes": adapter_bytes(lora.model),
        "full_finetune_accuracy": full.test_accuracy, "full_finetune_trained":
            n_trainable(full.model),
    })
    for name, fit in nola.items():
        res.metrics[f"{name}_accuracy"] = fit.test_accuracy
        res.metrics[f"{name}_trained"] = n_trainable(fit.model)
        res.metrics[f"{name}_bytes"] = adapter_bytes(fit.model)

    main = nola["nola_r4"]
    res.check("nola_matches_lora_r1", main.test_accuracy - lora.test_accuracy, -0.02, ">=",
              description=f"NOLA (rank 4, {n_trainable(main.model)} trained numbers) minus "
                          f"rank-1 LoRA ({backend}, {n_trainable(lora.model)} trained numbers) "
                          "target test accuracy; margin 2 points")
    res.metrics["nola_over_lora_trained_ratio"] = n_trainable(main.model) / n_trainable(lora.model)
    res.check("adaptation_recovers_the_shift",
              main.test_accuracy - res.metrics["target_accuracy_without_adaptation"], 0.5, ">=",
              description="NOLA target accuracy minus the frozen model's")

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    points = [("LoRA r=1", lora)] + [(k.replace("_", " "), v) for k, v in nola.items()] + \
        [("full fine-tune", full)]
    for label, fit in points:
        ax.scatter(n_trainable(fit.model), fit.test_accuracy, s=40)
        ax.annotate(label, (n_trainable(fit.model), fit.test_accuracy), fontsize=8,
                    xytext=(4, -10), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("trained numbers")
    ax.set_ylabel("accuracy on rotated digits")
    ax.set_title("Adapting a frozen MLP to 90-degree rotated digits")
    fig.tight_layout()
    res.figures["nola_accuracy_vs_trained"] = fig
    return res


EXPERIMENT = register(Experiment("nola", CLAIM, run))
