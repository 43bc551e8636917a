"""Metrics of the non-detection tasks. numpy only (train, export and bench all use these).

Pose
  * ``oks``: COCO object keypoint similarity, ``sum_i exp(-d_i^2 / (2 s^2 k_i^2)) / #visible``, over the
    ground truth's visible keypoints (v > 0), with ``s^2`` the object area and ``k_i = 2 * sigma_i`` (COCO's
    per-keypoint sigmas below).
  * ``oks_ap``: COCO keypoint AP: per image, predictions best score first are matched greedily to the
    unmatched ground truth of highest OKS (>= threshold); AP is sampled at 101 recall points
    (``edge.metrics.average_precision``) and averaged over OKS thresholds 0.50:0.05:0.95. Ground truths
    without a visible keypoint are left out, as COCO does.
  * ``pck``: PCK@alpha, **torso-normalised** by default: a visible keypoint is correct when its distance to the
    truth is at most ``alpha`` x the torso diameter (left shoulder to right hip, both must be visible; people
    without them are counted in ``skipped``). ``normalize="bbox"`` uses ``alpha`` x the longer side of the
    ground-truth box instead.
Segmentation: ``segmentation_scores`` -> mIoU over classes present in truth or prediction, and pixel
  accuracy; pixels labelled ``ignore_label`` (255) in the truth are left out of both.
Enhancement: ``psnr`` and ``ssim`` (Gaussian window 11x11, sigma 1.5, K1 0.01, K2 0.03, "valid" filtering,
  mean over channels), ``mean_brightness`` (Rec. 601 luma, 0..1).
Classification: ``topk_accuracy``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .metrics import COCO_IOU_THRESHOLDS, average_precision

COCO_KEYPOINT_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07,
                                 0.87, 0.87, 0.89, 0.89], np.float64) / 10.0
OKS_THRESHOLDS = COCO_IOU_THRESHOLDS
LEFT_SHOULDER, RIGHT_HIP = 5, 12
IGNORE_LABEL = 255


class MetricInputError(ValueError):
    """Arrays handed to a metric have shapes or values it cannot score."""


# ----------------------------------------------------------------------------------------------- pose
def _keypoints(array, what: str) -> np.ndarray:
    kp = np.asarray(array, np.float64)
    if kp.ndim != 2 or kp.shape[1] != 3:
        raise MetricInputError(f"{what}: expected keypoints of shape (K, 3) as x, y, v/score; got {kp.shape}")
    return kp


def oks(pred: np.ndarray, gt: np.ndarray, area: float, sigmas: np.ndarray = COCO_KEYPOINT_SIGMAS) -> float:
    """OKS of one prediction (K, 3) against one ground truth (K, 3: x, y, visibility) of ``area`` pixels^2."""
    pred, gt = _keypoints(pred, "oks prediction"), _keypoints(gt, "oks ground truth")
    if pred.shape != gt.shape or len(sigmas) != len(gt):
        raise MetricInputError(f"oks: prediction {pred.shape}, ground truth {gt.shape} and {len(sigmas)} sigmas "
                               "must agree on the keypoint count")
    visible = gt[:, 2] > 0
    if not visible.any():
        raise MetricInputError("oks: the ground truth has no visible keypoint")
    d2 = (pred[:, 0] - gt[:, 0]) ** 2 + (pred[:, 1] - gt[:, 1]) ** 2
    k2 = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    e = d2 / (2.0 * k2 * (float(area) + np.spacing(1)))
    return float(np.exp(-e)[visible].mean())


@dataclass
class PoseGroundTruth:
    keypoints: np.ndarray  # (K, 3) x, y, visibility (0 = not labelled, 1 = hidden, 2 = visible)
    area: float  # object area in pixels^2 (COCO "area")
    box: np.ndarray | None = None  # (4,) x0 y0 x1 y1, for bbox-normalised PCK


@dataclass
class OksApResult:
    ap: float  # averaged over OKS 0.50:0.95
    ap50: float
    ap75: float
    per_threshold: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def as_dict(self) -> dict:
        return {"oks_ap": self.ap, "oks_ap50": self.ap50, "oks_ap75": self.ap75}


def oks_ap(ground_truth: Sequence[Sequence[PoseGroundTruth]], predictions: Sequence[Sequence[tuple]],
           thresholds: Sequence[float] = OKS_THRESHOLDS, sigmas: np.ndarray = COCO_KEYPOINT_SIGMAS) -> OksApResult:
    """COCO keypoint AP. ``predictions[i]`` is a list of ``(keypoints (K, 3), score)`` for image i."""
    if len(ground_truth) != len(predictions):
        raise MetricInputError(f"oks_ap: {len(ground_truth)} ground-truth images but {len(predictions)} "
                               "prediction images; expected one entry per image in both")
    thr = np.asarray(thresholds, np.float64)
    tps, scores, num_gt = [], [], 0
    for gts, preds in zip(ground_truth, predictions):
        gts = [g for g in gts if (np.asarray(g.keypoints)[:, 2] > 0).any()]
        num_gt += len(gts)
        preds = sorted(preds, key=lambda p: -float(p[1]))
        tp = np.zeros((len(thr), len(preds)), bool)
        if gts and preds:
            sim = np.array([[oks(p[0], g.keypoints, g.area, sigmas) for g in gts] for p in preds])
            for t_i, t in enumerate(thr):
                taken = np.zeros(len(gts), bool)
                for d in range(len(preds)):
                    cand = np.where(taken, -1.0, sim[d])
                    g = int(np.argmax(cand))
                    if cand[g] >= t - 1e-9:
                        taken[g], tp[t_i, d] = True, True
        tps.append(tp)
        scores.append(np.array([float(p[1]) for p in preds], np.float64))
    if num_gt == 0:
        raise MetricInputError("oks_ap: no ground-truth person has a visible keypoint")
    aps = average_precision(np.concatenate(tps, axis=1), np.concatenate(scores), num_gt)
    pick = lambda v: float(aps[int(np.argmin(np.abs(thr - v)))])  # noqa: E731
    return OksApResult(float(aps.mean()), pick(0.5), pick(0.75), aps)


@dataclass
class PckResult:
    pck: float  # correct / counted keypoints
    per_keypoint: np.ndarray  # (K,) nan where a keypoint was never visible
    counted: int
    skipped: int  # people without a usable normaliser (torso joints not visible, or no box)

    def as_dict(self) -> dict:
        return {"pck": self.pck}


def pck(ground_truth: Sequence[PoseGroundTruth], predictions: Sequence[np.ndarray], alpha: float = 0.2,
        normalize: str = "torso") -> PckResult:
    """PCK@alpha over people (one prediction (K, 3) per ground truth, same order)."""
    if len(ground_truth) != len(predictions):
        raise MetricInputError(f"pck: {len(ground_truth)} people but {len(predictions)} predictions")
    if normalize not in ("torso", "bbox"):
        raise MetricInputError(f"pck: normalize={normalize!r}; expected 'torso' or 'bbox'")
    correct, total, skipped = None, None, 0
    for g, p in zip(ground_truth, predictions):
        gk, pk = _keypoints(g.keypoints, "pck ground truth"), _keypoints(p, "pck prediction")
        if gk.shape != pk.shape:
            raise MetricInputError(f"pck: prediction {pk.shape} and ground truth {gk.shape} differ")
        if correct is None:
            correct, total = np.zeros(len(gk)), np.zeros(len(gk))
        if normalize == "torso":
            if gk[LEFT_SHOULDER, 2] <= 0 or gk[RIGHT_HIP, 2] <= 0:
                skipped += 1
                continue
            scale = float(np.hypot(*(gk[LEFT_SHOULDER, :2] - gk[RIGHT_HIP, :2])))
        else:
            if g.box is None:
                skipped += 1
                continue
            b = np.asarray(g.box, np.float64)
            scale = float(max(b[2] - b[0], b[3] - b[1]))
        vis = gk[:, 2] > 0
        dist = np.hypot(pk[:, 0] - gk[:, 0], pk[:, 1] - gk[:, 1])
        correct += (vis & (dist <= alpha * scale)).astype(np.float64)
        total += vis.astype(np.float64)
    if total is None or total.sum() == 0:
        return PckResult(0.0, np.zeros(0), 0, skipped)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_kp = np.where(total > 0, correct / np.maximum(total, 1), np.nan)
    return PckResult(float(correct.sum() / total.sum()), per_kp, int(total.sum()), skipped)


# ------------------------------------------------------------------------------------------ segmentation
@dataclass
class SegmentationScores:
    miou: float
    pixel_accuracy: float
    per_class_iou: np.ndarray  # (C,) nan for classes absent from both truth and prediction
    confusion: np.ndarray  # (C, C) rows = truth, columns = prediction

    def as_dict(self) -> dict:
        return {"miou": self.miou, "pixel_accuracy": self.pixel_accuracy}


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, num_classes: int,
                     ignore_label: int = IGNORE_LABEL) -> np.ndarray:
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape:
        raise MetricInputError(f"segmentation: truth {truth.shape} and prediction {pred.shape} differ in shape")
    valid = truth != ignore_label
    t, p = truth[valid].astype(np.int64), pred[valid].astype(np.int64)
    bad = (t < 0) | (t >= num_classes) | (p < 0) | (p >= num_classes)
    if bad.any():
        raise MetricInputError(f"segmentation: class index outside 0..{num_classes - 1} "
                               f"(truth {np.unique(t[bad])[:5].tolist()}, prediction {np.unique(p[bad])[:5].tolist()})")
    return np.bincount(t * num_classes + p, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def scores_from_confusion(conf: np.ndarray) -> SegmentationScores:
    conf = np.asarray(conf, np.float64)
    inter = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
    total = conf.sum()
    miou = float(np.nanmean(iou)) if np.isfinite(iou).any() else 0.0
    return SegmentationScores(miou, float(inter.sum() / total) if total else 0.0, iou, conf.astype(np.int64))


def segmentation_scores(truths: Sequence[np.ndarray], preds: Sequence[np.ndarray], num_classes: int,
                        ignore_label: int = IGNORE_LABEL) -> SegmentationScores:
    """mIoU and pixel accuracy over a set of (H, W) class maps, accumulated in one confusion matrix."""
    if len(truths) != len(preds):
        raise MetricInputError(f"segmentation: {len(truths)} truth maps but {len(preds)} predictions")
    conf = np.zeros((num_classes, num_classes), np.int64)
    for t, p in zip(truths, preds):
        conf += confusion_matrix(t, p, num_classes, ignore_label)
    return scores_from_confusion(conf)


# ------------------------------------------------------------------------------------------- enhancement
def _data_range(a: np.ndarray, data_range: float | None) -> float:
    if data_range is not None:
        return float(data_range)
    return 255.0 if a.dtype == np.uint8 else 1.0


def _pair(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise MetricInputError(f"{what}: images differ in shape, {a.shape} vs {b.shape}")
    return a, b


def psnr(a: np.ndarray, b: np.ndarray, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images). uint8 -> range 255, float -> 1.0."""
    a, b = _pair(a, b, "psnr")
    rng = _data_range(a, data_range)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(rng * rng / mse))


