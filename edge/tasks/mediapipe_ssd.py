"""MediaPipe's SSD-anchor detectors (BlazeFace, BlazePalm, the BlazePose person detector). numpy, pure.

These files hold no post-processing: two outputs, ``[1, N, C]`` box regressors (box + keypoints, relative
to an anchor) and ``[1, N, 1]`` score logits. The anchors are not in the file; MediaPipe generates them in
its graph (SsdAnchorsCalculator) from a few numbers, so a model is recognised by its input size, anchor
count and regressor width, looked up in ``KNOWN`` (the options of MediaPipe's own graphs). A config can be
named explicitly (``anchors = "palm_192"`` in the pipeline TOML, ``--anchors`` on the CLI).

Decoding follows TensorsToDetectionsCalculator: raw values are x, y, w, h (``reverse_output_order``) then
K keypoints x, y, each divided by the input size and scaled by the anchor size (1 with
``fixed_anchor_size``), plus the anchor centre; scores are the sigmoid of the logits clipped to +-100.
Overlapping boxes are merged by MediaPipe's weighted NMS: the best box absorbs every box whose IoU with it
exceeds the threshold, its coordinates and keypoints becoming the score-weighted mean of the group, its
score staying the best one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import ConfigError, MetadataError


@dataclass(frozen=True)
class SsdAnchorConfig:
    name: str
    what: str  # the MediaPipe model(s) this is for
    input_size: tuple[int, int]  # (width, height)
    strides: tuple[int, ...]
    num_keypoints: int
    labels: tuple[str, ...]
    input_range: tuple[float, float]  # the float range MediaPipe's graph feeds: (-1, 1) or (0, 1)
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    aspect_ratios: tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    anchor_offset: tuple[float, float] = (0.5, 0.5)
    fixed_anchor_size: bool = True
    reduce_boxes_in_lowest_layer: bool = False
    score_clipping: float = 100.0
    min_score: float = 0.5  # min_score_thresh of upstream's decoder
    nms_threshold: float = 0.3  # min_suppression_threshold of upstream's NonMaxSuppressionCalculator
    # keypoint pairs the landmark graphs turn into a region: (start, end, target angle degrees)
    rotation_keypoints: tuple[int, int, float] | None = None

    @property
    def num_coords(self) -> int:
        return 4 + 2 * self.num_keypoints

    @property
    def num_anchors(self) -> int:
        return len(generate_anchors(self))


# The configurations of MediaPipe's own graphs (mediapipe/modules/*/…_cpu.pbtxt and the Tasks graphs).
KNOWN: dict[str, SsdAnchorConfig] = {c.name: c for c in (
    SsdAnchorConfig("face_short_range", "BlazeFace short range (face_detection_short_range.tflite)", (128, 128),
                    (8, 16, 16, 16), 6, ("face",), (-1.0, 1.0), rotation_keypoints=(0, 1, 0.0)),
    SsdAnchorConfig("face_full_range", "BlazeFace full range (face_detection_full_range[_sparse].tflite)",
                    (192, 192), (4,), 6, ("face",), (-1.0, 1.0), interpolated_scale_aspect_ratio=0.0,
                    rotation_keypoints=(0, 1, 0.0)),
    SsdAnchorConfig("face_back_camera", "BlazeFace back camera (face_detection_back.tflite)", (256, 256),
                    (16, 32, 32, 32), 6, ("face",), (-1.0, 1.0), min_scale=0.15625,
                    rotation_keypoints=(0, 1, 0.0)),
    SsdAnchorConfig("palm_192", "BlazePalm lite/full (palm_detection_lite/full.tflite)", (192, 192),
                    (8, 16, 16, 16), 7, ("palm",), (0.0, 1.0), rotation_keypoints=(0, 2, 90.0)),
    SsdAnchorConfig("palm_128", "BlazePalm 128x128 (the TFLite hand-tracking examples' palm_detection.tflite)",
                    (128, 128), (8, 16, 16, 16), 7, ("palm",), (-1.0, 1.0), rotation_keypoints=(0, 2, 90.0)),
    SsdAnchorConfig("palm_256", "BlazePalm v1 (palm_detection.tflite, 256x256)", (256, 256),
                    (8, 16, 32, 32, 32), 7, ("palm",), (-1.0, 1.0), rotation_keypoints=(0, 2, 90.0)),
    SsdAnchorConfig("pose_detection", "BlazePose person detector (pose_detection.tflite)", (224, 224),
                    (8, 16, 32, 32, 32), 4, ("person",), (-1.0, 1.0), rotation_keypoints=(0, 1, 90.0)),
)}


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1)


@lru_cache(maxsize=None)
def _anchors_cached(cfg: SsdAnchorConfig) -> np.ndarray:
    width, height = cfg.input_size
    n_layers = len(cfg.strides)
    out: list[tuple[float, float, float, float]] = []
    layer = 0
    while layer < n_layers:
        ratios: list[float] = []
        scales: list[float] = []
        last = layer
        # layers that share a stride share one feature map; their anchors are stacked per cell
        while last < n_layers and cfg.strides[last] == cfg.strides[layer]:
            scale = _scale(cfg.min_scale, cfg.max_scale, last, n_layers)
            if last == 0 and cfg.reduce_boxes_in_lowest_layer:
                ratios += [1.0, 2.0, 0.5]
                scales += [0.1, scale, scale]
            else:
                for ratio in cfg.aspect_ratios:
                    ratios.append(ratio)
                    scales.append(scale)
                if cfg.interpolated_scale_aspect_ratio > 0.0:
                    nxt = 1.0 if last == n_layers - 1 else _scale(cfg.min_scale, cfg.max_scale, last + 1, n_layers)
                    scales.append(math.sqrt(scale * nxt))
                    ratios.append(cfg.interpolated_scale_aspect_ratio)
            last += 1
        sizes = [(s * math.sqrt(r), s / math.sqrt(r)) for s, r in zip(scales, ratios)]  # (w, h)
        stride = cfg.strides[layer]
        fw, fh = math.ceil(width / stride), math.ceil(height / stride)
        for y in range(fh):
            for x in range(fw):
                for aw, ah in sizes:
                    cx = (x + cfg.anchor_offset[0]) / fw
                    cy = (y + cfg.anchor_offset[1]) / fh
                    out.append((cx, cy, 1.0, 1.0) if cfg.fixed_anchor_size else (cx, cy, aw, ah))
        layer = last
    anchors = np.asarray(out, dtype=np.float32)
    anchors.setflags(write=False)
    return anchors


def generate_anchors(cfg: SsdAnchorConfig) -> np.ndarray:
    """(N, 4) anchors cx, cy, w, h normalised to the input, in SsdAnchorsCalculator's order."""
    return _anchors_cached(cfg)


