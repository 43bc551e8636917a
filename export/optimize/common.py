"""What every optimisation mode shares: clone the user's model, fine-tune by distillation, keep output names.

Fine-tuning is self-distillation: the optimised copy learns to reproduce the original float model's outputs
(mean squared error) on the run's own training images. It needs no labels and no task-specific loss, so every
task goes through the same code. BatchNormalization layers are frozen during fine-tuning (inference mode), so a
small batch cannot disturb the statistics the model was trained with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ExportError


class OptimizeError(ExportError):
    """An optimisation option is invalid (unknown mode, sparsity outside (0, 1), a schedule that never fires)."""


@dataclass(frozen=True)
class FineTune:
    """How long and how hard the optimised copy is fine-tuned."""

    steps: int = 200
    batch_size: int = 8
    learning_rate: float = 1e-4
    seed: int = 0
    final_lr_fraction: float = 1.0  # cosine decay from learning_rate to learning_rate * this at the last step

    def validate(self) -> "FineTune":
        if not isinstance(self.steps, int) or self.steps < 1:
            raise OptimizeError(f"fine-tune steps {self.steps!r} must be a positive integer")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise OptimizeError(f"fine-tune batch size {self.batch_size!r} must be a positive integer")
        if not 0.0 < float(self.learning_rate) < 1.0:
            raise OptimizeError(f"fine-tune learning rate {self.learning_rate!r} must lie in (0, 1)")
        if not 0.0 <= float(self.final_lr_fraction) <= 1.0:
            raise OptimizeError(f"fine-tune final learning-rate fraction {self.final_lr_fraction!r} must lie in [0, 1]")
        return self

    def optimizer(self):
        """Adam at ``learning_rate``, cosine-decayed to ``learning_rate * final_lr_fraction`` over ``steps``."""
        import tf_keras as keras

        rate = float(self.learning_rate)
        if self.final_lr_fraction < 1.0:
            rate = keras.optimizers.schedules.CosineDecay(rate, self.steps, alpha=float(self.final_lr_fraction))
        return keras.optimizers.Adam(rate)


def clone(model):
    """An independent copy of ``model`` (new layers, copied weights): the user's model is never changed."""
    import tf_keras as keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def clone_with(model, wrap: Callable):
    """Clone ``model`` calling ``wrap(layer)`` for each layer (return the layer or a wrapped one); copy weights.

    ``wrap`` receives a fresh layer built from the original's config and holding a copy of its weights, so a
    wrapper never shares variables with the user's model.
    """
    import tf_keras as keras

    def clone_fn(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        if layer.weights:  # built with the user's weights, so wrappers that read them at build (clustering) see them
            fresh.build(layer.input_shape)
            fresh.set_weights(layer.get_weights())
        return wrap(fresh)

    return keras.models.clone_model(model, clone_function=clone_fn)


def _inner(layer):
    return getattr(layer, "layer", layer)  # tfmot wrappers keep the wrapped layer in .layer


def freeze_batchnorm(model) -> None:
    """Run every BatchNormalization layer in inference mode during fine-tuning (tf_keras semantics)."""
    import tf_keras as keras

    for layer in model.layers:
        if isinstance(_inner(layer), keras.layers.BatchNormalization):
            layer.trainable = False


def distill(student, images: np.ndarray, targets, tune: FineTune, callbacks: Sequence = ()) -> None:
    """Fine-tune ``student`` for ``tune.steps`` batches to reproduce ``targets`` from ``images`` (MSE).

    ``targets`` is one array, a tuple with one array per output in the order of ``student.output_names``, or a
    dict by output name (pose: heatmaps and offsets); the losses of several outputs are summed.
    """
    import tensorflow as tf

    tune.validate()
    if len(images) == 0:
        raise OptimizeError("no training images to fine-tune on")
    freeze_batchnorm(student)
    student.compile(optimizer=tune.optimizer(), loss="mse")
    # slots made before fit: its first step creates no variables, so the step is traced once, not twice (a QAT
    # segmentation model: 68 -> 46 s for a 6-step fine-tune, nearly all of it tracing)
    student.optimizer.build(student.trainable_variables)
    data = (
        tf.data.Dataset.from_tensor_slices((images.astype(np.float32), _shaped_like(student, _as_float32(targets))))
        .shuffle(len(images), seed=tune.seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(tune.batch_size)
    )
    student.fit(data, steps_per_epoch=tune.steps, epochs=1, callbacks=list(callbacks), verbose=0)


def _as_float32(targets):
    if isinstance(targets, dict):
        return {name: np.asarray(t, np.float32) for name, t in targets.items()}
    if isinstance(targets, tuple):
        return tuple(np.asarray(t, np.float32) for t in targets)
    return np.asarray(targets, np.float32)


def _shaped_like(student, targets):
    """``targets`` in the structure of ``student``'s outputs (Keras matches y to the outputs by structure)."""
    if not isinstance(targets, dict):
        return targets
    if isinstance(student.output, dict):
        return {name: targets[name] for name in student.output}
    return tuple(targets[name] for name in student.output_names)


def teacher_targets(model, images: np.ndarray):
    """The original model's outputs on ``images``: what the optimised copy is fine-tuned to reproduce.

    One array for a single-output model; for several, a dict by name (a model built with dict outputs) or a
    tuple in the order of ``model.output_names``.
    """
    out = model.predict(images.astype(np.float32), batch_size=16, verbose=0)
    if isinstance(out, dict):
        return {name: np.asarray(o, np.float32) for name, o in out.items()}
    if isinstance(out, (list, tuple)):
        return tuple(np.asarray(o, np.float32) for o in out)
    return np.asarray(out, np.float32)


def keep_output_names(model, names: Sequence[str]):
    """Return ``model`` with its outputs named ``names`` again (tfmot wrappers rename them, e.g. quant_<name>).

    A renamed output gets an identity layer carrying the original name, so the TFLite signature keeps the
    output key (e.g. ``detections``) that run.json and the metadata name.
    """
    import tf_keras as keras

    names = list(names)
    if list(model.output_names) == names:
        return model
    outputs = model.outputs
    if len(outputs) != len(names):
        raise OptimizeError(f"the optimised model has {len(outputs)} outputs; the original had {names}")
    renamed = [
        out if current == name else keras.layers.Activation("linear", name=name)(out)
        for out, current, name in zip(outputs, model.output_names, names)
    ]
    fixed = keras.Model(model.inputs, renamed if len(renamed) > 1 else renamed[0], name=model.name)
    if list(fixed.output_names) != names:
        raise OptimizeError(f"could not restore the output names {names}; got {fixed.output_names}")
    return fixed
