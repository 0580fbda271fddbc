"""Compression: models stored as a seed plus a few numbers.

* :class:`PRANC` (``pranc``): weights as a linear combination of frozen
  random networks, only the coefficients train.
* :class:`MCNC` (``mcnc``): weight chunks on a frozen random sinusoidal
  manifold, only low-dimensional codes and amplitudes train.
* :func:`apply_nola` (``nola``): LoRA's factors as linear combinations of
  random matrices, PEFT-shaped; :func:`apply_lora` for the LoRA baseline
  (PEFT's when installed).

Post-training compression of trained models lives in the subpackages
:mod:`mintlab.compress.svd` (``svd-llm``, ``zs-svd``, ``io-svd``, ``prehab``:
:func:`~mintlab.compress.svd.compress_model`) and :mod:`mintlab.compress.quant`
(``conqur``: :func:`~mintlab.compress.quant.quantize_model`), with the offline
language-model testbed in :mod:`mintlab.compress.testbed`.

Every random tensor is generated from the seed by named streams
(:mod:`mintlab.compress._basis`): ``export()`` / :func:`rebuild` and
:func:`save_adapter` / :func:`load_adapter` store only the trained numbers.
Models from ``compress_model`` and ``quantize_model`` are saved and reloaded
with :func:`save_compressed` / :func:`load_compressed`
(:mod:`mintlab.compress.artifacts`); :func:`merge_low_rank` turns their
low-rank layers back into dense ``nn.Linear`` layers.
"""

from ._reparam import CompressedModel, Reparameterized, init_bound, rebuild, select_parameters
from .artifacts import load_compressed, merge_low_rank, save_compressed
from .nola import (
    LoRAConfig,
    LoRALayer,
    NOLAConfig,
    NOLALayer,
    adapter_bytes,
    adapter_state_dict,
    apply_lora,
    apply_nola,
    count_trainable_parameters,
    load_adapter,
    merge_adapter,
    peft_available,
    save_adapter,
    to_peft_lora,
    unmerge_adapter,
)
from .random_basis import MCNC, PRANC
from .training import accuracy, fit_classifier

__all__ = [
    "PRANC", "MCNC", "CompressedModel", "Reparameterized", "rebuild", "init_bound",
    "select_parameters",
    "NOLAConfig", "LoRAConfig", "NOLALayer", "LoRALayer", "apply_nola", "apply_lora",
    "merge_adapter", "unmerge_adapter", "adapter_state_dict", "save_adapter", "load_adapter",
    "count_trainable_parameters", "adapter_bytes", "peft_available", "to_peft_lora",
    "fit_classifier", "accuracy", "save_compressed", "load_compressed", "merge_low_rank",
]
