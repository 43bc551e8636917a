"""Frame -> model input image, and the transform that maps model-input boxes back to the frame. Pure."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ConfigError

LETTERBOX_FILL = 114


@dataclass(frozen=True)
class Transform:
    """Frame (width, height) -> model input (width, height): ``input = frame * scale + pad``."""

    frame_size: tuple[int, int]
    input_size: tuple[int, int]
    scale_x: float
    scale_y: float
    pad_x: float = 0.0
    pad_y: float = 0.0

    def boxes_to_frame(self, boxes_norm: np.ndarray) -> np.ndarray:
        """xyxy boxes normalised to the model input (0..1) -> xyxy pixels of the original frame, clipped."""
        boxes = np.asarray(boxes_norm, dtype=np.float32).reshape(-1, 4)
        iw, ih = self.input_size
        fw, fh = self.frame_size
        x = (boxes[:, [0, 2]] * iw - self.pad_x) / self.scale_x
        y = (boxes[:, [1, 3]] * ih - self.pad_y) / self.scale_y
        out = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1)
        return np.clip(out, 0, [fw, fh, fw, fh]).astype(np.float32)

    def points_to_frame(self, xy_norm: np.ndarray) -> np.ndarray:
        """(..., 2) x, y normalised to the model input -> frame pixels (for keypoints)."""
        xy = np.asarray(xy_norm, dtype=np.float32)
        iw, ih = self.input_size
        x = (xy[..., 0] * iw - self.pad_x) / self.scale_x
        y = (xy[..., 1] * ih - self.pad_y) / self.scale_y
        return np.stack([x, y], axis=-1)


def decode_transform(options: dict, frame_size: tuple[int, int], input_size: tuple[int, int]) -> Transform:
    """The transform a decoder maps outputs back with: the engine's (``options["transform"]``, set by every
    Engine.run), or, for outputs decoded without one, the plain stretch of ``frame_size`` to ``input_size``."""
    transform = options.get("transform")
    if transform is not None:
        return transform
    fw, fh = frame_size
    iw, ih = input_size
    if not fw or not fh or fw < 0 or fh < 0:
        raise ConfigError(f"frame size {frame_size}: expected a positive width and height")
    return Transform((fw, fh), (iw, ih), iw / fw, ih / fh)


def resize_frame(frame_bgr: np.ndarray, input_size: tuple[int, int], resize: str = "stretch",
                 color: str = "RGB", interpolation: str = "linear",
                 pad_value: int = LETTERBOX_FILL) -> tuple[np.ndarray, Transform]:
    """Resize a BGR uint8 frame to ``input_size`` (w, h) and reorder channels to ``color``.

    ``resize``: "stretch" or "letterbox" (aspect kept, centred, padded with ``pad_value``).
    ``interpolation``: "linear" (bilinear) or "area" (anti-aliased box filter when the image shrinks,
    bilinear when it grows).
    """
    if frame_bgr is None or frame_bgr.ndim not in (2, 3) or frame_bgr.size == 0:
        raise ConfigError(f"expected an HxWx3 BGR image, got {None if frame_bgr is None else frame_bgr.shape}")
    if interpolation not in ("linear", "area"):
        raise ConfigError(f"unknown interpolation {interpolation!r}; expected 'linear' or 'area'")
    fh, fw = frame_bgr.shape[:2]
    iw, ih = input_size
    if resize == "stretch":
        img = _resize(frame_bgr, (iw, ih), interpolation)
        t = Transform((fw, fh), (iw, ih), iw / fw, ih / fh)
    elif resize == "letterbox":
        s = min(iw / fw, ih / fh)
        nw, nh = max(1, round(fw * s)), max(1, round(fh * s))
        px, py = (iw - nw) // 2, (ih - nh) // 2
        img = np.full((ih, iw) + frame_bgr.shape[2:], pad_value, dtype=frame_bgr.dtype)
        img[py : py + nh, px : px + nw] = _resize(frame_bgr, (nw, nh), interpolation)
        # Boxes map back with the gain s itself (not nw / fw), as Ultralytics' and YOLOv5's scale_boxes do.
        t = Transform((fw, fh), (iw, ih), s, s, px, py)
    elif resize == "letterbox_mediapipe":
        # MediaPipe's ImageToTensorCalculator with keep_aspect_ratio: the frame, grown to the input's aspect
        # around its centre, mapped corner to corner onto the input (sub-pixel, bilinear), zero border.
        from .rotated_rect import RotatedRect, crop

        s = min(iw / fw, ih / fh)
        img = crop(frame_bgr, RotatedRect(fw / 2, fh / 2, iw / s, ih / s), (iw, ih), 0)
        t = Transform((fw, fh), (iw, ih), s, s, (iw - fw * s) / 2, (ih - fh * s) / 2)
    else:
        raise ConfigError(f"unknown resize mode {resize!r}; expected 'stretch', 'letterbox' or 'letterbox_mediapipe'")
    img = _to_color(img, color)
    return img, t


def _resize(img: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    if (img.shape[1], img.shape[0]) == tuple(size):
        return img
    shrinks = size[0] < img.shape[1] or size[1] < img.shape[0]
    flag = cv2.INTER_AREA if interpolation == "area" and shrinks else cv2.INTER_LINEAR
    return cv2.resize(img, size, interpolation=flag)


def to_color(img: np.ndarray, color: str) -> np.ndarray:
    """A BGR (or grey) uint8 image in the model's channel order: RGB, BGR or GRAY."""
    return _to_color(img, color)


