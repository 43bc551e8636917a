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


def draw_detections(frame_bgr: np.ndarray, dets: Detections, thickness: int | None = None) -> np.ndarray:
    """Return a copy of the frame with one box and one "label score" tag per detection."""
    out = frame_bgr.copy()
    h, w = out.shape[:2]
    t = thickness or max(1, round(min(h, w) / 300))
    scale = max(0.4, min(h, w) / 900)
    for i in range(len(dets)):
        x0, y0, x1, y1 = (int(round(float(v))) for v in dets.boxes[i])
        color = color_for(int(dets.class_ids[i]))
        cv2.rectangle(out, (x0, y0), (x1, y1), color, t, cv2.LINE_AA)
        text = f"{dets.label(i)} {float(dets.scores[i]):.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = y0 - 2 if y0 - th - base - 2 >= 0 else min(h - 1, y0 + th + base + 2)
        cv2.rectangle(out, (x0, ty - th - base), (x0 + tw + 2, ty + 2), color, -1)
        cv2.putText(out, text, (x0 + 1, ty - base + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
        if dets.keypoints is not None:
            for x, y, _ in dets.keypoints[i]:
                cv2.circle(out, (int(round(float(x))), int(round(float(y)))), t + 1, color, -1, cv2.LINE_AA)
    return out