def find_config(input_size: tuple[int, int], num_anchors: int, num_coords: int) -> SsdAnchorConfig | None:
    """The known config with this input size, anchor count and regressor width, or None."""
    for cfg in KNOWN.values():
        if cfg.input_size == tuple(input_size) and cfg.num_coords == num_coords and cfg.num_anchors == num_anchors:
            return cfg
    return None


def config_named(name: str) -> SsdAnchorConfig:
    if name not in KNOWN:
        raise ConfigError(f"anchors = {name!r} is not a known MediaPipe anchor config; known: {', '.join(KNOWN)}")
    return KNOWN[name]


def decode_boxes(raw_boxes: np.ndarray, raw_scores: np.ndarray, cfg: SsdAnchorConfig,
                 min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw ``[1, N, C]`` regressors and ``[1, N, 1]`` logits -> (boxes (M, 4) xyxy, keypoints (M, K, 2), scores (M,)),
    coordinates normalised to the model input, only anchors scoring at least ``min_score``."""
    anchors = generate_anchors(cfg)
    boxes = np.asarray(raw_boxes, dtype=np.float32).reshape(-1, np.shape(raw_boxes)[-1])
    logits = np.asarray(raw_scores, dtype=np.float32).reshape(-1)
    if boxes.shape != (len(anchors), cfg.num_coords) or logits.shape != (len(anchors),):
        raise MetadataError(
            f"MediaPipe anchors {cfg.name!r} expect regressors [1, {len(anchors)}, {cfg.num_coords}] and scores "
            f"[1, {len(anchors)}, 1], got {list(np.shape(raw_boxes))} and {list(np.shape(raw_scores))}")
    clip = cfg.score_clipping
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -clip, clip)))
    keep = np.nonzero(scores >= min_score)[0]
    boxes, scores, anchors = boxes[keep], scores[keep], anchors[keep]
    width, height = cfg.input_size
    ax, ay, aw, ah = anchors[:, 0:1], anchors[:, 1:2], anchors[:, 2:3], anchors[:, 3:4]
    cx = boxes[:, 0:1] / width * aw + ax
    cy = boxes[:, 1:2] / height * ah + ay
    w = boxes[:, 2:3] / width * aw
    h = boxes[:, 3:4] / height * ah
    xyxy = np.concatenate([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kp = boxes[:, 4:].reshape(-1, cfg.num_keypoints, 2)
    kx = kp[:, :, 0] / width * aw + ax
    ky = kp[:, :, 1] / height * ah + ay
    return xyxy.astype(np.float32), np.stack([kx, ky], axis=-1).astype(np.float32), scores.astype(np.float32)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, threshold: float,
                 max_detections: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-max suppression (IoU): returns merged (boxes, keypoints, scores), best first."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    keypoints = np.asarray(keypoints, dtype=np.float32)
    keypoints = keypoints.reshape(len(boxes), keypoints.shape[1] if keypoints.ndim == 3 else 0, 2)
    order = np.argsort(-scores, kind="stable")
    out_b, out_k, out_s = [], [], []
    while len(order) and len(out_s) < max_detections:
        best = order[0]
        merge = _iou(boxes[best], boxes[order]) > threshold
        merge[0] = True  # the best box itself (also when it has no area)
        group = order[merge]
        weights = scores[group][:, None]
        total = float(weights.sum())
        out_b.append((boxes[group] * weights).sum(axis=0) / total)
        out_k.append((keypoints[group] * weights[:, :, None]).sum(axis=0) / total)
        out_s.append(scores[best])
        order = order[~merge]
    k = keypoints.shape[1]
    if not out_s:
        return np.zeros((0, 4), np.float32), np.zeros((0, k, 2), np.float32), np.zeros(0, np.float32)
    return (np.asarray(out_b, np.float32), np.asarray(out_k, np.float32).reshape(-1, k, 2),
            np.asarray(out_s, np.float32))


def split_outputs(outputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The regressor and score tensors of a MediaPipe SSD model: the score one has a last axis of 1."""
    three_d = [v for v in outputs.values() if np.ndim(v) == 3]
    scores = [v for v in three_d if np.shape(v)[-1] == 1]
    boxes = [v for v in three_d if np.shape(v)[-1] > 1]
    if len(scores) != 1 or len(boxes) != 1:
        raise MetadataError("a MediaPipe SSD model needs one [1, N, 4+2K] regressor and one [1, N, 1] score output, "
                            f"got {', '.join(f'{n} {list(np.shape(v))}' for n, v in outputs.items())}")
    return boxes[0], scores[0]


def decode(outputs: dict[str, np.ndarray], cfg: SsdAnchorConfig, *, min_score: float, nms_threshold: float,
           max_detections: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model outputs -> (boxes xyxy, keypoints (N, K, 2), scores) normalised to the input, after weighted NMS."""
    raw_boxes, raw_scores = split_outputs(outputs)
    boxes, kps, scores = decode_boxes(raw_boxes, raw_scores, cfg, min_score)
    return weighted_nms(boxes, kps, scores, nms_threshold, max_detections)


def input_normalisation(input_range: tuple[float, float]) -> tuple[float, float]:
    """(mean, std) over 0..255 pixels that give MediaPipe's float range: (-1, 1) -> (127.5, 127.5)."""
    lo, hi = input_range
    std = 255.0 / (hi - lo)
    return -lo * std + 0.0, std  # + 0.0: no -0.0


def recognise(input_size: tuple[int, int], output_shapes: list[tuple[int, ...]]) -> dict | None:
    """The decode plan of a MediaPipe SSD model from its structure, or None when it is not one.

    Two float outputs ``[1, N, 4 + 2K]`` and ``[1, N, 1]`` with the same N. ``anchors`` names the known
    config (None when no known config has this input size and anchor count: the user must name one).
    """
    if len(output_shapes) != 2 or any(len(s) != 3 or s[0] != 1 for s in output_shapes):
        return None
    (a, b) = output_shapes
    boxes, scores = (a, b) if b[2] == 1 else (b, a)
    if scores[2] != 1 or boxes[1] != scores[1] or boxes[2] < 4 or boxes[2] % 2:
        return None
    cfg = find_config(input_size, boxes[1], boxes[2])
    plan = {"kind": "ssd_anchors", "family": "mediapipe_ssd", "anchors": cfg.name if cfg else None,
            "num_anchors": int(boxes[1]), "num_coords": int(boxes[2])}
    if cfg:
        plan["score"] = cfg.min_score  # the family default for --score: upstream's min_score_thresh
    return plan
