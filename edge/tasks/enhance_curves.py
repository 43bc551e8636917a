"""Low-light enhancement arithmetic: brightness and Zero-DCE light-enhancement curves. numpy + OpenCV only.

The Zero-DCE curve is ``LE(x) = x + a * x * (1 - x)`` per pixel and channel, with ``x`` in 0..1 and
``a`` in -1..1; applied ``n`` times it can brighten dark pixels a lot while 0 and 1 stay fixed. Our models
(Zero-DCE++ style) estimate the curve maps ``a`` at a reduced resolution; ``apply_curve_maps`` upsamples
them bilinearly to the frame and applies them there, so the output keeps the frame's full resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import MetadataError

# Rec. 601 luma weights, in B, G, R order (OpenCV frames are BGR).
_LUMA_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)
DEFAULT_ITERATIONS = 8


def mean_luminance(frame_bgr: np.ndarray) -> float:
    """Mean Rec. 601 luma of a uint8 BGR (or grey) frame, 0..1."""
    frame = np.asarray(frame_bgr)
    scale = 255.0 if frame.dtype == np.uint8 else 1.0
    if frame.ndim == 2:
        return float(frame.mean() / scale)
    means = frame.reshape(-1, frame.shape[-1]).mean(axis=0)
    return float(np.dot(means[:3], _LUMA_BGR) / scale)


def to_unit(frame: np.ndarray) -> np.ndarray:
    """uint8 image -> float32 0..1."""
    return np.asarray(frame, dtype=np.float32) * (1.0 / 255.0)


def to_uint8(image01: np.ndarray) -> np.ndarray:
    """float image 0..1 -> uint8, rounded and clipped."""
    return np.clip(np.asarray(image01, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def apply_curve_maps(image01: np.ndarray, curves: np.ndarray, iterations: int | None = None) -> np.ndarray:
    """Apply light-enhancement curve maps to a full-resolution image.

    ``image01``: (H, W, 3) float 0..1. ``curves``: (h, w, C) or (1, h, w, C), any resolution, upsampled
    bilinearly to (H, W). ``C == 3`` (one map per colour channel) or ``C == 1`` (one map for all channels)
    is one curve applied ``iterations`` times (default 8, Zero-DCE++); ``C == 3n`` with n > 1 is n
    different maps applied once each, in channel order (Zero-DCE), and ``iterations`` must then be None or n.
    Returns float32 (H, W, 3), still within 0..1 when ``a`` stays within -1..1.
    """
    image = np.asarray(image01, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"apply_curve_maps: image must be (H, W, 3), got {image.shape}")
    curves = np.asarray(curves, dtype=np.float32)
    if curves.ndim == 4:
        if curves.shape[0] != 1:
            raise MetadataError(f"curve maps: expected batch size 1, got shape {list(curves.shape)}")
        curves = curves[0]
    if curves.ndim != 3:
        raise MetadataError(f"curve maps must be [1, h, w, C], got shape {list(curves.shape)}")
    channels = curves.shape[2]
    if channels in (1, 3):
        maps = [curves]
        repeat = DEFAULT_ITERATIONS if iterations is None else int(iterations)
    elif channels % 3 == 0:
        maps = [curves[:, :, i:i + 3] for i in range(0, channels, 3)]
        if iterations not in (None, len(maps)):
            raise MetadataError(f"curve maps hold {len(maps)} distinct curves; iterations={iterations} cannot apply")
        repeat = 1
    else:
        raise MetadataError(f"curve maps must have 1, 3 or a multiple of 3 channels, got {channels}")
    if repeat < 1:
        raise MetadataError(f"curve iterations must be at least 1, got {repeat}")
    height, width = image.shape[:2]
    x = image.copy()
    for curve in maps:
        a = cv2.resize(curve, (width, height), interpolation=cv2.INTER_LINEAR)
        if a.ndim == 2:
            a = a[:, :, None]
        for _ in range(repeat):
            x += a * x * (1.0 - x)
    return x

