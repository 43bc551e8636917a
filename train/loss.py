"""Detection loss on the decoded head output: class-score loss + GIoU on positive boxes.

The class part is either a quality focal loss (``cls_target="iou"``, the default): a positive row's target
for its class is the IoU of its predicted box with its object's box (no gradient through that IoU), so a
score ranks boxes by how well they fit; or the plain sigmoid focal loss with one-hot targets
(``cls_target="onehot"``). Both parts are summed over rows and divided by the number of positive rows in
the batch (at least 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

EPS = 1e-6


@dataclass
class LossConfig:
    alpha: float = 0.25  # focal loss (onehot) only
    gamma: float = 2.0  # focusing exponent of either class loss
    box_weight: float = 2.5
    cls_target: str = "iou"  # "iou": quality focal loss, "onehot": focal loss

    def __post_init__(self):
        if self.cls_target not in ("iou", "onehot"):
            raise ValueError(f"loss cls_target {self.cls_target!r}: expected 'iou' or 'onehot'")


def cxcywh_to_xyxy(b):
    cx, cy, w, h = tf.unstack(b, 4, axis=-1)
    return tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def iou_and_giou(a, b):
    """IoU and generalised IoU of matching xyxy boxes [..., 4] -> ([...], [...])."""
    area_a = tf.maximum(a[..., 2] - a[..., 0], 0.0) * tf.maximum(a[..., 3] - a[..., 1], 0.0)
    area_b = tf.maximum(b[..., 2] - b[..., 0], 0.0) * tf.maximum(b[..., 3] - b[..., 1], 0.0)
    lt, rb = tf.maximum(a[..., :2], b[..., :2]), tf.minimum(a[..., 2:], b[..., 2:])
    wh = tf.maximum(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a + area_b - inter
    iou = inter / (union + EPS)
    hull_wh = tf.maximum(a[..., 2:], b[..., 2:]) - tf.minimum(a[..., :2], b[..., :2])
    hull = hull_wh[..., 0] * hull_wh[..., 1]
    return iou, iou - (hull - union) / (hull + EPS)


def giou(a, b):
    """Generalised IoU of matching xyxy boxes [..., 4] -> [...]."""
    return iou_and_giou(a, b)[1]


def detection_loss(pred, target, num_classes: int, cfg: LossConfig = LossConfig()):
    """pred [B, N, 4 + C] (model output), target [B, N, 4 + C + 1] -> (total, class part, box part)."""
    pred = tf.cast(pred, tf.float32)
    pos = target[..., -1]
    num_pos = tf.maximum(tf.reduce_sum(pos), 1.0)
    p = tf.clip_by_value(pred[..., 4:], EPS, 1.0 - EPS)
    t = target[..., 4:4 + num_classes]
    iou, g = iou_and_giou(cxcywh_to_xyxy(pred[..., :4]), target[..., :4])
    if cfg.cls_target == "iou":
        t = t * tf.stop_gradient(tf.maximum(iou, 0.0))[..., None]
        ce = -(t * tf.math.log(p) + (1.0 - t) * tf.math.log(1.0 - p))
        cls_loss = tf.reduce_sum(tf.pow(tf.abs(t - p), cfg.gamma) * ce) / num_pos
    else:
        ce = -(t * tf.math.log(p) + (1.0 - t) * tf.math.log(1.0 - p))
        p_t = t * p + (1.0 - t) * (1.0 - p)
        alpha_t = t * cfg.alpha + (1.0 - t) * (1.0 - cfg.alpha)
        cls_loss = tf.reduce_sum(alpha_t * tf.pow(1.0 - p_t, cfg.gamma) * ce) / num_pos
    box_loss = tf.reduce_sum((1.0 - g) * pos) / num_pos
    return cls_loss + cfg.box_weight * box_loss, cls_loss, box_loss
