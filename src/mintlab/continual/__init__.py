"""Continual learning: task streams, strategies, lifelong metrics, attacks and unlearning.

Modules: :mod:`~mintlab.continual.benchmarks` (task streams, real-image
streams), :mod:`~mintlab.continual.strategies` (fine-tuning, multitask, and
the composable plugins replay, EWC, GPM, sparse GPM),
:mod:`~mintlab.continual.metrics` (the lifelong-metrics suite),
:mod:`~mintlab.continual.ssl` (continual self-supervised learning),
:mod:`~mintlab.continual.attacks` (BrainWash),
:mod:`~mintlab.continual.unlearning` (CovarNav). The main names are also
available from ``mintlab.continual`` directly.

Lifelong reinforcement learning needs the ``rl`` extra (Gymnasium,
Stable-Baselines3) and is imported on its own: :mod:`mintlab.continual.envs`
(the CT-graph environment) and :mod:`mintlab.continual.rl` (modulating masks,
PPO agents, MOSAIC collectives).
"""

from . import benchmarks, metrics, models, strategies
from .benchmarks import (
    Task,
    TaskStream,
    continual_swiss_roll,
    gaussian_mixture_stream,
    image_stream,
    mnist1d_stream,
    permuted_digits,
    permuted_fashion_mnist,
    permuted_mnist,
    rotated_digits,
    rotated_fashion_mnist,
    rotated_mnist,
    split_digits,
    split_fashion_mnist,
    split_mnist,
)
from .metrics import LifelongLog, LifelongMetrics, lifelong_metrics
from .models import ContinualConvNet, ContinualMLP, KWinner
from .strategies import (
    EWC,
    GPM,
    EWCPlugin,
    GPMPlugin,
    Joint,
    Naive,
    Plugin,
    Replay,
    ReplayPlugin,
    SparseGPM,
    SparseGPMPlugin,
    Strategy,
    run_stream,
)

__all__ = ["benchmarks", "metrics", "models", "strategies", "Task", "TaskStream",
           "split_digits", "permuted_digits", "rotated_digits", "mnist1d_stream",
           "continual_swiss_roll", "gaussian_mixture_stream", "LifelongLog", "LifelongMetrics",
           "lifelong_metrics", "ContinualMLP", "KWinner", "Strategy", "Plugin", "Naive",
           "Joint", "Replay", "EWC", "GPM", "SparseGPM", "run_stream",
           "image_stream", "split_fashion_mnist", "permuted_fashion_mnist",
           "rotated_fashion_mnist", "split_mnist", "permuted_mnist", "rotated_mnist",
           "ContinualConvNet", "ReplayPlugin", "EWCPlugin", "GPMPlugin", "SparseGPMPlugin"]
