"""The one record type every annotation reader produces, and the bad-annotation bookkeeping."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger("train.data")


class AnnotationError(ValueError):
    """An annotation file or record is broken; the message names the file, the record and what was expected."""


@dataclass
class Record:
    image: Path
    width: int
    height: int
    boxes: np.ndarray  # (G, 4) float32 x0 y0 x1 y1 in image pixels
    class_ids: np.ndarray  # (G,) int32, index into the dataset's labels
    source: str  # annotation file this came from
    record_id: str  # image id / file stem / line, for messages
    polygons: list | None = None  # per box: (N, 2) float32 pixel outline (Ultralytics segment labels)
    keypoints: np.ndarray | None = None  # (G, K, 3) float32 x, y in pixels and visibility (pose labels)

    def __post_init__(self) -> None:
        self.image = Path(self.image)
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.class_ids = np.asarray(self.class_ids, np.int32).reshape(-1)


@dataclass
class DetectionSplit:
    labels: tuple[str, ...]
    records: list[Record]
    skipped: int = 0  # boxes or records dropped by skip_bad
    problems: list[str] = field(default_factory=list)


class Problems:
    """Raise on the first broken annotation, or (skip_bad) log it, count it and let the caller drop it."""

    def __init__(self, skip_bad: bool):
        self.skip_bad = skip_bad
        self.messages: list[str] = []

    def report(self, message: str) -> None:
        if not self.skip_bad:
            raise AnnotationError(message)
        self.messages.append(message)
        log.warning("skipped: %s", message)

    @property
    def count(self) -> int:
        return len(self.messages)


def check_box(box, width: int, height: int, where: str, tolerance: float = 1.0) -> str | None:
    """None if the xyxy box is usable in a width x height image, else what is wrong with it."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not np.all(np.isfinite([x0, y0, x1, y1])):
        return f"{where}: box {[x0, y0, x1, y1]} has a non-finite coordinate"
    if x1 <= x0 or y1 <= y0:
        return f"{where}: box [x0={x0:g}, y0={y0:g}, x1={x1:g}, y1={y1:g}] has zero or negative size; expected x1 > x0 and y1 > y0"
    if x0 < -tolerance or y0 < -tolerance or x1 > width + tolerance or y1 > height + tolerance:
        return (f"{where}: box [x0={x0:g}, y0={y0:g}, x1={x1:g}, y1={y1:g}] lies outside the "
                f"{width}x{height} image; expected 0 <= x <= {width} and 0 <= y <= {height}")
    return None


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    out = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, read with OpenCV."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AnnotationError(f"{path}: cannot be read as an image")
    return int(img.shape[1]), int(img.shape[0])


def read_coco_document(json_path: Path) -> dict:
    """A COCO JSON file (keypoints, polygons/RLE) with its three top-level lists, or an error naming the file."""
    import json

    try:
        doc = json.loads(Path(json_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"{json_path}: cannot be read as COCO JSON ({exc})") from exc
    for key in ("images", "annotations", "categories"):
        if key not in doc:
            raise AnnotationError(f"{json_path}: missing top-level {key!r}")
    return doc
