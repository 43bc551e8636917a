"""Object detection adapter: SSD post-processed outputs or a raw boxes+scores head -> Detections.

``decode(outputs, info, transform, options)`` is the pure decoder (``Engine.run`` gives the outputs and the
transform that maps model-input boxes back to original-frame pixels); ``ADAPTER`` wraps it for the pipeline.
Options (a dict, from the CLI): ``score`` (minimum score, default 0.3), ``iou`` (NMS IoU, default 0.5),
``max_detections`` (default 100).
"""

from __future__ import annotations

import numpy as np

from ..boxes import decode_raw_boxes_scores
from ..errors import ConfigError, MetadataError
from ..preprocess import Transform, decode_transform
from ..results import Detections

DEFAULTS = {"score": 0.3, "iou": 0.5, "max_detections": 100}  # a family's plan (info.decode) may override them
YOLO_KINDS = ("ultralytics", "yolov5_anchors")  # decoded by edge.tasks.yolo


def decode(outputs: dict[str, np.ndarray], info, transform: Transform, options: dict) -> Detections:
    """Dequantised outputs -> Detections in frame pixels (pure; ``info.decode["kind"]`` picks the decoder)."""
    family = {k: info.decode[k] for k in DEFAULTS if k in info.decode}  # the model family's defaults
    opts = {**DEFAULTS, **family, **{k: v for k, v in options.items() if v is not None}}
    kind = info.decode.get("kind")
    if opts.get("anchors") and kind != "ssd_anchors":
        raise ConfigError(f"{info.path}: anchors = {opts['anchors']!r} applies to MediaPipe SSD-anchor detectors; "
                          f"this model decodes as {kind!r}")
    if kind in YOLO_KINDS:
        from . import yolo

        dets = yolo.decode(outputs, info, transform, opts)
        _check_labels(info, dets.class_ids)
        return dets
    if kind == "ssd_postprocess":
        boxes, scores, class_ids = _ssd(outputs, info, opts)
    elif kind == "raw_boxes_scores":
        boxes, scores, class_ids = _raw(outputs, info, opts)
    elif kind == "ssd_anchors":
        return _mediapipe(outputs, info, opts, transform)
    else:
        raise MetadataError(
            f"{info.path}: cannot decode detections of kind {kind!r}; expected 'ssd_postprocess', "
            f"'raw_boxes_scores', 'ssd_anchors', {', '.join(repr(k) for k in YOLO_KINDS)}"
        )
    _check_labels(info, class_ids)
    return Detections(transform.boxes_to_frame(boxes), scores, class_ids, info.labels)


def _ssd(outputs, info, opts):
    """TFLite_Detection_PostProcess: boxes [1,N,4] ymin xmin ymax xmax (0..1), classes, scores, count."""
    get = {role: outputs[info.output(role).name] for role in ("boxes", "classes", "scores", "count")}
    n = int(np.asarray(get["count"]).reshape(-1)[0])
    yxyx = np.asarray(get["boxes"]).reshape(-1, 4)[:n]
    scores = np.asarray(get["scores"]).reshape(-1)[:n]
    classes = np.asarray(get["classes"]).reshape(-1)[:n].astype(np.int32)
    keep = scores >= opts["score"]
    keep &= np.arange(n) < opts["max_detections"]
    xyxy = yxyx[keep][:, [1, 0, 3, 2]]
    return np.clip(xyxy, 0.0, 1.0), scores[keep], classes[keep]

def box_units_of(raw: np.ndarray, layout: str) -> tuple[str, float]:
    """("pixels" | "normalized", largest box value) of a raw head's output: pixel boxes exceed 1.5 somewhere
    (anchor centres span the input), normalised ones never do. Used once, when the Engine loads the model."""
    arr = np.asarray(raw)
    boxes = arr[0, :4, :] if layout == "channels_first" else arr[0, :, :4]
    peak = float(np.max(boxes)) if boxes.size else 0.0
    return ("pixels" if peak > 1.5 else "normalized"), peak


