"""Result types shared by decoders, renderers, sinks, metrics and benchmarks.

Dumb data: arrays with checked shapes. Drawing, serialising and scoring live elsewhere.
Coordinates are always pixels of the original frame (x0, y0, x1, y1), never model-input pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class InstanceMask:
    """One detection's binary mask in original-frame pixels, stored as the part inside its box.

    ``mask`` (h, w) bool covers frame pixels ``[y0:y0+h, x0:x0+w]``; every pixel outside is False.
    """

    x0: int
    y0: int
    mask: np.ndarray
    frame_size: tuple[int, int]  # (width, height) of the frame the mask belongs to

    def __post_init__(self) -> None:
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.mask.ndim != 2:
            raise ValueError(f"InstanceMask: mask must be (h, w), got {self.mask.shape}")
        fw, fh = self.frame_size
        h, w = self.mask.shape
        if self.x0 < 0 or self.y0 < 0 or self.x0 + w > fw or self.y0 + h > fh:
            raise ValueError(f"InstanceMask: {w}x{h} at ({self.x0}, {self.y0}) leaves the {fw}x{fh} frame")

    def full(self) -> np.ndarray:
        """The mask as an (H, W) bool array of the whole frame."""
        fw, fh = self.frame_size
        out = np.zeros((fh, fw), dtype=bool)
        h, w = self.mask.shape
        out[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = self.mask
        return out

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass
class Detections:
    boxes: np.ndarray  # (N, 4) float32, x0 y0 x1 y1 in original-frame pixels
    scores: np.ndarray  # (N,) float32
    class_ids: np.ndarray  # (N,) int32
    labels: tuple[str, ...] = ()  # the model's label list; label of i is labels[class_ids[i]]
    # (N, K, 3) float32 x, y in original-frame pixels + a score per keypoint, for detectors that give
    # keypoints (MediaPipe's face/palm/person detectors; models whose keypoints have no score of their own
    # repeat the detection's score). None for plain detectors.
    keypoints: np.ndarray | None = None
    masks: tuple[InstanceMask, ...] | None = None  # one per detection (instance segmentation models)
    track_ids: np.ndarray | None = None  # (N,) int64 when a tracker ran (edge.tracking_stage); -1: no track yet

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.class_ids = np.asarray(self.class_ids, dtype=np.int32).reshape(-1)
        n = len(self.boxes)
        if len(self.scores) != n or len(self.class_ids) != n:
            raise ValueError(
                f"Detections: boxes {self.boxes.shape}, scores {self.scores.shape} and "
                f"class_ids {self.class_ids.shape} must have the same length"
            )
        self.labels = tuple(self.labels)
        if self.keypoints is not None:
            kp = np.asarray(self.keypoints, dtype=np.float32)
            if kp.ndim == 2 and n == 0:
                kp = kp.reshape(0, 0, 3)
            if kp.ndim != 3 or kp.shape[0] != n or kp.shape[2] != 3:
                raise ValueError(f"Detections: keypoints {kp.shape} must be (N={n}, K, 3) x, y, score")
            self.keypoints = kp
        if self.masks is not None:
            self.masks = tuple(self.masks)
            if len(self.masks) != n:
                raise ValueError(f"Detections: {len(self.masks)} masks for {n} boxes")
        if self.track_ids is not None:
            self.track_ids = np.asarray(self.track_ids, dtype=np.int64).reshape(-1)
            if len(self.track_ids) != n:
                raise ValueError(f"Detections: track_ids {self.track_ids.shape} must have the length of boxes ({n})")

    @classmethod
    def empty(cls, labels: tuple[str, ...] = ()) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), labels)

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index) -> "Detections":
        """Boolean-mask or index-array selection: ``dets[dets.scores > 0.5]``."""
        picked = np.arange(len(self))[index]
        masks = None if self.masks is None else tuple(self.masks[int(i)] for i in np.atleast_1d(picked))
        keypoints = None if self.keypoints is None else self.keypoints[index].reshape(
            -1, *self.keypoints.shape[1:])
        track_ids = None if self.track_ids is None else self.track_ids[index]
        return Detections(self.boxes[index], self.scores[index], self.class_ids[index], self.labels, keypoints, masks,
                          track_ids)

    def label(self, i: int) -> str:
        cid = int(self.class_ids[i])
        return self.labels[cid] if 0 <= cid < len(self.labels) else str(cid)


@dataclass
class FrameResult:
    """Everything known about one frame: where it came from, what each model found, and timings."""

    frame: int
    source: str
    task: str
    width: int
    height: int
    timing_ms: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # model name -> its task's result (Detections, Poses, ...)
    chain: Any = None  # edge.model_chain's output for the frame (what the renderers and JSON lines read)
