"""Quantisation-aware training: plain QAT, prune-preserving (PQAT) and cluster-preserving (CQAT).

Layers tfmot's default 8-bit registry cannot quantise (custom layers such as the detector's grid decode) are
left unannotated: they stay float in the QAT graph and the converter quantises them from the calibration
samples. PQAT and CQAT expect a model already pruned or clustered (``prune.prune`` / ``cluster.cluster``) and
keep its zeros or its clusters through fine-tuning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .common import FineTune, OptimizeError, clone, distill, keep_output_names, teacher_targets
from .sparsity import SparsityReport, keras_sparsity

SCHEMES = ("default", "prune_preserve", "cluster_preserve")


@dataclass(frozen=True)
class QatConfig:
    scheme: str = "default"
    tune: FineTune = field(default_factory=FineTune)

    def validate(self) -> "QatConfig":
        self.tune.validate()
        if self.scheme not in SCHEMES:
            raise OptimizeError(f"QAT scheme {self.scheme!r} is unknown; expected one of {', '.join(SCHEMES)}")
        return self


@dataclass
class QatResult:
    model: object  # QAT graph with fake-quant ops; convert it with an int8 format
    quantized_layers: tuple[str, ...]
    float_layers: tuple[str, ...]  # layers the 8-bit registry does not support
    report: SparsityReport


def _scheme(name: str):
    import tensorflow_model_optimization as tfmot

    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.cluster_preserve import (
        default_8bit_cluster_preserve_quantize_scheme as cqat,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.prune_preserve import (
        default_8bit_prune_preserve_quantize_scheme as pqat,
    )

    if name == "prune_preserve":
        return pqat.Default8BitPrunePreserveQuantizeScheme()
    if name == "cluster_preserve":
        return cqat.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
    return tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme()


def quantize_aware(model, images: np.ndarray, cfg: QatConfig = QatConfig(), teacher=None) -> QatResult:
    """Clone ``model``, insert fake quantisation (scheme ``cfg.scheme``), fine-tune by distillation.

    ``teacher`` (default: ``model``) is the float model whose outputs the QAT copy learns to reproduce; PQAT and
    CQAT pass the original float model here so the pruned/clustered copy recovers towards it.
    """
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import default_8bit_quantize_registry

    cfg.validate()
    names = list(model.output_names)
    targets = teacher_targets(teacher if teacher is not None else model, images)
    registry = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
    annotate = tfmot.quantization.keras.quantize_annotate_layer
    quantized, floating = [], []
    copy = clone(model)

    import tf_keras as keras

    def mark(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, keras.layers.InputLayer):
            return fresh
        # BatchNorm is annotated as quantize_model does: the scheme's transforms fold it into the conv before it.
        if registry.supports(layer) or isinstance(layer, keras.layers.BatchNormalization):
            quantized.append(layer.name)
            return annotate(fresh)
        floating.append(layer.name)
        return fresh

    annotated = keras.models.clone_model(copy, clone_function=mark)
    annotated.set_weights(copy.get_weights())
    if not quantized:
        raise OptimizeError(f"model {model.name!r} has no layer tfmot's 8-bit scheme can quantise")
    with tfmot.quantization.keras.quantize_scope():
        student = tfmot.quantization.keras.quantize_apply(annotated, _scheme(cfg.scheme))
    distill(student, images, targets, cfg.tune)
    student = keep_output_names(student, names)
    return QatResult(student, tuple(quantized), tuple(floating), keras_sparsity(student))
