"""Box geometry, non-maximum suppression and raw-head decoding. numpy only, pure functions."""

from __future__ import annotations

import numpy as np

from .errors import MetadataError


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float32)
    cx, cy, w, h = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float32)
    x0, y0, x1, y1 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return np.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=-1)


def box_area(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N,4 xyxy) with every box in ``b`` (M,4 xyxy): (N, M)."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5, max_out: int = 100) -> np.ndarray:
    """Greedy NMS; returns kept indices, highest score first."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    areas = box_area(boxes)
    while order.size and len(keep) < max_out:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        if not rest.size:
            break
        lt = np.maximum(boxes[i, :2], boxes[rest, :2])
        rb = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        wh = np.clip(rb - lt, 0, None)
        inter = wh[:, 0] * wh[:, 1]
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, class_ids, iou_threshold: float = 0.5, max_out: int = 100) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if not len(boxes):
        return np.zeros(0, np.int64)
    offset = (np.asarray(class_ids, dtype=np.float32) * (float(boxes.max()) + 1.0))[:, None]
    return nms(boxes + offset, scores, iou_threshold, max_out)


def decode_raw_boxes_scores(
    raw: np.ndarray,
    *,
    layout: str,
    box_format: str = "cxcywh",
    box_units: str = "normalized",
    input_size: tuple[int, int],
    score_threshold: float = 0.25,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode one raw detection head into (boxes xyxy normalised 0..1, scores, class_ids) after NMS.

    ``raw`` is ``[1, N, 4+C]`` (layout "anchors_first") or ``[1, 4+C, N]`` ("channels_first"), already
    dequantised to float. ``box_units`` is "normalized" (0..1 of the input) or "pixels" (input pixels);
    ``input_size`` is (width, height) of the model input.
    """
    raw = np.asarray(raw, dtype=np.float32)
    if raw.ndim == 3:
        raw = raw[0]
    if raw.ndim != 2:
        raise MetadataError(f"raw detection output must be 2-D after the batch axis, got shape {raw.shape}")
    if layout == "channels_first":
        raw = raw.T
    elif layout != "anchors_first":
        raise MetadataError(f"unknown raw-head layout {layout!r}; expected 'anchors_first' or 'channels_first'")
    if raw.shape[1] < 5:
        raise MetadataError(f"raw detection rows need 4 box values and at least 1 class, got {raw.shape[1]}")
    box, cls = raw[:, :4], raw[:, 4:]
    class_ids = np.argmax(cls, axis=1)
    scores = cls[np.arange(len(cls)), class_ids]
    sel = scores >= score_threshold
    box, scores, class_ids = box[sel], scores[sel], class_ids[sel]
    if box_format == "cxcywh":
        box = cxcywh_to_xyxy(box)
    elif box_format != "xyxy":
        raise MetadataError(f"unknown box_format {box_format!r}; expected 'cxcywh' or 'xyxy'")
    if box_units == "pixels":
        w, h = input_size
        box = box / np.array([w, h, w, h], dtype=np.float32)
    elif box_units != "normalized":
        raise MetadataError(f"unknown box_units {box_units!r}; expected 'normalized' or 'pixels'")
    keep = batched_nms(box, scores, class_ids, iou_threshold, max_detections)
    return np.clip(box[keep], 0.0, 1.0), scores[keep], class_ids[keep].astype(np.int32)
