"""Optimise a trained model before conversion: pruning, 2:4 sparsity, clustering, QAT, PQAT, CQAT.

Every mode clones the user's model first (it is never changed in place), fine-tunes the copy by distillation
on the run's own training images, and keeps the output names (``detections``) stable through tfmot's wrappers.
``parse_modes("prune,qat")`` validates a ``--optimize`` value; ``optimize(mode, model, images, options)`` runs one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .cluster import ClusterConfig, cluster
from .common import FineTune, OptimizeError
from .prune import PruneConfig, prune
from .qat import QatConfig, quantize_aware
from .sparsity import SparsityReport

# mode -> what it does (shown in --help and in errors)
MODES: dict[str, str] = {
    "prune": "magnitude pruning to --sparsity with a polynomial schedule, fine-tuned then stripped",
    "prune24": "2:4 structured sparsity (two zeros in every four input-channel weights)",
    "cluster": "weight clustering to --clusters distinct values per kernel",
    "qat": "quantisation-aware training (export it as int8)",
    "pqat": "pruning, then sparsity-preserving QAT",
    "cqat": "clustering, then cluster-preserving QAT",
}
QUANTIZED_MODES = ("qat", "pqat", "cqat")  # their models carry fake-quant ops: export them with an int8 format


# Measured on the 192 px synthetic detector (docs/optimization.md): pruning needs a high learning rate that decays
# and steps at the final sparsity to recover; QAT needs a low one, or it walks away from the trained weights.
DEFAULT_TUNE = FineTune(steps=400, batch_size=8, learning_rate=2e-3, final_lr_fraction=0.02)
QAT_LEARNING_RATE = 1e-5
PRUNE_DENSE_SHARE = 0.05  # 50 % overall: 0.25 point lost with 5 % of the weights dense, 1.98 with none (measured)


@dataclass(frozen=True)
class OptimizeOptions:
    sparsity: float = 0.5
    frequency: int = 10
    clusters: int = 16
    tune: FineTune = DEFAULT_TUNE  # prune, prune24, cluster and the first stage of pqat/cqat
    prune_ramp: float = 0.4  # sparsity ramps over this fraction of the fine-tune, then holds while it recovers
    qat_learning_rate: float = QAT_LEARNING_RATE  # QAT (and the QAT stage of pqat/cqat) fine-tunes at this rate
    # prune/pqat keep the smallest Conv2D/Dense layers holding this share of the weights dense (first conv, narrow
    # projections, output convs); the others prune harder so the --sparsity target holds over all of them
    prune_dense_share: float = PRUNE_DENSE_SHARE

    @property
    def qat_tune(self) -> FineTune:
        return replace(self.tune, learning_rate=self.qat_learning_rate)


@dataclass
class Optimized:
    mode: str
    model: object
    report: SparsityReport
    notes: list[str] = field(default_factory=list)


def parse_modes(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise OptimizeError(f"no optimisation mode given; valid modes: {', '.join(MODES)}")
    unknown = [n for n in names if n not in MODES]
    if unknown:
        raise OptimizeError(f"unknown optimisation mode {', '.join(map(repr, unknown))}; "
                            f"valid modes: {', '.join(MODES)}")
    return list(dict.fromkeys(names))


def optimize(mode: str, model, images: np.ndarray, options: OptimizeOptions = OptimizeOptions()) -> Optimized:
    """Run one mode on a clone of ``model``; the returned model keeps ``model``'s output names."""
    parse_modes(mode)
    prune_cfg = PruneConfig(options.sparsity, options.frequency, tune=options.tune, ramp=options.prune_ramp,
                            dense_share=options.prune_dense_share)
    if mode == "prune":
        r = prune(model, images, prune_cfg)
        return Optimized(mode, r.model, r.report, [f"pruned {len(r.pruned_layers)} layers to {r.achieved:.3f}"])
    if mode == "prune24":
        r = prune(model, images, PruneConfig(0.5, options.frequency, m_by_n=(2, 4), tune=options.tune))
        return Optimized(mode, r.model, r.report, [f"2:4 pattern in {len(r.pruned_layers)} layers"])
    cluster_cfg = ClusterConfig(options.clusters, tune=options.tune)
    if mode == "cluster":
        r = cluster(model, images, cluster_cfg)
        return Optimized(mode, r.model, r.report, [f"{options.clusters} clusters in {len(r.clustered_layers)} layers"])
    if mode == "qat":
        q = quantize_aware(model, images, QatConfig("default", options.qat_tune))
    elif mode == "pqat":
        base = prune(model, images, prune_cfg).model
        q = quantize_aware(base, images, QatConfig("prune_preserve", options.qat_tune), teacher=model)
    else:  # cqat
        clustered = cluster(model, images, cluster_cfg)
        q = quantize_aware(clustered.model, images, QatConfig("cluster_preserve", options.qat_tune), teacher=model)
    notes = [f"float layers: {', '.join(q.float_layers)}"] if q.float_layers else []
    if mode == "cqat":
        notes += clusters_lost(q.report, clustered.clustered_layers, options.clusters)
    return Optimized(mode, q.model, q.report, notes)


def clusters_lost(report: SparsityReport, clustered: tuple[str, ...], clusters: int) -> list[str]:
    """A note naming the clustered kernels that left their ``clusters`` values during cluster-preserving QAT.

    tfmot's CQAT does not keep the clusters of every kernel (tensorflow/model-optimization issue 1056; measured
    with tfmot 0.8.1, docs/optimization.md: 16 of the 41 clustered kernels of the segmentation model); the layer
    table shows the distinct values of each, and this note says which kernels lost the compression that
    clustering gave them."""
    lost = [layer.name for layer in report.layers if layer.name in clustered and layer.distinct > clusters]
    if not lost:
        return []
    return [f"clusters not kept through QAT in {len(lost)} of {len(clustered)} clustered layers (more than "
            f"{clusters} distinct values; tfmot issue 1056): {', '.join(lost)}"]


__all__ = ["DEFAULT_TUNE", "QAT_LEARNING_RATE", "PRUNE_DENSE_SHARE", "MODES", "QUANTIZED_MODES", "FineTune",
           "OptimizeError", "OptimizeOptions", "Optimized", "optimize", "parse_modes", "prune", "cluster",
           "quantize_aware", "PruneConfig", "ClusterConfig", "QatConfig", "clusters_lost"]
