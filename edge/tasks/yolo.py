"""Decoders of Ultralytics YOLO heads (detect, pose, segment; raw or end-to-end) and the classic YOLOv5 head.

Pure functions on dequantised float arrays; the plan (layout, classes, keypoints, thresholds) comes from
``edge.ultralytics`` at load time. What each one does, as Ultralytics' ``predict`` and YOLOv5's ``detect.py``:

* ``decode_head``: ``[1, 4 + nc + extra, N]`` (or anchors-first) rows of cx, cy, w, h (0..1 of the input),
  class scores, then ``extra`` values (keypoints or mask coefficients); best class per row, ``score > conf``,
  at most 30000 candidates by score, class-aware NMS, ``max_det`` kept. End-to-end heads (NMS inside the
  graph) give ``x1, y1, x2, y2, score, class, extra`` rows and are only thresholded.
* ``decode_yolov5_anchors``: ``[1, N, 5 + nc]`` rows of cx, cy, w, h, objectness, class scores; candidates
  with objectness > conf, score = objectness x class, then as above.
* ``keypoints_to_frame``: x, y (0..1 of the input) [+ visibility] through the letterbox, clipped to the frame.
* ``instance_masks``: prototypes ``(mh, mw, nm)`` x each detection's coefficients, zeroed outside its box at
  prototype resolution, bilinear to input resolution and > 0 (= sigmoid > 0.5), then the letterbox padding
  cut off and bilinear to frame resolution, > 0.5 (Ultralytics' ``process_mask`` + ``scale_masks``). Only
  the box's neighbourhood is computed, so the cost follows the objects' size, not the frame's.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..boxes import batched_nms, cxcywh_to_xyxy
from ..errors import MetadataError
from ..preprocess import Transform
from ..results import Detections, InstanceMask

MAX_NMS_CANDIDATES = 30000  # Ultralytics' max_nms: candidates kept (by score) before NMS


def _rows(raw: np.ndarray, layout: str) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.float32)
    if raw.ndim == 3:
        raw = raw[0]
    if raw.ndim != 2:
        raise MetadataError(f"a YOLO head must be [1, C, N] or [1, N, C], got shape {raw.shape}")
    if layout == "channels_first":
        return raw.T
    if layout != "anchors_first":
        raise MetadataError(f"unknown YOLO head layout {layout!r}; expected 'channels_first' or 'anchors_first'")
    return raw


def _to_normalised(boxes: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """Boxes of a TFLite YOLO head are 0..1 of the input: Ultralytics' AutoBackend and YOLOv5's detect.py
    multiply every TFLite file's boxes (and keypoints) by the input size, without looking at the values. So
    do we: the units are fixed by the family, not guessed from a frame's values (``input_size`` unused)."""
    return boxes


def _nms_select(boxes, scores, class_ids, iou: float, max_det: int) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")[:MAX_NMS_CANDIDATES]
    keep = batched_nms(boxes[order], scores[order], class_ids[order], iou, max_det)
    return order[keep]


def decode_head(raw: np.ndarray, *, layout: str, nc: int, n_extra: int = 0, end2end: bool = False,
                score: float = 0.25, iou: float = 0.7, max_det: int = 300,
                input_size: tuple[int, int] = (640, 640)):
    """One Ultralytics head -> (boxes xyxy 0..1 of the input, scores, class_ids, extra (M, n_extra))."""
    rows = _rows(raw, layout)
    if end2end:
        if rows.shape[1] != 6 + n_extra:
            raise MetadataError(f"an end-to-end YOLO head needs 6 + {n_extra} values per row, got {rows.shape[1]}")
        scores = rows[:, 4]
        sel = np.nonzero(scores > score)[0][:max_det]
        boxes = _to_normalised(rows[sel, :4], input_size)
        return boxes, scores[sel], rows[sel, 5].astype(np.int32), rows[sel, 6:]
    if rows.shape[1] != 4 + nc + n_extra:
        raise MetadataError(f"a YOLO head with {nc} classes and {n_extra} extra values needs {4 + nc + n_extra} "
                            f"values per row, got {rows.shape[1]}")
    cls = rows[:, 4 : 4 + nc]
    class_ids = np.argmax(cls, axis=1).astype(np.int32)
    scores = cls[np.arange(len(cls)), class_ids]
    sel = np.nonzero(scores > score)[0]
    boxes = _to_normalised(cxcywh_to_xyxy(rows[sel, :4]), input_size)
    keep = _nms_select(boxes, scores[sel], class_ids[sel], iou, max_det)
    idx = sel[keep]
    return boxes[keep], scores[idx], class_ids[idx], rows[idx, 4 + nc :]


