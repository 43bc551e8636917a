"""Rotated regions of interest, as MediaPipe's landmark graphs build and crop them. numpy + OpenCV, pure.

A ``RotatedRect`` lives in frame pixels: centre, width, height and a rotation in radians (positive turns
the region clockwise on screen, y pointing down). A point ``(u, v)`` normalised to the region (0..1 across
its width and height) sits in the frame at ``centre + R(rotation) @ ((u - 0.5) * width, (v - 0.5) * height)``
with ``R = [[cos, -sin], [sin, cos]]``. Cropping samples exactly that map (the region's corners land on the
output image's corners, as MediaPipe's ImageToTensorCalculator does), and ``to_frame`` is its inverse for
landmarks, so a crop and its landmarks always agree.

The steps mirror MediaPipe's calculators:

* ``rotation_from_points``: DetectionsToRectsCalculator / AlignmentPointsRectsCalculator rotation,
  ``target_angle - atan2(-(y1 - y0), x1 - x0)`` wrapped to (-pi, pi].
* ``transform_rect``: RectTransformationCalculator (shift in the rotated frame, square_long, scale).
* ``rect_from_alignment_points``: AlignmentPointsRectsCalculator (centre on the start point, side
  2 * distance to the end point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np


@dataclass(frozen=True)
class RotatedRect:
    cx: float
    cy: float
    width: float
    height: float
    rotation: float = 0.0  # radians

    def corners(self) -> np.ndarray:
        """(4, 2) frame pixels of the corners: top-left, top-right, bottom-right, bottom-left of the region."""
        return self.to_frame(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32))

    def to_frame(self, uv: np.ndarray) -> np.ndarray:
        """(..., 2) points normalised to the region -> (..., 2) frame pixels."""
        uv = np.asarray(uv, dtype=np.float64)
        x = (uv[..., 0] - 0.5) * self.width
        y = (uv[..., 1] - 0.5) * self.height
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return np.stack([self.cx + c * x - s * y, self.cy + s * x + c * y], axis=-1).astype(np.float32)

    def from_frame(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) frame pixels -> (..., 2) points normalised to the region (inverse of ``to_frame``)."""
        xy = np.asarray(xy, dtype=np.float64)
        dx, dy = xy[..., 0] - self.cx, xy[..., 1] - self.cy
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        u = (c * dx + s * dy) / self.width + 0.5
        v = (-s * dx + c * dy) / self.height + 0.5
        return np.stack([u, v], axis=-1).astype(np.float32)


def normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def rotation_from_points(start_xy, end_xy, target_angle_degrees: float) -> float:
    """The rotation that turns the vector start -> end (frame pixels) to ``target_angle`` (90 = pointing up)."""
    x0, y0 = (float(v) for v in start_xy)
    x1, y1 = (float(v) for v in end_xy)
    return normalize_radians(math.radians(target_angle_degrees) - math.atan2(-(y1 - y0), x1 - x0))


def rect_from_box(box_xyxy, rotation: float = 0.0) -> RotatedRect:
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    return RotatedRect((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, rotation)


def rect_from_alignment_points(centre_xy, scale_xy, target_angle_degrees: float) -> RotatedRect:
    """A square centred on ``centre_xy`` whose half side is the distance to ``scale_xy``."""
    cx, cy = (float(v) for v in centre_xy)
    side = 2.0 * math.hypot(float(scale_xy[0]) - cx, float(scale_xy[1]) - cy)
    return RotatedRect(cx, cy, side, side, rotation_from_points(centre_xy, scale_xy, target_angle_degrees))


def transform_rect(rect: RotatedRect, *, scale_x: float = 1.0, scale_y: float = 1.0, shift_x: float = 0.0,
                   shift_y: float = 0.0, square_long: bool = False) -> RotatedRect:
    """Shift by a fraction of the size along the region's own axes, make square on the long side, scale."""
    c, s = math.cos(rect.rotation), math.sin(rect.rotation)
    dx = rect.width * shift_x * c - rect.height * shift_y * s
    dy = rect.width * shift_x * s + rect.height * shift_y * c
    w, h = rect.width, rect.height
    if square_long:
        w = h = max(w, h)
    return replace(rect, cx=rect.cx + dx, cy=rect.cy + dy, width=w * scale_x, height=h * scale_y)


def crop(frame: np.ndarray, rect: RotatedRect, out_size: tuple[int, int], border_value: int = 0) -> np.ndarray:
    """The region resampled to ``out_size`` (w, h), bilinear; outside the frame is ``border_value``."""
    ow, oh = out_size
    c, s = math.cos(rect.rotation), math.sin(rect.rotation)
    # output pixel (u, v) -> frame point: centre + R @ ((u / ow - 0.5) * w, (v / oh - 0.5) * h)
    a, b = c * rect.width / ow, -s * rect.height / oh
    d, e = s * rect.width / ow, c * rect.height / oh
    tx = rect.cx - 0.5 * (c * rect.width - s * rect.height)
    ty = rect.cy - 0.5 * (s * rect.width + c * rect.height)
    m = np.array([[a, b, tx], [d, e, ty]], dtype=np.float64)
    return cv2.warpAffine(frame, m, (ow, oh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(border_value,) * 4)