def _raw(outputs, info, opts):
    spec = info.decode
    raw = outputs[info.output("raw_boxes_scores").name]
    units = spec.get("box_units", "normalized")
    if units == "auto":
        raise MetadataError(f"{info.path}: box_units 'auto' is decided when the Engine loads the model (one "
                            "inference on a grey frame); decode the outputs of an Engine's run")
    if spec.get("score_activation", "none") not in ("none", "sigmoid"):
        raise MetadataError(f"{info.path}: unknown score_activation {spec.get('score_activation')!r}")
    if spec.get("score_activation") == "sigmoid":
        raw = np.array(raw, dtype=np.float32)
        cls = raw[0, 4:, :] if spec.get("layout") == "channels_first" else raw[0, :, 4:]
        cls[...] = 1.0 / (1.0 + np.exp(-cls))
    return decode_raw_boxes_scores(
        raw, layout=spec.get("layout", "anchors_first"), box_format=spec.get("box_format", "cxcywh"),
        box_units=units, input_size=info.input_size, score_threshold=opts["score"],
        iou_threshold=opts["iou"], max_detections=opts["max_detections"],
    )


class DetectAdapter:
    task = "detect"

    def decode(self, outputs: dict[str, np.ndarray], info, frame_size: tuple[int, int], options: dict) -> Detections:
        return decode(outputs, info, decode_transform(options, frame_size, info.input_size), options)

    def to_json(self, result: Detections) -> dict:
        """One entry per detection; ``keypoints`` [[x, y, conf], ...] frame pixels and ``mask`` (COCO RLE over
        the whole frame, see edge.rle) only when the model gives them."""
        from ..rle import encode_box_mask

        out = []
        for i in range(len(result)):
            entry = {
                "class_id": int(result.class_ids[i]),
                "label": result.label(i),
                "score": round(float(result.scores[i]), 4),
                "box": [round(float(v), 1) for v in result.boxes[i]],
            }
            if result.keypoints is not None:
                entry["keypoints"] = [[round(float(x), 1), round(float(y), 1), round(float(c), 4)]
                                      for x, y, c in result.keypoints[i]]
            if result.masks is not None:
                m = result.masks[i]
                entry["mask"] = encode_box_mask(m.mask, m.x0, m.y0, m.frame_size)
            if result.track_ids is not None:  # a tracker ran: every detection says its track (null: none yet)
                entry["track_id"] = int(result.track_ids[i]) if result.track_ids[i] >= 0 else None
            out.append(entry)
        return {"detections": out}

    def render(self, frame_bgr: np.ndarray, result: Detections, options: dict | None = None) -> np.ndarray:
        from ..render import draw_detections

        return draw_detections(frame_bgr, result)


def _mediapipe(outputs, info, opts, transform: Transform) -> Detections:
    """MediaPipe SSD-anchor detectors: anchors from the table (or ``anchors = NAME``), weighted NMS, keypoints."""
    from . import mediapipe_ssd

    name = opts.get("anchors") or info.decode.get("anchors")
    if not name:
        raise MetadataError(
            f"{info.path}: a MediaPipe-style SSD head with {info.decode.get('num_anchors')} anchors and "
            f"{info.decode.get('num_coords')} values per anchor at input {info.input.width}x{info.input.height} "
            f"matches no known anchor config; name one with anchors = NAME (--anchors): "
            + ", ".join(f"{c.name} ({c.input_size[0]}x{c.input_size[1]}, {c.num_anchors} anchors)"
                        for c in mediapipe_ssd.KNOWN.values()))
    cfg = mediapipe_ssd.config_named(str(name))
    boxes, kps, scores = mediapipe_ssd.decode(outputs, cfg, min_score=float(opts["score"]),
                                              nms_threshold=cfg.nms_threshold,
                                              max_detections=int(opts["max_detections"]))
    fw, fh = transform.frame_size
    xy = np.clip(transform.points_to_frame(kps), 0, [fw - 1, fh - 1]) if len(kps) else kps.reshape(0, 0, 2)
    kp = np.concatenate([xy, np.broadcast_to(scores[:, None, None], xy.shape[:2] + (1,))], axis=-1)
    labels = info.labels or cfg.labels
    return Detections(transform.boxes_to_frame(boxes), scores, np.zeros(len(scores), np.int32),
                      labels, kp)


def _check_labels(info, class_ids) -> None:
    if info.labels and len(class_ids) and int(class_ids.max()) >= len(info.labels):
        raise MetadataError(
            f"{info.path}: the model predicts class {int(class_ids.max())} but has only {len(info.labels)} "
            f"labels ({info.labels_source or 'no source'}); give a matching --labels FILE"
        )



ADAPTER = DetectAdapter()
