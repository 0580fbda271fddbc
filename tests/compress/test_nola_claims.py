"""NOLA: the trained-number counts the experiment reports hold by construction.

NOLA trains ``n_basis_A + n_basis_B`` numbers per adapted layer whatever its
rank, while LoRA at rank 1 trains ``in + out`` per layer (its lower bound);
with the experiment's MLP and settings NOLA trains about half of rank-1
LoRA's numbers, and raising its rank adds none.
"""

from mintlab.compress import (
    LoRAConfig,
    NOLAConfig,
    adapter_bytes,
    apply_lora,
    apply_nola,
    count_trainable_parameters,
)
from mintlab.experiments._compress_common import mlp
from mintlab.experiments.nola import WIDTHS


def test_nola_trains_fewer_numbers_than_rank_one_lora_and_none_more_with_rank():
    layers = list(zip(WIDTHS[:-1], WIDTHS[1:], strict=True))
    lora = apply_lora(mlp(WIDTHS, 0), LoRAConfig(rank=1, seed=0), backend="mintlab")
    assert count_trainable_parameters(lora) == sum(i + o for i, o in layers) == 586
    counts = {}
    for rank in (1, 4, 16):
        nola = apply_nola(mlp(WIDTHS, 0), NOLAConfig(rank=rank, n_basis_A=48, n_basis_B=48,
                                                     seed=0))
        counts[rank] = count_trainable_parameters(nola)
        assert adapter_bytes(nola) == 4 * counts[rank] + 8
    assert set(counts.values()) == {len(layers) * (48 + 48)} == {288}
    assert counts[4] < count_trainable_parameters(lora) / 2
