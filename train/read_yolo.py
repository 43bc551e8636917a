"""YOLO txt folder -> Records.

Layout: ``images/{train,val}/*.jpg|png`` with ``labels/{train,val}/<stem>.txt`` (or flat ``images/`` and
``labels/``, where every 10th image sorted by name is val). Each label line is ``class cx cy w h`` with
coordinates normalised to 0..1; an image without a label file has no objects. Class names come from
``data.yaml`` (``names:`` list or {id: name} map) or ``classes.txt`` (one per line).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .image_io import image_problem
from .records import AnnotationError, DetectionSplit, Problems, Record, check_box, clip_boxes, image_size

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
VAL_EVERY = 10


def yolo_labels(root) -> tuple[str, ...]:
    root = Path(root)
    data_yaml, classes_txt = root / "data.yaml", root / "classes.txt"
    if data_yaml.is_file():
        import yaml

        try:
            doc = yaml.safe_load(data_yaml.read_text())
        except yaml.YAMLError as exc:
            raise AnnotationError(f"{data_yaml}: malformed YAML ({exc})") from exc
        names = doc.get("names") if isinstance(doc, dict) else None
        if isinstance(names, dict) and sorted(names) == list(range(len(names))):
            return tuple(str(names[i]) for i in range(len(names)))
        if isinstance(names, list) and names:
            return tuple(str(n) for n in names)
        raise AnnotationError(f"{data_yaml}: 'names' is {names!r}; expected a list of class names or {{0: name, ...}}")
    if classes_txt.is_file():
        return tuple(n.strip() for n in classes_txt.read_text().splitlines() if n.strip())
    raise AnnotationError(f"{root}: no data.yaml or classes.txt; expected one of them to name the classes")


def _images(root: Path, split: str) -> tuple[list[Path], Path]:
    split_dir = root / "images" / split
    if split_dir.is_dir():
        return sorted(p for p in split_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), root / "labels" / split
    flat = root / "images"
    if not flat.is_dir():
        raise AnnotationError(f"{root}: no images/ folder; expected images/{{train,val}}/ and labels/{{train,val}}/")
    files = sorted(p for p in flat.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    chosen = files[::VAL_EVERY] if split == "val" else [p for i, p in enumerate(files) if i % VAL_EVERY]
    return chosen, root / "labels"


def read_yolo(root, split: str = "train", skip_bad: bool = False, labels: tuple[str, ...] | None = None) -> DetectionSplit:
    root = Path(root)
    labels = tuple(labels) if labels else yolo_labels(root)
    files, label_dir = _images(root, split)
    problems = Problems(skip_bad)
    records = []
    for image in files:
        bad = image_problem(image)
        if bad:
            problems.report(bad)
            continue
        try:
            width, height = image_size(image)
        except AnnotationError as exc:
            problems.report(str(exc))
            continue
        label_file = label_dir / f"{image.stem}.txt"
        boxes, classes = [], []
        lines = label_file.read_text().splitlines() if label_file.is_file() else []
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{label_file}: line {n}"
            fields = line.split()
            if len(fields) != 5:
                problems.report(f"{where}: {len(fields)} fields; expected 5 (class cx cy w h)")
                continue
            try:
                cls = int(fields[0])
                cx, cy, w, h = (float(v) for v in fields[1:])
            except ValueError:
                problems.report(f"{where}: {line.strip()!r} is not 'int float float float float'")
                continue
            if not 0 <= cls < len(labels):
                problems.report(f"{where}: unknown class {cls}; expected 0..{len(labels) - 1} ({len(labels)} names)")
                continue
            box = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
            bad = check_box(box, width, height, f"{where} (normalised cx={cx:g} cy={cy:g} w={w:g} h={h:g})")
            if bad:
                problems.report(bad)
                continue
            boxes.append(box)
            classes.append(cls)
        records.append(Record(image, width, height, clip_boxes(np.array(boxes, np.float32), width, height),
                              np.array(classes, np.int32), str(label_file), image.stem))
    return DetectionSplit(labels, records, problems.count, problems.messages)
