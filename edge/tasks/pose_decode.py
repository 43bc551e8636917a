"""Keypoint decoders for single-person pose models. numpy only, pure functions.

Every decoder returns keypoints as a ``(K, 3)`` float32 array of ``x, y, score`` in **model-input pixels**
(x across the input width, y down its height); the task adapter maps them to frame pixels.

Two layouts:

* MoveNet SinglePose (Lightning/Thunder): one output ``[1, 1, 17, 3]`` holding ``y, x, score`` per
  keypoint, ``y`` and ``x`` normalised 0..1 to the model input.
* Heatmaps + offsets (our own models, MoveNet-like): heatmaps ``[1, H, W, K]`` and offsets
  ``[1, H, W, 2K]``. Convention (the training side writes targets the same way): heatmap cell ``(i, j)``
  covers input pixels ``[j*sx, (j+1)*sx) x [i*sy, (i+1)*sy)`` with ``sx = input_w / W``, ``sy = input_h / H``;
  offsets hold, per keypoint ``k``, ``dy`` at channel ``2k`` and ``dx`` at channel ``2k+1``, in heatmap
  cells and measured from the cell centre. So ``x = (j + 0.5 + dx) * sx`` and ``y = (i + 0.5 + dy) * sy``.
  Heatmaps are scores (0..1) unless ``activation="sigmoid"`` says they are logits.
"""

from __future__ import annotations

import numpy as np

from ..errors import MetadataError

NUM_KEYPOINTS = 17


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return (1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))).astype(np.float32)


def _drop_batch(array: np.ndarray, rank: int, what: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == rank + 1:
        if array.shape[0] != 1:
            raise MetadataError(f"{what}: expected batch size 1, got shape {array.shape}")
        array = array[0]
    if array.ndim != rank:
        raise MetadataError(f"{what}: expected {rank} dimensions after the batch axis, got shape {array.shape}")
    return array


def decode_movenet_single(raw: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """MoveNet SinglePose output ``[1, 1, K, 3]`` (y, x, score normalised) -> ``(K, 3)`` x, y, score in input pixels."""
    raw = np.asarray(raw, dtype=np.float32)
    if raw.ndim != 4 or raw.shape[0] != 1 or raw.shape[1] != 1 or raw.shape[3] != 3:
        raise MetadataError(f"MoveNet single-pose output must have shape [1, 1, K, 3], got {list(raw.shape)}")
    width, height = input_size
    yxs = raw[0, 0]
    return np.stack([yxs[:, 1] * width, yxs[:, 0] * height, yxs[:, 2]], axis=1).astype(np.float32)


def decode_heatmaps_offsets(
    heatmaps: np.ndarray,
    offsets: np.ndarray,
    input_size: tuple[int, int],
    activation: str = "none",
) -> np.ndarray:
    """Single-person decoding: the arg-max cell of each heatmap, refined by its sub-pixel offset.

    ``heatmaps`` is ``[1, H, W, K]``, ``offsets`` is ``[1, H, W, 2K]`` (layout in the module docstring).
    Returns ``(K, 3)`` x, y, score in model-input pixels; the score is the heatmap value at the peak.
    """
    hm = _drop_batch(heatmaps, 3, "heatmaps")
    off = _drop_batch(offsets, 3, "offsets")
    h, w, k = hm.shape
    if off.shape != (h, w, 2 * k):
        raise MetadataError(f"offsets must have shape [1, {h}, {w}, {2 * k}] to match heatmaps {list(hm.shape)}, "
                            f"got {list(off.shape)}")
    if activation == "sigmoid":
        hm = sigmoid(hm)
    elif activation != "none":
        raise MetadataError(f"unknown heatmap activation {activation!r}; expected 'none' or 'sigmoid'")
    flat = hm.reshape(h * w, k)
    peak = np.argmax(flat, axis=0)
    rows, cols = peak // w, peak % w
    kp = np.arange(k)
    dy = off[rows, cols, 2 * kp]
    dx = off[rows, cols, 2 * kp + 1]
    width, height = input_size
    x = (cols + 0.5 + dx) * (width / w)
    y = (rows + 0.5 + dy) * (height / h)
    return np.stack([x, y, flat[peak, kp]], axis=1).astype(np.float32)