def _gaussian_kernel(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x ** 2) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' 2-D filtering of (H, W)."""
    n = len(g)
    h, w = img.shape
    rows = sum(g[i] * img[i:h - n + 1 + i, :] for i in range(n))
    return sum(g[j] * rows[:, j:w - n + 1 + j] for j in range(n))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float | None = None, window: int = 11,
         sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004) over (H, W) or (H, W, C) images, averaged over channels."""
    a, b = _pair(a, b, "ssim")
    if a.ndim not in (2, 3) or min(a.shape[:2]) < window:
        raise MetricInputError(f"ssim: expected (H, W[, C]) images at least {window} pixels on a side; got {a.shape}")
    rng = _data_range(a, data_range)
    c1, c2 = (0.01 * rng) ** 2, (0.03 * rng) ** 2
    g = _gaussian_kernel(window, sigma)
    a3 = a.astype(np.float64).reshape(a.shape[0], a.shape[1], -1)
    b3 = b.astype(np.float64).reshape(a3.shape)
    vals = []
    for c in range(a3.shape[2]):
        x, y = a3[..., c], b3[..., c]
        mx, my = _filter_valid(x, g), _filter_valid(y, g)
        sxx = _filter_valid(x * x, g) - mx * mx
        syy = _filter_valid(y * y, g) - my * my
        sxy = _filter_valid(x * y, g) - mx * my
        m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        vals.append(m.mean())
    return float(np.mean(vals))


def mean_brightness(image: np.ndarray, data_range: float | None = None) -> float:
    """Mean Rec. 601 luma of an RGB (H, W, 3) or grey (H, W) image, 0..1."""
    img = np.asarray(image)
    rng = _data_range(img, data_range)
    f = img.astype(np.float64) / rng
    if f.ndim == 3 and f.shape[2] == 3:
        f = f @ np.array([0.299, 0.587, 0.114])
    elif f.ndim != 2:
        raise MetricInputError(f"mean_brightness: expected (H, W) or (H, W, 3), got {img.shape}")
    return float(f.mean())


# ---------------------------------------------------------------------------------------- classification
def topk_accuracy(scores: np.ndarray, labels: np.ndarray, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """{"top1": .., "top5": ..}: fraction of rows whose true label is among the k highest scores.

    k larger than the class count counts every row as correct (there are only that many guesses).
    Ties are broken by the lower class index (stable sort).
    """
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, np.int64).reshape(-1)
    if s.ndim != 2 or len(s) != len(y):
        raise MetricInputError(f"topk_accuracy: scores {s.shape} must be (N, C) with N = {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() >= s.shape[1]):
        raise MetricInputError(f"topk_accuracy: labels must lie in 0..{s.shape[1] - 1}")
    order = np.argsort(-s, axis=1, kind="stable")
    out = {}
    for k in ks:
        hit = (order[:, :k] == y[:, None]).any(axis=1)
        out[f"top{k}"] = float(hit.mean()) if len(y) else 0.0
    return out
