"""A train/task_fit.py TaskSpec whose model is three layers: for tests of the training loop itself (best epoch,
early stop, weight average, resume), where tracing a real backbone would be most of the time."""

from __future__ import annotations

import numpy as np


class TinySpec:
    """A train/task_fit.py TaskSpec around a three-layer classifier (conv, BatchNorm, dense) on random images:
    quick to trace, so the test times the loop and not a backbone. evaluate() returns the next scripted top-1
    and records the conv kernel it was shown."""

    task = "classify"

    def __init__(self, scores, size: int = 16):
        self.scores, self.size, self.seen = list(scores), size, []
        rng = np.random.default_rng(0)
        self.x = rng.uniform(0, 1, (8, size, size, 3)).astype(np.float32)
        self.y = rng.integers(0, 3, 8).astype(np.int32)

    def build(self):
        import tf_keras as keras

        inp = keras.Input((self.size, self.size, 3))
        x = keras.layers.Conv2D(4, 3, name="conv")(inp)
        x = keras.layers.BatchNormalization(name="bn")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="scores")(x))

    def batches(self, epoch):
        yield self.x[:4], self.y[:4]
        yield self.x[4:], self.y[4:]

    def loss(self, targets, outputs, model):
        import tensorflow as tf
        import tf_keras as keras

        return {"loss": tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, outputs))}

    def evaluate(self, model):
        self.seen.append(model.get_layer("conv").get_weights()[0].copy())
        return {"top1": self.scores[len(self.seen) - 1]}

    def inference_model(self, model):
        return model

    def run_fields(self):
        from train.task_fit import input_spec

        return {"labels": ["a", "b", "c"], "input": input_spec(self.size, self.size), "model": {}, "outputs": [],
                "decode": {}, "data": {}}
