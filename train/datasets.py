"""Pick the reader for ``--format`` and load the train and val splits of ``--data DIR``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .read_coco import read_coco
from .read_voc import read_voc
from .read_yolo import read_yolo
from .records import AnnotationError, DetectionSplit

FORMATS = ("coco", "voc", "yolo")
log = logging.getLogger("train.data")


@dataclass
class LoadedData:
    train: DetectionSplit
    val: DetectionSplit
    info: dict  # run.json "data" section

    @property
    def labels(self) -> tuple[str, ...]:
        return self.train.labels

    @property
    def skipped(self) -> int:
        return self.train.skipped + self.val.skipped


def load_detection_data(root, fmt: str, skip_bad: bool = False) -> LoadedData:
    """COCO: ``DIR/train.json`` + ``DIR/val.json`` (file names relative to DIR). VOC and YOLO: see readers."""
    root = Path(root).resolve()
    if fmt not in FORMATS:
        raise AnnotationError(f"--format {fmt!r} is unknown; expected one of {', '.join(FORMATS)}")
    if not root.is_dir():
        raise AnnotationError(f"--data {root}: no such folder")
    if fmt == "coco":
        train_json, val_json = root / "train.json", root / "val.json"
        for p in (train_json, val_json):
            if not p.is_file():
                raise AnnotationError(f"{p}: missing; a COCO --data folder needs train.json and val.json")
        train = read_coco(train_json, root, skip_bad)
        val = read_coco(val_json, root, skip_bad, labels=train.labels)
        info = {"format": "coco", "root": str(root), "train": str(train_json), "val": str(val_json)}
    else:
        reader = read_voc if fmt == "voc" else read_yolo
        train = reader(root, "train", skip_bad)
        val = reader(root, "val", skip_bad, labels=train.labels)
        info = {"format": fmt, "root": str(root), "train": "train", "val": "val"}
    for name, split in (("train", train), ("val", val)):
        if not split.records:
            raise AnnotationError(f"--data {root}: the {name} split has no usable images")
    if train.skipped or val.skipped:
        log.warning("skipped %d bad annotation(s) (train %d, val %d)", train.skipped + val.skipped,
                    train.skipped, val.skipped)
    info["skipped_annotations"] = train.skipped + val.skipped
    return LoadedData(train, val, info)
