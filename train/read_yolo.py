"""YOLO txt labels -> Records, in the Ultralytics ``data.yaml`` layout or our plain one (train/yolo_layout.py).

Each label line is ``class cx cy w h`` (a box), ``class x1 y1 x2 y2 x3 y3 ...`` (a segment polygon: its
box is the polygon's bounds, the outline is kept in ``Record.polygons``), or with ``kpt_shape: [K, D]`` in
data.yaml ``class cx cy w h`` + K keypoints of D numbers (``x y`` or ``x y visibility``, kept in
``Record.keypoints``). Coordinates are normalised to 0..1; an image without a label file has no objects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .image_io import image_problem
from .records import AnnotationError, DetectionSplit, Problems, Record, check_box, clip_boxes, image_size
from .yolo_layout import YoloLayout, find_yolo_layout, label_path


def yolo_labels(root) -> tuple[str, ...]:
    return find_yolo_layout(root).labels


def _parse_line(fields: list[str], where: str, n_labels: int, kpt_shape, width: int, height: int):
    """(box xyxy pixels, class, polygon (N, 2) | None, keypoints (K, 3) | None), or an error string."""
    try:
        cls = int(fields[0])
        values = np.array([float(v) for v in fields[1:]], np.float64)
    except ValueError:
        return f"{where}: {' '.join(fields)!r} is not 'class' followed by numbers"
    if not 0 <= cls < n_labels:
        return f"{where}: unknown class {cls}; expected 0..{n_labels - 1} ({n_labels} names)"
    polygon = keypoints = None
    if kpt_shape is not None:
        k, d = kpt_shape
        if len(fields) != 5 + k * d:
            return (f"{where}: {len(fields)} fields; expected {5 + k * d} (class cx cy w h and {k} keypoints of "
                    f"{d} numbers, kpt_shape [{k}, {d}])")
        kp = values[4:].reshape(k, d)
        keypoints = np.ones((k, 3), np.float32) * 2  # visibility 2 (labelled, visible) when D = 2
        keypoints[:, :2] = kp[:, :2] * (width, height)
        if d == 3:
            keypoints[:, 2] = kp[:, 2]
        values = values[:4]
    if len(values) == 4:
        cx, cy, w, h = values
        box = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
        shown = f"normalised cx={cx:g} cy={cy:g} w={w:g} h={h:g}"
    elif len(values) >= 6 and len(values) % 2 == 0:
        polygon = (values.reshape(-1, 2) * (width, height)).astype(np.float32)
        box = [*polygon.min(axis=0), *polygon.max(axis=0)]
        shown = f"a polygon of {len(polygon)} points"
    else:
        return (f"{where}: {len(fields)} fields; expected 5 (class cx cy w h) or class and 3 or more x y pairs "
                "(a segment polygon)")
    bad = check_box(box, width, height, f"{where} ({shown})")
    return bad or (box, cls, polygon, keypoints)


def read_yolo(root, split: str = "train", skip_bad: bool = False, labels: tuple[str, ...] | None = None,
              layout: YoloLayout | None = None) -> DetectionSplit:
    layout = layout or find_yolo_layout(root)
    labels = tuple(labels) if labels else layout.labels
    problems = Problems(skip_bad)
    records = []
    for image in layout.images(split):
        bad = image_problem(image)
        if bad:
            problems.report(bad)
            continue
        try:
            width, height = image_size(image)
        except AnnotationError as exc:
            problems.report(str(exc))
            continue
        label_file = label_path(image)
        boxes, classes, polygons, keypoints = [], [], [], []
        lines = label_file.read_text().splitlines() if label_file.is_file() else []
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            parsed = _parse_line(line.split(), f"{label_file}: line {n}", len(labels), layout.kpt_shape, width, height)
            if isinstance(parsed, str):
                problems.report(parsed)
                continue
            box, cls, polygon, kp = parsed
            boxes.append(box)
            classes.append(cls)
            polygons.append(polygon)
            keypoints.append(kp)
        has_polygons = any(p is not None for p in polygons)
        records.append(Record(
            image, width, height, clip_boxes(np.array(boxes, np.float32), width, height),
            np.array(classes, np.int32), str(label_file), image.stem,
            polygons=polygons if has_polygons else None,
            keypoints=np.array(keypoints, np.float32) if layout.kpt_shape and keypoints else None))
    return DetectionSplit(labels, records, problems.count, problems.messages)
