"""Hand-computed cases for edge/metrics_tasks.py (pose, segmentation, enhancement, classification)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.metrics_tasks import (COCO_KEYPOINT_SIGMAS, MetricInputError, PoseGroundTruth, mean_brightness, oks,
                                oks_ap, pck, psnr, segmentation_scores, ssim, topk_accuracy)


def _person(points, visible=None):
    kp = np.zeros((17, 3))
    kp[:, :2] = points
    kp[:, 2] = 2 if visible is None else visible
    return kp


# ------------------------------------------------------------------ OKS
def test_oks_one_visible_keypoint_by_hand():
    gt = _person(np.zeros((17, 2)), visible=[2] + [0] * 16)
    gt[0, :2] = (10, 10)
    pred = _person(np.full((17, 2), 500.0))  # far away everywhere except the nose
    pred[0, :2] = (13, 14)  # d^2 = 25
    # nose sigma 0.026 -> k = 0.052; area 10000: e = 25 / (2 * 0.052^2 * 10000) = 0.46228
    assert COCO_KEYPOINT_SIGMAS[0] == pytest.approx(0.026)
    assert oks(pred, gt, area=10000) == pytest.approx(math.exp(-0.462278), abs=1e-5)
    assert oks(pred, gt, area=10000) == pytest.approx(0.62985, abs=1e-4)


def test_oks_averages_only_visible_keypoints():
    pts = np.arange(34, dtype=float).reshape(17, 2) * 3
    gt = _person(pts, visible=[2, 1] + [0] * 15)
    pred = _person(pts)
    pred[5:, :2] += 1000  # unlabelled joints far off do not count
    assert oks(pred, gt, area=400) == 1.0
    pred[1, :2] += 1000  # one of the two counted joints is lost: exp(-huge) = 0 -> mean 0.5
    assert oks(pred, gt, area=400) == pytest.approx(0.5)


def test_oks_rejects_ground_truth_without_visible_keypoints():
    with pytest.raises(MetricInputError, match="no visible keypoint"):
        oks(_person(np.zeros((17, 2))), _person(np.zeros((17, 2)), visible=0), area=100)


def test_oks_ap_by_hand():
    rng = np.random.default_rng(0)
    g1, g2 = _person(rng.uniform(0, 50, (17, 2))), _person(rng.uniform(100, 150, (17, 2)))
    gts = [[PoseGroundTruth(g1, 2500.0), PoseGroundTruth(g2, 2500.0)]]
    preds = [[(g1, 0.9), (_person(np.full((17, 2), 900.0)), 0.8), (g2, 0.7)]]
    # TP, FP, TP at every threshold: precision 1, 1/2, 2/3 -> interpolated 1 (recall <= .5), 2/3 after.
    # 101 recall points: 51 at precision 1, 50 at 2/3 -> (51 + 100/3) / 101
    expected = (51 + 100 / 3) / 101
    res = oks_ap(gts, preds)
    assert res.ap == pytest.approx(expected) and res.ap50 == pytest.approx(expected)
    assert oks_ap(gts, [[(g1, 0.9), (g2, 0.7)]]).ap == pytest.approx(1.0)
    assert oks_ap(gts, [[]]).ap == 0.0


def test_oks_ap_threshold_dependence():
    gt = _person(np.zeros((17, 2)))
    # every joint shifted so that OKS is exactly 0.6: d^2 = -ln(0.6) * 2 k^2 area, per joint
    area = 1000.0
    d = np.sqrt(-math.log(0.6) * 2 * (2 * COCO_KEYPOINT_SIGMAS) ** 2 * area)
    pred = gt.copy()
    pred[:, 0] += d
    assert oks(pred, gt, area) == pytest.approx(0.6)
    res = oks_ap([[PoseGroundTruth(gt, area)]], [[(pred, 1.0)]])
    # thresholds 0.50, 0.55, 0.60 match (0.60 within 1e-9), the seven above do not
    np.testing.assert_allclose(res.per_threshold, [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    assert res.ap == pytest.approx(0.3)


# ------------------------------------------------------------------ PCK
def test_pck_torso_by_hand():
    gt = _person(np.zeros((17, 2)))
    gt[5, :2], gt[12, :2] = (0, 0), (30, 40)  # torso 50 -> threshold 10 at alpha 0.2
    pred = gt.copy()
    pred[0, 0] += 9.9  # correct
    pred[1, 0] += 10.1  # wrong
    pred[2, 1] += 10.0  # correct (<=)
    pred[3, :2] += (8, 8)  # 11.3 -> wrong
    res = pck([PoseGroundTruth(gt, 1.0)], [pred])
    assert res.counted == 17 and res.pck == pytest.approx(15 / 17)
    assert res.per_keypoint[1] == 0 and res.per_keypoint[0] == 1


def test_pck_bbox_and_skipped():
    gt = _person(np.zeros((17, 2)), visible=[2] * 5 + [0] * 12)  # no torso joints
    pred = gt.copy()
    pred[:, 0] += 15
    box = np.array([0, 0, 100, 60])  # longer side 100 -> threshold 20
    assert pck([PoseGroundTruth(gt, 1.0, box)], [pred], normalize="bbox").pck == 1.0
    assert pck([PoseGroundTruth(gt, 1.0, box)], [pred], alpha=0.1, normalize="bbox").pck == 0.0
    res = pck([PoseGroundTruth(gt, 1.0, box)], [pred])
    assert res.skipped == 1 and res.counted == 0
    with pytest.raises(MetricInputError, match="normalize"):
        pck([PoseGroundTruth(gt, 1.0, box)], [pred], normalize="head")


# ------------------------------------------------------------------ segmentation
def test_miou_and_pixel_accuracy_ignore_255():
    truth = np.array([[0, 0], [1, 255]])
    pred = np.array([[0, 1], [1, 1]])
    s = segmentation_scores([truth], [pred], num_classes=3)
    # class 0: inter 1, union 2; class 1: inter 1, union 2 (the ignored pixel is left out); class 2 absent
    assert s.miou == pytest.approx(0.5) and s.pixel_accuracy == pytest.approx(2 / 3)
    assert np.isnan(s.per_class_iou[2])
    assert s.confusion.sum() == 3


def test_segmentation_accumulates_over_images_and_rejects_bad_input():
    a = segmentation_scores([np.zeros((2, 2)), np.ones((2, 2))], [np.zeros((2, 2)), np.zeros((2, 2))], 2)
    # class 0: inter 4, union 8; class 1: inter 0, union 4
    assert a.miou == pytest.approx(0.25) and a.pixel_accuracy == pytest.approx(0.5)
    with pytest.raises(MetricInputError, match="shape"):
        segmentation_scores([np.zeros((2, 2))], [np.zeros((2, 3))], 2)
    with pytest.raises(MetricInputError, match="class index"):
        segmentation_scores([np.full((2, 2), 7)], [np.zeros((2, 2))], 2)


# ------------------------------------------------------------------ enhancement
def test_psnr_by_hand():
    a = np.zeros((4, 4, 3), np.uint8)
    assert psnr(a, a + 10) == pytest.approx(10 * math.log10(255 ** 2 / 100))  # 28.1308
    assert psnr(a, a + 10) == pytest.approx(28.1308, abs=1e-4)
    assert psnr(a, a) == float("inf")
    f = np.zeros((3, 3))
    assert psnr(f, f + 0.1) == pytest.approx(20.0)
    with pytest.raises(MetricInputError, match="shape"):
        psnr(a, a[:2])


def test_ssim_constant_images_by_hand():
    a, b = np.full((16, 16), 100, np.uint8), np.full((16, 16), 120, np.uint8)
    c1 = (0.01 * 255) ** 2  # variances are 0, so SSIM = luminance term only
    expected = (2 * 100 * 120 + c1) / (100 ** 2 + 120 ** 2 + c1)
    assert ssim(a, b) == pytest.approx(expected)
    assert ssim(a, b) == pytest.approx(0.98361, abs=1e-5)


def test_ssim_identical_inverted_and_noise():
    rng = np.random.default_rng(1)
    img = rng.uniform(0, 1, (32, 32, 3))
    assert ssim(img, img) == pytest.approx(1.0)
    assert ssim(img, 1 - img) < 0  # structure is anti-correlated
    noisy = np.clip(img + rng.normal(0, 0.1, img.shape), 0, 1)
    assert 0 < ssim(img, noisy) < 1


def test_mean_brightness():
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 1] = 255  # pure green: luma 0.587
    assert mean_brightness(img) == pytest.approx(0.587)
    assert mean_brightness(np.full((3, 3), 0.25)) == pytest.approx(0.25)


# ------------------------------------------------------------------ classification
def test_topk_by_hand():
    scores = np.array([
        [0.1, 0.5, 0.2, 0.0, 0.1, 0.1],  # label 1: top-1 hit
        [0.3, 0.1, 0.2, 0.15, 0.05, 0.2],  # label 3: rank 4 -> top-5 hit only
        [0.3, 0.25, 0.2, 0.1, 0.1, 0.05],  # label 5: last -> miss both
    ])
    r = topk_accuracy(scores, [1, 3, 5])
    assert r == {"top1": pytest.approx(1 / 3), "top5": pytest.approx(2 / 3)}
    assert topk_accuracy(scores, [1, 3, 5], ks=(6,))["top6"] == 1.0
    with pytest.raises(MetricInputError, match="labels"):
        topk_accuracy(scores, [1, 3, 6])
