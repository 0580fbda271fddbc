"""Torch layers for sets and sequences: global poolings, set backbones, transport attention.

Submodules: :mod:`mintlab.nn.pooling`, :mod:`mintlab.nn.sets`,
:mod:`mintlab.nn.attention`; every layer is also importable from
``mintlab.nn``. Sets are ``(batch, n, d)`` tensors with an optional boolean
``mask`` (``True`` at real elements); attention layers follow
``nn.MultiheadAttention(batch_first=True)``, including its
``key_padding_mask`` (``True`` at keys to ignore).
"""

from .._training import accuracy, fit_classifier
from ._common import pad_sets
from .attention import (
    ATTENTIONS,
    ESPAttention,
    LOTAttention,
    LUNAAttention,
    SinkhornAttention,
    SoftmaxAttention,
    make_attention,
)
from .pooling import (
    POOLINGS,
    AttentionPooling,
    ConcatPooling,
    ConstrainedSWEPooling,
    CovariancePooling,
    EMPERORPooling,
    FSPool,
    GeMPooling,
    MaxPooling,
    MeanPooling,
    SetPooling,
    SortPooling,
    SumPooling,
    SWEPooling,
    make_pooling,
)
from .sets import (
    BACKBONES,
    ISAB,
    SAB,
    DeepSetsBackbone,
    MultiheadAttentionBlock,
    PointNetBackbone,
    SetClassifier,
    SetTransformerBackbone,
    make_backbone,
)

__all__ = [
    "pad_sets", "fit_classifier", "accuracy",
    "ATTENTIONS", "ESPAttention", "LOTAttention", "LUNAAttention", "SinkhornAttention",
    "SoftmaxAttention", "make_attention",
    "POOLINGS", "AttentionPooling", "ConcatPooling", "ConstrainedSWEPooling",
    "CovariancePooling", "EMPERORPooling", "FSPool", "GeMPooling", "MaxPooling", "MeanPooling",
    "SetPooling", "SortPooling", "SumPooling", "SWEPooling", "make_pooling",
    "BACKBONES", "ISAB", "SAB", "DeepSetsBackbone", "MultiheadAttentionBlock",
    "PointNetBackbone", "SetClassifier", "SetTransformerBackbone", "make_backbone",
]