def decode_yolov5_anchors(raw: np.ndarray, *, nc: int, score: float = 0.25, iou: float = 0.45,
                          max_det: int = 1000, input_size: tuple[int, int] = (640, 640)):
    """Classic YOLOv5 head [1, N, 5 + nc] -> (boxes xyxy 0..1, scores, class_ids), as its detect.py."""
    rows = _rows(raw, "anchors_first")
    if rows.shape[1] != 5 + nc:
        raise MetadataError(f"a YOLOv5 anchor head with {nc} classes needs {5 + nc} values per row, "
                            f"got {rows.shape[1]}")
    cand = np.nonzero(rows[:, 4] > score)[0]
    conf = rows[cand, 5:] * rows[cand, 4:5]
    class_ids = np.argmax(conf, axis=1).astype(np.int32)
    scores = conf[np.arange(len(conf)), class_ids]
    sel = scores > score
    cand, class_ids, scores = cand[sel], class_ids[sel], scores[sel]
    boxes = _to_normalised(cxcywh_to_xyxy(rows[cand, :4]), input_size)
    keep = _nms_select(boxes, scores, class_ids, iou, max_det)
    return boxes[keep], scores[keep], class_ids[keep]


def keypoints_to_frame(extra: np.ndarray, kpt_shape: tuple[int, int], transform: Transform) -> np.ndarray:
    """(M, K * D) keypoint values (x, y 0..1 of the input [, visibility]) -> (M, K, 3) frame pixels + conf."""
    k, d = kpt_shape
    kp = np.asarray(extra, dtype=np.float32).reshape(-1, k, d)  # 0..1 of the input, as upstream reads them
    xy = transform.points_to_frame(kp[..., :2])
    fw, fh = transform.frame_size
    xy = np.clip(xy, 0, [fw, fh])
    conf = kp[..., 2:3] if d == 3 else np.ones(kp.shape[:2] + (1,), np.float32)
    return np.concatenate([xy, conf], axis=-1).astype(np.float32)


def _content_box(transform: Transform) -> tuple[int, int, int, int]:
    """Where the frame lies in the model input (left, top, right, bottom), rounded as Ultralytics' scale_masks."""
    iw, ih = transform.input_size
    fw, fh = transform.frame_size
    pad_w, pad_h = (iw - fw * transform.scale_x) / 2, (ih - fh * transform.scale_y) / 2
    left, top = int(round(pad_w - 0.1)), int(round(pad_h - 0.1))
    return left, top, iw - int(round(pad_w + 0.1)), ih - int(round(pad_h + 0.1))


