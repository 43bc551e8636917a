"""Calibration and parity samples: the run's own images, preprocessed by the runtime's own functions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.preprocess import resize_frame, to_input_tensor

from .errors import CalibrationError
from .run_folder import Run


def read_bgr(path: str | Path) -> np.ndarray:
    """An image file as the BGR uint8 frame a camera would give the runtime (train.tasks.read_bgr, its error as
    a CalibrationError)."""
    from train.image_io import ImageReadError
    from train.tasks import read_bgr as read

    try:
        return read(path)
    except ImageReadError as exc:
        raise CalibrationError(str(exc)) from None


def preprocess(frame_bgr: np.ndarray, input_spec: dict) -> np.ndarray:
    """Frame -> float32 (H, W, C) model input, exactly as edge does it: resize, colour order, (pixel-mean)/std."""
    size = (int(input_spec["width"]), int(input_spec["height"]))
    img, _ = resize_frame(frame_bgr, size, input_spec["resize"], input_spec["color"])
    return to_input_tensor(img, "float32", input_spec["mean"], input_spec["std"], 0.0, 0)[0]


def pick(items: Sequence, count: int, seed: int = 0) -> list:
    """A reproducible random subset of ``count`` items (all of them when there are fewer), in file order."""
    if count < 1:
        raise CalibrationError(f"calibration sample count {count} must be at least 1")
    if count >= len(items):
        return list(items)
    chosen = np.sort(np.random.default_rng(seed).choice(len(items), size=count, replace=False))
    return [items[i] for i in chosen]


def load_samples(paths: Sequence[str | Path], run: Run) -> np.ndarray:
    """(N, H, W, C) float32 model inputs for the image files ``paths``."""
    if not paths:
        raise CalibrationError(f"{run.path}: no images to read")
    return np.stack([preprocess(read_bgr(p), run.input) for p in paths])
