"""The detection loss: GIoU values, quality focal targets follow the box IoU, focal loss, bad options."""

import numpy as np
import pytest
import tensorflow as tf

from train.loss import LossConfig, detection_loss, giou, iou_and_giou

C = 2


def _rows(pred_box, score, gt_box, cls=0):
    """One positive row: pred [1, 1, 4 + C] (cxcywh box, scores), target [1, 1, 4 + C + 1] (xyxy box)."""
    scores = np.zeros(C, np.float32)
    scores[cls] = score
    pred = np.concatenate([pred_box, scores]).astype(np.float32)[None, None]
    target = np.concatenate([gt_box, np.eye(C)[cls], [1.0]]).astype(np.float32)[None, None]
    return tf.constant(pred), tf.constant(target)


@pytest.mark.parametrize("a, b, iou, g", [
    ([0, 0, 1, 1], [0, 0, 1, 1], 1.0, 1.0),
    ([0, 0, 1, 1], [0.5, 0, 1.5, 1], 1 / 3, 1 / 3),
    ([0, 0, 1, 1], [2, 0, 3, 1], 0.0, -1 / 3),
])
def test_iou_and_giou(a, b, iou, g):
    got_iou, got_g = iou_and_giou(tf.constant([a], tf.float32), tf.constant([b], tf.float32))
    np.testing.assert_allclose([float(got_iou[0]), float(got_g[0])], [iou, g], atol=1e-5)
    np.testing.assert_allclose(float(giou(tf.constant([a], tf.float32), tf.constant([b], tf.float32))[0]), g, atol=1e-5)


def test_quality_focal_loss_is_lowest_where_the_score_equals_the_iou():
    gt = [0.2, 0.2, 0.6, 0.6]
    shifted = [0.6, 0.4, 0.4, 0.4]  # cxcywh: the gt box moved right by half its width -> IoU 1/3
    scores = np.linspace(0.05, 0.95, 19)
    losses = [float(detection_loss(*_rows(shifted, s, gt), C, LossConfig(cls_target="iou"))[1]) for s in scores]
    assert abs(scores[int(np.argmin(losses))] - 1 / 3) <= 0.05
    exact = [0.4, 0.4, 0.4, 0.4]  # the gt box itself: IoU 1, so a higher score is always better
    losses = [float(detection_loss(*_rows(exact, s, gt), C, LossConfig(cls_target="iou"))[1]) for s in scores]
    assert np.all(np.diff(losses) < 0)


def test_focal_loss_wants_full_score_for_any_positive():
    gt, shifted = [0.2, 0.2, 0.6, 0.6], [0.6, 0.4, 0.4, 0.4]
    scores = np.linspace(0.05, 0.95, 19)
    losses = [float(detection_loss(*_rows(shifted, s, gt), C, LossConfig(cls_target="onehot"))[1]) for s in scores]
    assert np.all(np.diff(losses) < 0)


def test_box_part_is_one_minus_giou_and_weighted():
    gt, shifted = [0.2, 0.2, 0.6, 0.6], [0.6, 0.4, 0.4, 0.4]
    total, cls, box = detection_loss(*_rows(shifted, 0.5, gt), C, LossConfig(box_weight=3.0))
    np.testing.assert_allclose(float(box), 1 - 1 / 3, atol=1e-5)
    np.testing.assert_allclose(float(total), float(cls) + 3.0 * float(box), atol=1e-5)


def test_unknown_class_target_is_rejected():
    with pytest.raises(ValueError, match="cls_target 'soft': expected 'iou' or 'onehot'"):
        LossConfig(cls_target="soft")
