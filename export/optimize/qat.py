"""Quantisation-aware training: plain QAT, prune-preserving (PQAT) and cluster-preserving (CQAT).

Layers tfmot's default 8-bit registry cannot quantise (custom layers such as the detector's grid decode) are
left unannotated: they stay float in the QAT graph and the converter quantises them from the calibration
samples. PQAT and CQAT expect a model already pruned or clustered (``prune.prune`` / ``cluster.cluster``) and
keep its zeros or its clusters through fine-tuning.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .common import FineTune, OptimizeError, clone, distill, freeze_batchnorm, keep_output_names, teacher_targets
from .sparsity import SparsityReport, keras_sparsity

SCHEMES = ("default", "prune_preserve", "cluster_preserve")
RANGE_BATCHES = 8  # batches of 16 images that set the activation ranges before fine-tuning


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
        return _only_8bit_layers(pqat.Default8BitPrunePreserveQuantizeScheme)()
    if name == "cluster_preserve":
        return _only_8bit_layers(cqat.Default8BitClusterPreserveQuantizeScheme)(preserve_sparsity=True)
    return tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme()


def _only_8bit_layers(scheme_class):
    """``scheme_class`` whose registry supports a layer only if the default 8-bit registry does too.

    tfmot 0.8.1's prune- and cluster-preserving registries call every layer without trainable weights supported
    (Multiply, for one), then ask the default 8-bit registry for its config, which raises for those layers. With
    this guard they stay float, exactly as plain QAT leaves them.
    """
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry,
    )

    class Guarded(scheme_class):
        def get_quantize_registry(self):
            registry = super().get_quantize_registry()
            collab, base = registry.supports, default_8bit_quantize_registry.Default8BitQuantizeRegistry()
            registry.supports = lambda layer: collab(layer) and base.supports(layer)
            return registry

    Guarded.__name__ = scheme_class.__name__
    return Guarded


@contextmanager
def _ema_decay(value: list):
    """While active, tfmot's moving-average quantizers use ``value[0]`` as their EMA decay instead of 0.999."""
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    original = quant_ops.MovingAvgQuantize

    def patched(*args, **kwargs):
        kwargs["ema_decay"] = value[0]
        return original(*args, **kwargs)

    quant_ops.MovingAvgQuantize = patched
    try:
        yield
    finally:
        quant_ops.MovingAvgQuantize = original


def calibrate_ranges(student, images: np.ndarray, batches: int = RANGE_BATCHES, batch_size: int = 16) -> int:
    """Set the activation ranges of a fresh QAT model to the mean of their per-batch ranges on ``images``.

    tfmot starts every activation range at [-6, 6] and moves it by an EMA of decay 0.999 per training step, so a
    fine-tune of a few hundred steps still quantises a [0, 1] activation over most of [-6, 6] (about 0.05 per
    level) and the int8 file loses points that PTQ's calibration does not. Running ``batches`` forward passes in
    training mode with the decay set to i / (i + 1) leaves each range at the mean of the observed batch ranges,
    as a calibration would. BatchNorm must already be frozen (it is, see ``freeze_batchnorm``). Returns the
    number of batches run.
    """
    import tensorflow as tf

    freeze_batchnorm(student)
    decay = [0.0]
    runs = 0
    with _ema_decay(decay):
        for i, start in enumerate(range(0, min(len(images), batches * batch_size), batch_size)):
            decay[0] = i / (i + 1.0)
            student(tf.constant(images[start:start + batch_size], tf.float32), training=True)
            runs += 1
    return runs


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
    calibrate_ranges(student, images)
    distill(student, images, targets, cfg.tune)
    student = keep_output_names(student, names)
    return QatResult(student, tuple(quantized), tuple(floating), keras_sparsity(student))
