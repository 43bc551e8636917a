"""Segmentation task: the LR-ASPP model, cross-entropy ignoring 255, mIoU and pixel accuracy per epoch."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf
import tf_keras as keras

from edge.metrics_tasks import confusion_matrix, scores_from_confusion

from ..records import AnnotationError
from ..task_fit import TaskConfigError, batch_indices, input_spec
from .data import SegSplit, load_sample
from .masks import IGNORE
from .model import build_segmenter, with_argmax


@dataclass
class SegmentConfig:
    input_size: int = 128
    width: float = 0.35
    argmax: bool = False  # save the model with an ArgMax output instead of logits
    augment: bool = True
    class_balance: float = 0.5  # class weight = frequency ** -class_balance (0 = plain cross-entropy)
    balance_samples: int = 200  # training masks the class frequencies are counted on
    lr_hold: float = 0.6  # share of the steps at the full learning rate before the cosine decay

    def validate(self) -> "SegmentConfig":
        if self.input_size % 32 or not 64 <= self.input_size <= 640:
            raise TaskConfigError(f"--input-size {self.input_size}: expected a multiple of 32 in 64..640")
        if not 0.1 <= self.width <= 1.5:
            raise TaskConfigError(f"--width {self.width}: expected 0.1..1.5")
        if not 0.0 <= self.lr_hold <= 1.0:
            raise TaskConfigError(f"segment lr_hold {self.lr_hold}: expected a share of the steps in 0..1")
        return self


def _checked(sample, mask: np.ndarray, num_classes: int) -> np.ndarray:
    bad = (mask >= num_classes) & (mask != IGNORE)
    if bad.any():
        raise AnnotationError(f"mask of {sample.image} holds class {int(mask[bad].max())}; the dataset has "
                              f"{num_classes} classes (0..{num_classes - 1}, 255 = ignore)")
    return mask


class SegmentTask:
    task = "segment"

    def __init__(self, train: SegSplit, val: SegSplit, cfg: SegmentConfig, batch_size: int, seed: int, data: dict):
        if train.labels != val.labels:
            raise AnnotationError(f"train labels {list(train.labels)} differ from val labels {list(val.labels)}")
        self.train, self.val, self.cfg = train, val, cfg.validate()
        self.batch_size, self.seed, self.data = batch_size, seed, data
        self.num_classes = len(train.labels)
        self._val = None
        self._weights = None

    def class_weights(self) -> np.ndarray:
        """(C,) float32: freq ** -class_balance over up to ``balance_samples`` training masks, normalised so the
        average pixel keeps weight 1, capped at 20x background's. Synthetic shapes cover ~12% of the pixels
        (SEGMENT_STYLE; 8% with the older, smaller shapes): unweighted, a short run learned 'all background'
        (mIoU 0.17 at 91% pixel accuracy)."""
        if self._weights is None:
            counts = np.ones(self.num_classes, np.float64)
            picks = np.random.default_rng([self.seed, 23]).permutation(len(self.train.samples))
            for i in picks[: self.cfg.balance_samples]:
                mask = self._resized(self.train.samples[i])[1]
                counts += np.bincount(mask[mask != IGNORE].ravel(), minlength=self.num_classes)[: self.num_classes]
            freq = counts / counts.sum()
            w = np.power(freq, -float(self.cfg.class_balance))
            w = np.minimum(w, 20.0 * w.min())
            self._weights = (w / float((freq * w).sum())).astype(np.float32)
        return self._weights

    def learning_rate_schedule(self, base: float, epochs: int):
        """``base`` for the first HOLD share of the run's steps, then a cosine decay to 5% of it
        (train/task_fit.py asks for it)."""
        steps = max(1, epochs * (len(self.train.samples) // self.batch_size))
        hold = int(self.cfg.lr_hold * steps)
        return keras.optimizers.schedules.CosineDecay(base, max(1, steps - hold), alpha=0.05,
                                                      warmup_target=base, warmup_steps=hold)

    def build(self):
        self.class_weights()
        return build_segmenter(self.num_classes, self.cfg.input_size, self.cfg.width)

    def _resized(self, sample):
        img, mask = load_sample(sample)
        s = self.cfg.input_size
        return (cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA),
                cv2.resize(_checked(sample, mask, self.num_classes), (s, s), interpolation=cv2.INTER_NEAREST), mask)

    def batches(self, epoch: int):
        rng = np.random.default_rng([self.seed, epoch, 11])
        for idx in batch_indices(len(self.train.samples), self.batch_size, self.seed, epoch):
            xs, ys = [], []
            for i in idx:
                img, mask, _ = self._resized(self.train.samples[i])
                if self.cfg.augment and rng.random() < 0.5:
                    img, mask = img[:, ::-1], mask[:, ::-1]
                xs.append(img.astype(np.float32) / 255.0)
                ys.append(mask.astype(np.int32))
            yield np.stack(xs), np.stack(ys)

    def loss(self, targets, logits, model):
        valid = tf.not_equal(targets, IGNORE)
        safe = tf.where(valid, targets, tf.zeros_like(targets))
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
        w = tf.cast(valid, tf.float32)
        cw = tf.gather(tf.constant(self.class_weights()), safe) * w
        return {"loss": tf.reduce_sum(ce * cw) / tf.maximum(tf.reduce_sum(w), 1.0)}

    def evaluate(self, model) -> dict:
        if self._val is None:
            loaded = [self._resized(s) for s in self.val.samples]
            self._val = (np.stack([x for x, _, _ in loaded]).astype(np.float32) / 255.0, [m for _, _, m in loaded])
        x, masks = self._val
        logits = model.predict(x, batch_size=16, verbose=0)
        conf = np.zeros((self.num_classes, self.num_classes), np.int64)
        for lg, truth in zip(logits, masks):  # scored at each mask's own resolution
            pred = cv2.resize(np.argmax(lg, -1).astype(np.uint8), (truth.shape[1], truth.shape[0]),
                              interpolation=cv2.INTER_NEAREST)
            conf += confusion_matrix(truth, pred, self.num_classes)
        return scores_from_confusion(conf).as_dict()

    def inference_model(self, model):
        return with_argmax(model) if self.cfg.argmax else model

    def run_fields(self) -> dict:
        s, c = self.cfg.input_size, self.num_classes
        out = ({"name": "class_map", "role": "segmentation_classes", "shape": [1, s, s]} if self.cfg.argmax
               else {"name": "logits", "role": "segmentation_logits", "shape": [1, s, s, c]})
        return {"labels": list(self.train.labels), "input": input_spec(s, s),
                "model": {"arch": "lraspp", "width_multiplier": self.cfg.width, "input_size": s, "num_classes": c},
                "outputs": [out],
                "decode": {"kind": "argmax" if self.cfg.argmax else "logits", "ignore_label": IGNORE},
                "data": self.data}
