"""Weight clustering: each Conv2D/Dense kernel keeps at most ``clusters`` distinct values (better gzip, CQAT)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .common import FineTune, OptimizeError, clone_with, distill, keep_output_names, teacher_targets
from .sparsity import SparsityReport, keras_sparsity

CLUSTERABLE = ("Conv2D", "Dense")
INITS = ("kmeans_plus_plus", "linear", "density_based", "random")


@dataclass(frozen=True)
class ClusterConfig:
    clusters: int = 16
    init: str = "kmeans_plus_plus"
    tune: FineTune = field(default_factory=FineTune)

    def validate(self) -> "ClusterConfig":
        self.tune.validate()
        if not isinstance(self.clusters, int) or not 2 <= self.clusters <= 256:
            raise OptimizeError(f"cluster count {self.clusters!r} must be an integer from 2 to 256")
        if self.init not in INITS:
            raise OptimizeError(f"cluster initialisation {self.init!r} is unknown; expected one of {', '.join(INITS)}")
        return self


@dataclass
class ClusterResult:
    model: object
    clustered_layers: tuple[str, ...]
    skipped_layers: tuple[str, ...]  # kernels with fewer weights than clusters: nothing to gain, left as they are
    report: SparsityReport


def cluster(model, images: np.ndarray, cfg: ClusterConfig = ClusterConfig()) -> ClusterResult:
    """Clone ``model``, cluster its Conv2D/Dense kernels, fine-tune by distillation, strip and measure."""
    import tensorflow_model_optimization as tfmot

    cfg.validate()
    init = getattr(tfmot.clustering.keras.CentroidInitialization, cfg.init.upper())
    names = list(model.output_names)
    targets = teacher_targets(model, images)
    sizes = {layer.name: int(np.prod(layer.kernel.shape)) for layer in model.layers
             if type(layer).__name__ in CLUSTERABLE}
    done, skipped = [], []

    def wrap(layer):
        if layer.name not in sizes:
            return layer
        if sizes[layer.name] <= cfg.clusters:
            skipped.append(layer.name)
            return layer
        done.append(layer.name)
        return tfmot.clustering.keras.cluster_weights(layer, number_of_clusters=cfg.clusters,
                                                      cluster_centroids_init=init)

    student = clone_with(model, wrap)
    if not done:
        raise OptimizeError(f"model {model.name!r} has no Conv2D or Dense kernel larger than {cfg.clusters} weights")
    distill(student, images, targets, cfg.tune)
    stripped = keep_output_names(tfmot.clustering.keras.strip_clustering(student), names)
    report = keras_sparsity(stripped)
    too_many = {layer.name: layer.distinct for layer in report.layers
                if layer.name in done and layer.distinct > cfg.clusters}
    if too_many:
        raise OptimizeError(f"clustering left more than {cfg.clusters} distinct values in {too_many}")
    return ClusterResult(stripped, tuple(done), tuple(skipped), report)