def _to_color(img: np.ndarray, color: str) -> np.ndarray:
    if img.ndim == 2:
        return img[..., None] if color == "GRAY" else cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if color == "RGB":
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if color == "BGR":
        return img
    if color == "GRAY":
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None]
    raise ConfigError(f"unknown colour order {color!r}; expected RGB, BGR or GRAY")


def to_input_tensor(img: np.ndarray, dtype: str, mean, std, scale: float, zero_point: int,
                    rounding: str = "nearest") -> np.ndarray:
    """Image (H, W, C) uint8 pixels -> the input tensor [1, H, W, C] in the model's dtype.

    The model wants ``(pixel - mean) / std``; a quantized input stores ``value / scale + zero_point``.
    When the two cancel (scale * std == 1 and zero_point == mean, as in most uint8 image models) the raw
    pixels are already the quantized tensor and no arithmetic is done.
    """
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    if dtype == "float32":
        return ((img.astype(np.float32) - mean) / std)[None]
    if dtype not in ("uint8", "int8"):
        raise ConfigError(f"unsupported input tensor type {dtype}; expected float32, uint8 or int8")
    shift = 128 if dtype == "int8" else 0  # int8 holds pixel - 128
    if rounding == "truncate" and scale:
        return _apply_lut(img, truncating_lut(dtype, tuple(mean.tolist()), tuple(std.tolist()), scale, zero_point))
    if rounding != "nearest":
        raise ConfigError(f"unknown input rounding {rounding!r}; expected 'nearest' or 'truncate'")
    if not scale or is_identity_quantization(mean, std, scale, zero_point - (-shift)):
        return _minus_128(img)[None] if shift else img[None]
    return quantize((img.astype(np.float32) - mean) / std, dtype, scale, zero_point)[None]


def quantize(values: np.ndarray, dtype: str, scale: float, zero_point: int) -> np.ndarray:
    """Model-space input values (what ``(pixel - mean) / std`` gives) -> a tensor of ``dtype``: float32 as they
    are; an integer tensor stores ``round(value / scale + zero_point)`` clipped to its range (no scale: the
    values rounded)."""
    kind = np.dtype(dtype).kind
    if kind == "f":
        return values.astype(dtype, copy=False)
    if kind not in "iu":
        raise ConfigError(f"unsupported input tensor type {dtype}; expected a float or integer type")
    q = np.round(values / scale + zero_point) if scale else np.round(values)
    info = np.iinfo(dtype)
    return np.clip(q, info.min, info.max).astype(dtype)


@functools.lru_cache(maxsize=16)
def truncating_lut(dtype: str, mean: tuple, std: tuple, scale: float, zero_point: int) -> np.ndarray:
    """(C, 256) table pixel -> quantized input, computed as Ultralytics and YOLOv5 quantize their inputs:
    ``((pixel - mean) / std) / scale + zero_point`` in float32, then cast (truncated toward zero)."""
    p = np.arange(256, dtype=np.float32)[None, :]
    x = (p - np.asarray(mean, np.float32)[:, None]) / np.asarray(std, np.float32)[:, None]
    q = x / np.float32(scale) + np.float32(zero_point)
    info = np.iinfo(dtype)
    return np.trunc(np.clip(q, info.min, info.max)).astype(dtype)


def _apply_lut(img: np.ndarray, lut: np.ndarray) -> np.ndarray:
    img = np.ascontiguousarray(img, np.uint8)
    if img.ndim == 2:
        img = img[..., None]
    if all(np.array_equal(lut[0], row) for row in lut[1:]) or len(lut) == 1:
        out = cv2.LUT(img, lut[0].view(np.uint8))  # one table for every channel: OpenCV's fast path
        return out.reshape(img.shape).view(lut.dtype)[None]
    return np.stack([lut[c][img[..., c]] for c in range(img.shape[-1])], axis=-1)[None]


def _minus_128(img: np.ndarray) -> np.ndarray:
    """uint8 pixels minus 128 as int8: flipping the top bit is that subtraction (0 -> -128, 255 -> 127), ~15x
    faster than widening to int16 and back."""
    return np.bitwise_xor(np.ascontiguousarray(img, np.uint8), np.uint8(0x80)).view(np.int8)


def is_identity_quantization(mean, std, scale: float, zero_point_as_uint8: float) -> bool:
    """True when quantizing ``(pixel - mean) / std`` gives back ``pixel`` (within rounding)."""
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    return bool(np.all(np.abs(scale * std - 1.0) < 0.02) and np.all(np.abs(zero_point_as_uint8 - mean) <= 1.0))
