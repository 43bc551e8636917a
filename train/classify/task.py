"""Classification task: MobileNetV2-style backbone + global pooling + softmax ``scores`` [1, C]."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from edge.metrics_tasks import topk_accuracy

from ..image_io import read_rgb, resize_rgb
from ..model import backbone
from ..task_fit import TaskConfigError, batch_indices, input_spec
from .data import ClassSplit


@dataclass
class ClassifyConfig:
    input_size: int = 96
    width: float = 0.35
    dropout: float = 0.2
    augment: bool = True

    def validate(self) -> "ClassifyConfig":
        if self.input_size % 32 or not 32 <= self.input_size <= 512:
            raise TaskConfigError(f"--input-size {self.input_size}: expected a multiple of 32 in 32..512")
        if not 0.1 <= self.width <= 1.5:
            raise TaskConfigError(f"--width {self.width}: expected 0.1..1.5")
        return self


def build_classifier(num_classes: int, cfg: ClassifyConfig) -> keras.Model:
    image = keras.Input((cfg.input_size, cfg.input_size, 3), name="image")
    _, _, c5 = backbone(image, cfg.width)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(c5)
    x = keras.layers.Dropout(cfg.dropout, name="dropout")(x)
    scores = keras.layers.Dense(num_classes, activation="softmax", name="scores", dtype="float32")(x)
    return keras.Model(image, scores, name="mobileclassifier")


def _load(paths, size: int, rng: np.random.Generator | None) -> np.ndarray:
    """Images as float32 0..1; with ``rng``: random horizontal flip, gain and offset."""
    out = np.empty((len(paths), size, size, 3), np.float32)
    for i, p in enumerate(paths):
        img = resize_rgb(read_rgb(p), size, size).astype(np.float32)
        if rng is not None:
            if rng.random() < 0.5:
                img = img[:, ::-1]
            img = img * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20)
        out[i] = np.clip(img, 0, 255) * (1.0 / 255.0)
    return out


class ClassifyTask:
    task = "classify"

    def __init__(self, train: ClassSplit, val: ClassSplit, cfg: ClassifyConfig, batch_size: int, seed: int,
                 data: dict):
        self.train, self.val, self.cfg = train, val, cfg.validate()
        self.batch_size, self.seed, self.data = batch_size, seed, data
        self._val_x = None

    def build(self) -> keras.Model:
        return build_classifier(len(self.train.labels), self.cfg)

    def batches(self, epoch: int):
        rng = np.random.default_rng([self.seed, epoch, 7]) if self.cfg.augment else None
        for idx in batch_indices(len(self.train.images), self.batch_size, self.seed, epoch):
            x = _load([self.train.images[i] for i in idx], self.cfg.input_size, rng)
            yield x, self.train.class_ids[idx].astype(np.int32)

    def loss(self, targets, outputs, model):
        ce = keras.losses.sparse_categorical_crossentropy(targets, outputs)
        return {"loss": tf.reduce_mean(ce)}

    def predict(self, model) -> np.ndarray:
        if self._val_x is None:
            self._val_x = _load(self.val.images, self.cfg.input_size, None)
        return model.predict(self._val_x, batch_size=64, verbose=0)

    def evaluate(self, model) -> dict:
        return topk_accuracy(self.predict(model), self.val.class_ids, ks=(1, 5))

    def inference_model(self, model):
        return model

    def run_fields(self) -> dict:
        n = len(self.train.labels)
        return {"labels": list(self.train.labels), "input": input_spec(self.cfg.input_size, self.cfg.input_size),
                "model": {"arch": "mobileclassifier", "width_multiplier": self.cfg.width,
                          "input_size": self.cfg.input_size, "num_classes": n},
                "outputs": [{"name": "scores", "role": "scores", "shape": [1, n]}],
                "decode": {"kind": "scores", "score_activation": "none", "top_k": min(5, n)},
                "data": self.data}