def instance_masks(protos: np.ndarray, coefs: np.ndarray, boxes_norm: np.ndarray,
                   transform: Transform) -> tuple[InstanceMask, ...]:
    """Binary frame-pixel masks of M detections from prototypes (mh, mw, nm) and coefficients (M, nm).

    ``boxes_norm`` are the detections' boxes, xyxy 0..1 of the model input (before un-letterboxing).
    """
    protos = np.asarray(protos, dtype=np.float32)
    mh, mw, nm = protos.shape
    coefs = np.asarray(coefs, dtype=np.float32).reshape(-1, nm)
    iw, ih = transform.input_size
    fw, fh = transform.frame_size
    left, top, right, bottom = _content_box(transform)
    sx, sy = (right - left) / fw, (bottom - top) / fh  # input pixels per frame pixel after cutting the padding
    out = []
    for coef, box in zip(coefs, np.asarray(boxes_norm, dtype=np.float32).reshape(-1, 4)):
        bx0, by0, bx1, by1 = box * np.array([mw, mh, mw, mh], dtype=np.float32)  # box at prototype resolution
        # prototype cells c with bx0 <= c < bx1 (and rows alike) keep their logit, all others are 0 (crop_mask);
        # only those cells and a margin of one (zeros, or the image edge that bilinear clamps to) are computed
        cx0, cx1 = int(np.clip(np.ceil(bx0), 0, mw)), int(np.clip(np.ceil(bx1), 0, mw))
        cy0, cy1 = int(np.clip(np.ceil(by0), 0, mh)), int(np.clip(np.ceil(by1), 0, mh))
        if cx1 <= cx0 or cy1 <= cy0:
            out.append(InstanceMask(0, 0, np.zeros((0, 0), bool), (fw, fh)))
            continue
        mx0, my0, mx1, my1 = max(0, cx0 - 1), max(0, cy0 - 1), min(mw, cx1 + 1), min(mh, cy1 + 1)
        logits = np.zeros((my1 - my0, mx1 - mx0), np.float32)
        # einsum, not BLAS: a small mat-vec whose time does not depend on BLAS threads fighting for cores
        logits[cy0 - my0 : cy1 - my0, cx0 - mx0 : cx1 - mx0] = np.einsum("hwk,k->hw", protos[cy0:cy1, cx0:cx1], coef)
        # input-resolution region around the box: two prototype cells of margin for the bilinear spread
        mx, my = iw / mw, ih / mh
        ix0 = int(max(0, np.floor(bx0 * mx - 2 * mx)))
        iy0 = int(max(0, np.floor(by0 * my - 2 * my)))
        ix1 = int(min(iw, np.ceil(bx1 * mx + 2 * mx)))
        iy1 = int(min(ih, np.ceil(by1 * my + 2 * my)))
        if ix1 <= ix0 or iy1 <= iy0:
            out.append(InstanceMask(0, 0, np.zeros((0, 0), bool), (fw, fh)))
            continue
        # prototype -> input resolution, half-pixel centres (F.interpolate bilinear, align_corners=False)
        m_up = np.array([[mw / iw, 0, (ix0 + 0.5) * mw / iw - 0.5 - mx0], [0, mh / ih, (iy0 + 0.5) * mh / ih - 0.5 - my0]])
        up = cv2.warpAffine(logits, m_up, (ix1 - ix0, iy1 - iy0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
        binary = (up > 0).astype(np.float32)
        # input -> frame resolution over the same region, padding cut off (scale_masks)
        fx0 = int(max(0, np.floor((ix0 - left) / sx)))
        fy0 = int(max(0, np.floor((iy0 - top) / sy)))
        fx1 = int(min(fw, np.ceil((ix1 - left) / sx)))
        fy1 = int(min(fh, np.ceil((iy1 - top) / sy)))
        if fx1 <= fx0 or fy1 <= fy0:
            out.append(InstanceMask(0, 0, np.zeros((0, 0), bool), (fw, fh)))
            continue
        m_down = np.array([[sx, 0, (fx0 + 0.5) * sx - 0.5 + left - ix0],
                           [0, sy, (fy0 + 0.5) * sy - 0.5 + top - iy0]])
        down = cv2.warpAffine(binary, m_down, (fx1 - fx0, fy1 - fy0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out.append(InstanceMask(fx0, fy0, down > 0.5, (fw, fh)))
    return tuple(out)


def protos_hwc(protos: np.ndarray, layout: str) -> np.ndarray:
    p = np.asarray(protos, dtype=np.float32)
    p = p[0] if p.ndim == 4 else p
    return np.transpose(p, (1, 2, 0)) if layout == "NCHW" else p


def decode(outputs: dict[str, np.ndarray], info, transform: Transform, opts: dict) -> Detections:
    """Detections (with keypoints / masks when the head has them) in frame pixels, from the plan in ``info``."""
    plan = info.decode
    head = outputs[info.output("yolo_head").name]
    score, iou, max_det = float(opts["score"]), float(opts["iou"]), int(opts["max_detections"])
    if plan["kind"] == "yolov5_anchors":
        boxes, scores, class_ids = decode_yolov5_anchors(head, nc=int(plan["nc"]), score=score, iou=iou,
                                                         max_det=max_det, input_size=info.input_size)
        return Detections(transform.boxes_to_frame(boxes), scores, class_ids, info.labels)
    kpt_shape = tuple(plan.get("kpt_shape") or ())
    n_extra = kpt_shape[0] * kpt_shape[1] if kpt_shape else int(plan.get("nm", 0))
    boxes, scores, class_ids, extra = decode_head(
        head, layout=plan["layout"], nc=int(plan["nc"]), n_extra=n_extra, end2end=bool(plan["end2end"]),
        score=score, iou=iou, max_det=max_det, input_size=info.input_size)
    keypoints = keypoints_to_frame(extra, kpt_shape, transform) if kpt_shape else None
    masks = None
    if plan.get("head") == "segment":
        protos = protos_hwc(outputs[info.output("yolo_protos").name], plan.get("protos_layout", "NHWC"))
        masks = instance_masks(protos, extra, boxes, transform)
    return Detections(transform.boxes_to_frame(boxes), scores, class_ids, info.labels, keypoints, masks)
