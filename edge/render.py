"""Draw results onto frames with OpenCV. Style lives here; results stay dumb data."""

from __future__ import annotations

import cv2
import numpy as np

from .results import Detections


def color_for(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per class id."""
    hue = (int(class_id) * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


MASK_ALPHA = 0.45
KEYPOINT_CONF = 0.5  # keypoints of detections are drawn above this confidence (Ultralytics' plot threshold)


def draw_instance_masks(frame_bgr: np.ndarray, dets: Detections, alpha: float = MASK_ALPHA) -> np.ndarray:
    """Each detection's mask blended in its class colour, later detections over earlier ones."""
    out = frame_bgr.copy()
    for i, m in enumerate(dets.masks or ()):
        h, w = m.mask.shape
        if not m.mask.any():
            continue
        region = out[m.y0 : m.y0 + h, m.x0 : m.x0 + w]
        colour = np.array(color_for(int(dets.class_ids[i])), dtype=np.float32)
        blended = region.astype(np.float32) * (1 - alpha) + colour * alpha
        region[m.mask] = blended[m.mask].astype(np.uint8)
    return out


def draw_detections(frame_bgr: np.ndarray, dets: Detections, thickness: int | None = None) -> np.ndarray:
    """Return a copy of the frame with one box and one "label score" tag per detection (masks and keypoints
    first, when the detections carry them)."""
    out = draw_instance_masks(frame_bgr, dets) if dets.masks is not None else frame_bgr.copy()
    skeleton = dets.keypoints is not None and dets.keypoints.shape[1] == 17  # COCO keypoints: bones, not dots
    if skeleton:
        from .tasks.pose import Poses, draw_skeletons

        out = draw_skeletons(out, Poses(dets.keypoints, dets.scores, None), KEYPOINT_CONF)
    h, w = out.shape[:2]
    t = thickness or max(1, round(min(h, w) / 300))
    scale = max(0.4, min(h, w) / 900)
    for i in range(len(dets)):
        x0, y0, x1, y1 = (int(round(float(v))) for v in dets.boxes[i])
        tid = -1 if dets.track_ids is None else int(dets.track_ids[i])
        color = color_for(tid if tid >= 0 else int(dets.class_ids[i]))
        cv2.rectangle(out, (x0, y0), (x1, y1), color, t, cv2.LINE_AA)
        text = f"{dets.label(i)} {float(dets.scores[i]):.2f}"
        if tid >= 0:
            text = f"#{tid} {text}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = y0 - 2 if y0 - th - base - 2 >= 0 else min(h - 1, y0 + th + base + 2)
        cv2.rectangle(out, (x0, ty - th - base), (x0 + tw + 2, ty + 2), color, -1)
        cv2.putText(out, text, (x0 + 1, ty - base + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
        if dets.keypoints is not None and not skeleton:
            for x, y, _ in dets.keypoints[i]:
                cv2.circle(out, (int(round(float(x))), int(round(float(y)))), t + 1, color, -1, cv2.LINE_AA)
    return out
