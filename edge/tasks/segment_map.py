"""Segmentation output -> class map at frame resolution, and per-class area fractions. numpy + OpenCV.

Two output kinds:

* logits (or scores) ``[1, h, w, C]`` with ``C > 1``: the logits are resampled **bilinearly** to the frame
  and the arg-max is taken there, so class borders are as smooth as the frame allows.
* a class map ``[1, h, w]`` or ``[1, h, w, 1]`` (the model ends in ArgMax): resampled with
  **nearest neighbour**, since class indices cannot be interpolated.
* a foreground probability ``[1, h, w, 1]`` (the model ends in a sigmoid; decode kind "probability", e.g.
  MediaPipe's selfie segmenter): resampled **bilinearly** to the frame, then class 1 where it is > 0.5,
  class 0 elsewhere, as MediaPipe's ImageSegmenter resizes its confidence mask and thresholds it.

The output grid is taken to cover the whole model input; ``Transform`` (edge.preprocess) says where the
frame lies in the model input (stretched or letterboxed), so both kinds land on the right frame pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import MetadataError
from ..preprocess import Transform

# Rows of the frame resampled at a time: bounds the memory of C-channel float logits at frame size.
_BAND_ROWS = 128


def output_kind(output: np.ndarray) -> str:
    """"logits" for [1, h, w, C>1], "classes" for [1, h, w] / [1, h, w, 1]."""
    shape = np.shape(output)
    if len(shape) == 3 and shape[0] == 1:
        return "classes"
    if len(shape) == 4 and shape[0] == 1:
        return "classes" if shape[3] == 1 else "logits"
    raise MetadataError(f"a segmentation output must be [1, H, W, C] logits or a [1, H, W] class map, "
                        f"got shape {list(shape)}")


def frame_to_output_affine(transform: Transform, output_hw: tuple[int, int]) -> np.ndarray:
    """2x3 matrix mapping frame pixel indices to output pixel indices (pixel centres at integers)."""
    oh, ow = output_hw
    iw, ih = transform.input_size
    kx, ky = ow / iw, oh / ih
    return np.array([
        [transform.scale_x * kx, 0.0, (0.5 * transform.scale_x + transform.pad_x) * kx - 0.5],
        [0.0, transform.scale_y * ky, (0.5 * transform.scale_y + transform.pad_y) * ky - 0.5],
    ], dtype=np.float64)


def _warp(src: np.ndarray, matrix: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    flags = interpolation | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(src, matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)


def class_map_at_frame(output: np.ndarray, transform: Transform, kind: str | None = None) -> np.ndarray:
    """Model output -> (frame_h, frame_w) int32 class indices (see the module docstring for the method).
    ``kind``: "probability" for a 1-channel foreground probability; None: from the shape."""
    if kind not in (None, "probability"):
        raise MetadataError(f"unknown segmentation output kind {kind!r}; expected 'probability' or none")
    shape = np.shape(output)
    if kind == "probability" and not (len(shape) == 4 and shape[0] == 1 and shape[3] == 1):
        raise MetadataError(f"a probability segmentation output must be [1, H, W, 1], got shape {list(shape)}")
    kind = kind or output_kind(output)
    out = np.asarray(output)[0]
    fw, fh = transform.frame_size
    matrix = frame_to_output_affine(transform, out.shape[:2])
    if kind == "probability":
        prob = _warp(np.ascontiguousarray(out[..., 0], dtype=np.float32), matrix, (fw, fh), cv2.INTER_LINEAR)
        return (prob > 0.5).astype(np.int32)
    if kind == "classes":
        classes = np.rint(out.reshape(out.shape[:2])).astype(np.int32)
        if classes.size and int(classes.min()) < 0:
            raise MetadataError(f"segmentation class map holds negative class {int(classes.min())}")
        # INTER_NEAREST on int32 keeps exact indices; warpAffine does not take int64.
        return _warp(classes, matrix, (fw, fh), cv2.INTER_NEAREST)
    logits = np.ascontiguousarray(out, dtype=np.float32)
    result = np.empty((fh, fw), dtype=np.int32)
    for top in range(0, fh, _BAND_ROWS):
        rows = min(_BAND_ROWS, fh - top)
        band = matrix.copy()
        band[:, 2] += matrix[:, 1] * top  # the band's row 0 is frame row `top`
        resampled = _warp(logits, band, (fw, rows), cv2.INTER_LINEAR)
        result[top:top + rows] = np.argmax(resampled.reshape(rows, fw, -1), axis=2)
    return result


def class_map_at_output(output: np.ndarray) -> np.ndarray:
    """The model's own class map at output resolution (arg-max of logits), int32 (h, w)."""
    out = np.asarray(output)[0]
    if output_kind(output) == "classes":
        return np.rint(out.reshape(out.shape[:2])).astype(np.int32)
    return np.argmax(out, axis=2).astype(np.int32)


def class_fractions(class_map: np.ndarray, num_classes: int = 0) -> np.ndarray:
    """Fraction of pixels of each class 0..max(num_classes, highest class + 1) - 1; sums to 1."""
    counts = np.bincount(np.asarray(class_map).reshape(-1), minlength=num_classes)
    return (counts / max(1, counts.sum())).astype(np.float64)


def num_output_classes(output: np.ndarray) -> int:
    """C for logits; 0 (unknown) for a class map."""
    return int(np.shape(output)[3]) if output_kind(output) == "logits" else 0
