"""Distillation losses for fine-tuning an optimised copy against the original model's outputs.

``"mse"`` treats every output value alike: task-agnostic, the default of every mode. ``"detection"`` reads the
detector contract (``[B, N, 4 + C]``: cx, cy, w, h in 0..1, then C sigmoid scores): the scores are matched by
binary cross-entropy against the teacher's scores (a soft target), and the boxes by L1, weighted per anchor by
the teacher's highest score, so the thousands of background anchors, whose boxes nobody reads, do not drown the
few anchors that hold objects. Under MSE a background score's gradient also vanishes as p(1 - p) -> 0.
"""

from __future__ import annotations

from .common import OptimizeError

LOSSES = ("mse", "detection")
EPS = 1e-6
BOX_WEIGHT = 10.0  # L1 on 0..1 box coordinates is ~10x smaller than the score cross-entropy at a mismatch


def detection_distill_loss(teacher, student):
    """Soft-target score cross-entropy (mean over anchors) + teacher-score-weighted box L1 (x ``BOX_WEIGHT``)."""
    import tensorflow as tf

    teacher = tf.cast(teacher, tf.float32)
    student = tf.cast(student, tf.float32)
    t_scores = teacher[..., 4:]
    p = tf.clip_by_value(student[..., 4:], EPS, 1.0 - EPS)
    ce = -(t_scores * tf.math.log(p) + (1.0 - t_scores) * tf.math.log(1.0 - p))
    cls = tf.reduce_mean(tf.reduce_sum(ce, axis=-1))
    weight = tf.reduce_max(t_scores, axis=-1)
    l1 = tf.reduce_sum(tf.abs(student[..., :4] - teacher[..., :4]), axis=-1)
    box = tf.reduce_sum(weight * l1) / tf.maximum(tf.reduce_sum(weight), EPS)
    return cls + BOX_WEIGHT * box


def distill_loss(name: str, output_shape) -> object:
    """The Keras loss for ``name``; "detection" needs an output of shape [B, N, 4 + C] with C >= 1."""
    if name == "mse":
        return "mse"
    if name == "detection":
        shape = tuple(output_shape)
        if len(shape) != 3 or shape[-1] is None or shape[-1] < 5:
            raise OptimizeError(f"distillation loss 'detection' needs an output [batch, anchors, 4 + classes]; "
                                f"the model's output has shape {shape}")
        return detection_distill_loss
    raise OptimizeError(f"unknown distillation loss {name!r}; valid: {', '.join(LOSSES)}")
