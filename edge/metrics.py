"""Detection mAP with the COCO definition. numpy only (used by train, export and bench alike).

Per class and IoU threshold: detections of each image, best score first, are matched greedily to the
unmatched ground-truth box they overlap most (IoU >= threshold); all detections of the class are then ranked
by score, precision is made monotone, and sampled at 101 recall points (0, 0.01, ..., 1). mAP@0.5 uses the
0.5 threshold; mAP@0.5:0.95 averages the ten thresholds 0.50, 0.55, ..., 0.95. Classes without any ground
truth are left out. At most ``max_detections`` best-scoring detections per image count (COCO: 100).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .boxes import iou_matrix
from .results import Detections

COCO_IOU_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass
class MapResult:
    map50: float
    map50_95: float
    per_class: dict[int, np.ndarray] = field(default_factory=dict)  # class id -> AP per IoU threshold
    iou_thresholds: np.ndarray = field(default_factory=lambda: COCO_IOU_THRESHOLDS.copy())

    def as_dict(self) -> dict:
        return {"map50": self.map50, "map50_95": self.map50_95}


def _as_pred(p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(p, Detections):
        return p.boxes, p.scores, p.class_ids
    boxes, scores, classes = p
    return (np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32).reshape(-1),
            np.asarray(classes, np.int64).reshape(-1))


def _as_gt(g) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(g, Detections):
        return g.boxes, g.class_ids
    boxes, classes = g
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(classes, np.int64).reshape(-1)


def _match_image(pred_boxes, gt_boxes, thresholds) -> np.ndarray:
    """Greedy matching of one image's detections (sorted by score): (T, D) bool, True = true positive."""
    tp = np.zeros((len(thresholds), len(pred_boxes)), bool)
    if not len(pred_boxes) or not len(gt_boxes):
        return tp
    iou = iou_matrix(pred_boxes, gt_boxes)
    for t_i, t in enumerate(thresholds):
        taken = np.zeros(len(gt_boxes), bool)
        for d in range(len(pred_boxes)):
            cand = np.where(taken, -1.0, iou[d])
            g = int(np.argmax(cand))
            if cand[g] >= t - 1e-9:
                taken[g] = True
                tp[t_i, d] = True
    return tp


def average_precision(tp: np.ndarray, scores: np.ndarray, num_gt: int) -> np.ndarray:
    """101-point interpolated AP per threshold from per-detection TP flags (T, D) and scores (D,)."""
    if num_gt == 0:
        raise ValueError("average_precision needs at least one ground-truth box")
    order = np.argsort(-scores, kind="mergesort")
    tp = tp[:, order].astype(np.float64)
    ctp, cfp = np.cumsum(tp, axis=1), np.cumsum(1.0 - tp, axis=1)
    aps = np.zeros(tp.shape[0])
    for t_i in range(tp.shape[0]):
        if not tp.shape[1]:
            continue
        recall = ctp[t_i] / num_gt
        precision = ctp[t_i] / np.maximum(ctp[t_i] + cfp[t_i], np.finfo(np.float64).eps)
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, RECALL_POINTS, side="left")
        sampled = np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0.0)
        aps[t_i] = sampled.mean()
    return aps


def mean_average_precision(
    ground_truth: Sequence,
    predictions: Sequence,
    iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
    max_detections: int = 100,
) -> MapResult:
    """COCO-style mAP over images.

    ``ground_truth[i]`` is ``(boxes (G,4) xyxy, class_ids (G,))`` or a Detections; ``predictions[i]`` is
    ``(boxes (D,4) xyxy, scores (D,), class_ids (D,))`` or a Detections, in the same coordinates.
    """
    if len(ground_truth) != len(predictions):
        raise ValueError(f"mean_average_precision: {len(ground_truth)} ground-truth images but "
                         f"{len(predictions)} prediction images; expected one entry per image in both")
    thresholds = np.asarray(iou_thresholds, np.float64)
    gts = [_as_gt(g) for g in ground_truth]
    preds = []
    for p in predictions:
        boxes, scores, classes = _as_pred(p)
        keep = np.argsort(-scores, kind="mergesort")[:max_detections]
        preds.append((boxes[keep], scores[keep], classes[keep]))
    classes = sorted({int(c) for _, gc in gts for c in gc})
    per_class: dict[int, np.ndarray] = {}
    for c in classes:
        tps, scs, num_gt = [], [], 0
        for (gb, gc), (pb, ps, pc) in zip(gts, preds):
            g = gb[gc == c]
            sel = pc == c
            b, s = pb[sel], ps[sel]
            order = np.argsort(-s, kind="mergesort")
            tps.append(_match_image(b[order], g, thresholds))
            scs.append(s[order])
            num_gt += len(g)
        per_class[c] = average_precision(np.concatenate(tps, axis=1), np.concatenate(scs), num_gt)
    if not per_class:
        return MapResult(0.0, 0.0, {}, thresholds)
    table = np.stack(list(per_class.values()))  # (classes, thresholds)
    i50 = int(np.argmin(np.abs(thresholds - 0.5)))
    return MapResult(float(table[:, i50].mean()), float(table.mean()), per_class, thresholds)
