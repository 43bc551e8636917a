"""An exponential moving average of a model's weights, for validation and for the model a run saves.

``--ema DECAY`` (train/task_fit.py::FitConfig.ema): after every training step each weight of the model,
trainable ones and BatchNormalization statistics alike, is folded into its average:
``average = d * average + (1 - d) * weight`` with ``d = min(DECAY, (1 + n) / (10 + n))`` after ``n`` steps
(tf.train.ExponentialMovingAverage's ramp, so the first steps do not drag the random start along). Validation,
the best epoch and model.keras use the averaged weights; the checkpoints keep both, so --resume continues the
average.
"""

from __future__ import annotations

from contextlib import contextmanager

import tensorflow as tf


class EmaOptionError(ValueError):
    """--ema is out of range or cannot be combined with another option; the message names it."""


def check_ema(decay: float, multiworker: bool) -> None:
    if not 0.0 <= float(decay) < 1.0:
        raise EmaOptionError(f"--ema {decay}: expected a decay in [0, 1) (0 = off; 0.99 to 0.9999 are usual)")
    if decay and multiworker:
        raise EmaOptionError("--ema cannot be used with --strategy multiworker (the chief scores the workers' "
                             "checkpoint, which holds no average); drop --ema or train on one machine")


def ramped_decay(decay: float, updates: int) -> float:
    """The decay applied at update number ``updates`` (0-based)."""
    return min(float(decay), (1.0 + updates) / (10.0 + updates))


class WeightAverage(tf.Module):
    """The average of ``model.weights``; a tf.Module, so a tf.train.Checkpoint saves and restores it."""

    def __init__(self, model, decay: float):
        super().__init__(name="weight_average")
        self.decay = float(decay)
        self._weights = list(model.weights)
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")
        self.average = [tf.Variable(w.read_value(), trainable=False, name=f"average_{i}")
                        for i, w in enumerate(self._weights)]

    @tf.function
    def update(self) -> None:
        n = tf.cast(self.updates, tf.float32)
        d = tf.minimum(tf.constant(self.decay, tf.float32), (1.0 + n) / (10.0 + n))
        for avg, w in zip(self.average, self._weights):
            if not avg.dtype.is_floating:  # a counter, if a layer has one: copied, not averaged
                avg.assign(w)
                continue
            value = tf.cast(w, avg.dtype)
            avg.assign(value + tf.cast(d, avg.dtype) * (avg - value))
        self.updates.assign_add(1)

    def copy_to(self, model) -> None:
        """Write the averaged weights into ``model`` (the same task built again, e.g. a float32 copy)."""
        model.set_weights([a.numpy() for a in self.average])

    @contextmanager
    def applied(self, model):
        """``model`` holds the averaged weights inside the block and its own again after it."""
        own = model.get_weights()
        self.copy_to(model)
        try:
            yield model
        finally:
            model.set_weights(own)
