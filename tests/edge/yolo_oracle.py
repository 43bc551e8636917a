"""Compare ``edge run`` JSON lines with Ultralytics' (and YOLOv5 detect.py's) own answers in ../shared/zoo.

The tolerances are the zoo README's: every upstream detection scoring >= 0.5 found with the same class at
IoU >= 0.7 (0.6 for the litert-torch ``*_nchw_litert`` exports), no extra detection of ours scoring >= 0.6
that upstream lacks (same class, IoU >= 0.5 with any of its detections), keypoints with upstream conf > 0.5
within 25 px, instance masks IoU >= 0.8.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edge.boxes import iou_matrix
from edge.rle import decode as rle_decode

# zoo model stem -> expected answers file (expected/yolo/...)
YOLO_MODELS = {
    "yolov8n_int8_320": "yolov8n_int8_320.ultralytics.json",
    "yolo11n_int8_nchw_litert": "yolo11n_int8_nchw_litert.ultralytics.json",
    "yolo26n_int8_320_end2end": "yolo26n_int8_320_end2end.ultralytics.json",
    "yolov5nu_full_integer_quant": "yolov5nu_full_integer_quant.ultralytics.json",
    "yolov5n_uint8_anchors": "yolov5n_uint8_anchors.yolov5_detect.json",
    "yolo11n-pose_int8": "yolo11n-pose_int8.ultralytics.json",
    "yolo11n-pose_full_integer_quant_256": "yolo11n-pose_full_integer_quant_256.ultralytics.json",
    "yolo11n-seg_int8_nms": "yolo11n-seg_int8_nms.ultralytics.json",
    "yolov8n-seg_int8_nchw_litert": "yolov8n-seg_int8_nchw_litert.ultralytics.json",
}
MATCH_SCORE, EXTRA_SCORE, EXTRA_IOU = 0.5, 0.6, 0.5
KEYPOINT_CONF, KEYPOINT_PX = 0.5, 25.0
MASK_IOU = 0.8
MASK_AREA_TOLERANCE = 0.2  # relative, for masks mostly painted over by later detections in upstream's PNG


def box_iou_needed(stem: str) -> float:
    return 0.6 if stem.endswith("_nchw_litert") else 0.7


def match(upstream: list[dict], ours: list[dict], min_iou: float) -> tuple[dict[int, int], list[str]]:
    """Upstream index -> our index for every upstream detection scoring >= 0.5, and what went wrong."""
    ub = np.array([u["xyxy"] for u in upstream], np.float32).reshape(-1, 4)
    ob = np.array([o["box"] for o in ours], np.float32).reshape(-1, 4)
    iou = iou_matrix(ub, ob)
    pairs, problems, used = {}, [], set()
    for j in sorted(range(len(upstream)), key=lambda j: -upstream[j]["score"]):
        u = upstream[j]
        if u["score"] < MATCH_SCORE:
            continue
        cands = [(float(iou[j, k]), k) for k, o in enumerate(ours) if o["class_id"] == u["class_id"] and k not in used]
        best, k = max(cands, default=(0.0, -1))
        if best < min_iou:
            problems.append(f"upstream {u['class_name']} {u['score']:.2f} {[round(v) for v in u['xyxy']]}: "
                            f"best same-class IoU {best:.3f} < {min_iou}")
            continue
        pairs[j] = k
        used.add(k)
    for k, o in enumerate(ours):
        if o["score"] >= EXTRA_SCORE and not any(
                u["class_id"] == o["class_id"] and iou[j, k] >= EXTRA_IOU for j, u in enumerate(upstream)):
            problems.append(f"extra {o['label']} {o['score']:.2f} {o['box']} that upstream lacks")
    return pairs, problems


def keypoint_problems(upstream: list[dict], ours: list[dict], pairs: dict[int, int]) -> tuple[float, list[str]]:
    worst, problems = 0.0, []
    for j, k in pairs.items():
        conf = np.asarray(upstream[j]["keypoints_conf"], np.float32)
        dist = np.linalg.norm(np.asarray(upstream[j]["keypoints_xy"], np.float32)
                              - np.asarray(ours[k]["keypoints"], np.float32)[:, :2], axis=1)[conf > KEYPOINT_CONF]
        if dist.size:
            worst = max(worst, float(dist.max()))
            if dist.max() > KEYPOINT_PX:
                problems.append(f"detection {j}: keypoint {int(np.argmax(dist))} is {dist.max():.1f} px off")
    return worst, problems


def mask_problems(upstream: list[dict], ours: list[dict], pairs: dict[int, int],
                  instances: np.ndarray) -> tuple[float, list[str]]:
    """Upstream's PNG holds 1 + index, later detections over earlier: compare what upstream left visible with
    our mask minus the pixels upstream gave to later detections. A mask that later ones mostly cover is
    judged by its full area (the JSON's mask_area_orig_px) instead."""
    worst, problems = 1.0, []
    for j, k in pairs.items():
        ours_full = rle_decode(ours[k]["mask"])
        visible = instances == j + 1
        full_area = int(upstream[j]["mask_area_orig_px"])
        if visible.sum() >= max(100, 0.5 * full_area):
            mine = ours_full & ~(instances > j + 1)
            iou = float((visible & mine).sum() / max(1, (visible | mine).sum()))
            worst = min(worst, iou)
            if iou < MASK_IOU:
                problems.append(f"detection {j} {upstream[j]['class_name']}: mask IoU {iou:.3f} < {MASK_IOU}")
        elif abs(int(ours_full.sum()) - full_area) > MASK_AREA_TOLERANCE * full_area:
            problems.append(f"detection {j}: mask area {int(ours_full.sum())} px, upstream {full_area} px")
    return worst, problems


def read_jsonl(path: Path) -> dict[str, list[dict]]:
    """Image file name -> our detections."""
    out = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        out[Path(rec["source"]).name] = rec["detections"]
    return out


def read_instances(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"cannot read {path}"
    return img.astype(np.int32)
