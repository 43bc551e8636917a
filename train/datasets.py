"""Pick the reader for ``--format`` and load the train and val splits of ``--data DIR``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .read_coco import read_coco
from .read_voc import read_voc
from .read_yolo import read_yolo
from .yolo_layout import find_yolo_layout
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


def guess_format(root: Path) -> str | None:
    """The detection layout a folder looks like (for a hint when --format names another), or None."""
    if root.is_file():
        return "yolo" if root.suffix in (".yaml", ".yml") else None
    if (root / "train.json").is_file():
        return "coco"
    if (root / "Annotations").is_dir():
        return "voc"
    if (root / "data.yaml").is_file() or (root / "labels").is_dir():
        return "yolo"
    return None


def load_detection_data(root, fmt: str, skip_bad: bool = False) -> LoadedData:
    """Read one layout (docs/datasets.md); an error in a folder that looks like another layout says so."""
    try:
        return _load(Path(root).resolve(), fmt, skip_bad)
    except AnnotationError as exc:
        guess = guess_format(Path(root).resolve()) if fmt in FORMATS else None
        if guess and guess != fmt:
            raise AnnotationError(f"{exc}\n--data {root} looks like a {guess.upper()} dataset: try --format {guess}") \
                from exc
        raise


def _load(root: Path, fmt: str, skip_bad: bool) -> LoadedData:
    """COCO: ``DIR/train.json`` + ``DIR/val.json`` (file names relative to DIR). VOC and YOLO: see readers."""
    if fmt not in FORMATS:
        raise AnnotationError(f"--format {fmt!r} is unknown; expected one of {', '.join(FORMATS)}")
    yaml_file = fmt == "yolo" and root.is_file() and root.suffix in (".yaml", ".yml")
    if not root.is_dir() and not yaml_file:
        raise AnnotationError(f"--data {root}: no such folder" + (" (a YAML file is read with --format yolo)"
                                                                  if root.suffix in (".yaml", ".yml") else ""))
    if fmt == "coco":
        train_json, val_json = root / "train.json", root / "val.json"
        for p in (train_json, val_json):
            if not p.is_file():
                raise AnnotationError(f"{p}: missing; a COCO --data folder needs train.json and val.json")
        train = read_coco(train_json, root, skip_bad)
        val = read_coco(val_json, root, skip_bad, labels=train.labels)
        info = {"format": "coco", "root": str(root), "train": str(train_json), "val": str(val_json)}
    elif fmt == "voc":
        train = read_voc(root, "train", skip_bad)
        val = read_voc(root, "val", skip_bad, labels=train.labels)
        info = {"format": fmt, "root": str(root), "train": "train", "val": "val"}
    else:
        layout = find_yolo_layout(root)
        train = read_yolo(root, "train", skip_bad, layout=layout)
        val = read_yolo(root, "val", skip_bad, labels=train.labels, layout=layout)
        # root: what --data named (a folder or the YAML), so export reads the same layout again
        info = {"format": "yolo", "root": str(root), "train": layout.splits["train"], "val": layout.splits["val"],
                **({"yaml": str(layout.yaml), "dataset_root": str(layout.root)} if layout.yaml else {})}
    for name, split in (("train", train), ("val", val)):
        if not split.records:
            why = (f"all {split.skipped} were skipped as broken (first: {split.problems[0]})" if split.skipped
                   else f"the reader found none where it looked ({info[name]})")
            raise AnnotationError(f"--data {root}: the {name} split has no usable images: {why}")
    if train.skipped or val.skipped:
        log.warning("skipped %d bad annotation(s) (train %d, val %d)", train.skipped + val.skipped,
                    train.skipped, val.skipped)
    info["skipped_annotations"] = train.skipped + val.skipped
    return LoadedData(train, val, info)
