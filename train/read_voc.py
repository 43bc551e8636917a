"""Pascal VOC folder -> Records: JPEGImages/, Annotations/*.xml, optional ImageSets/Main/{train,val}.txt.

Without ImageSets, every 10th annotation (sorted by name) is the val split. Classes come from
``labels.txt`` in the folder (one per line) when present, else from the names found in the XML files.
VOC corners are 1-based inclusive pixels: (xmin - 1, ymin - 1, xmax, ymax) in 0-based xyxy.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .image_io import image_problem
from .records import AnnotationError, DetectionSplit, Problems, Record, check_box, clip_boxes

VAL_EVERY = 10


EXPECTED_TREE = """expected a Pascal VOC folder:
  ROOT/Annotations/<id>.xml
  ROOT/JPEGImages/<id>.jpg
  ROOT/ImageSets/Main/train.txt, val.txt   (optional: one id per line; without them every 10th is val)
  ROOT/labels.txt                          (optional: class names, one per line)"""


def split_ids(root: Path, split: str) -> list[str]:
    main = root / "ImageSets" / "Main"
    listing = main / f"{split}.txt"
    if listing.is_file():
        ids = [line.split()[0] for line in listing.read_text().splitlines() if line.strip()]
        if not ids:
            raise AnnotationError(f"{listing}: lists no image id; expected one id per line")
        return ids
    if main.is_dir() and any(main.glob("*.txt")):
        found = ", ".join(sorted(p.name for p in main.glob("*.txt"))[:8])
        raise AnnotationError(f"{main}: no {split}.txt (it holds {found}); expected train.txt and val.txt, or "
                              "no ImageSets/Main/ at all (then every 10th annotation is val)")
    stems = sorted(p.stem for p in (root / "Annotations").glob("*.xml"))
    if split == "val":
        return stems[::VAL_EVERY]
    return [s for i, s in enumerate(stems) if i % VAL_EVERY]


def _parse(xml_path: Path) -> ET.Element:
    try:
        return ET.parse(xml_path).getroot()
    except FileNotFoundError as exc:
        raise AnnotationError(f"{xml_path}: annotation file does not exist") from exc
    except ET.ParseError as exc:
        raise AnnotationError(f"{xml_path}: malformed XML ({exc})") from exc


def voc_labels(root) -> tuple[str, ...]:
    root = Path(root)
    listing = root / "labels.txt"
    if listing.is_file():
        return tuple(n.strip() for n in listing.read_text().splitlines() if n.strip())
    names = set()
    for xml_path in sorted((root / "Annotations").glob("*.xml")):
        try:
            tree = ET.parse(xml_path).getroot()
        except ET.ParseError:
            continue  # reported when the split is read
        names.update((o.findtext("name") or "").strip() for o in tree.iter("object"))
    names.discard("")
    if not names:
        raise AnnotationError(f"{root / 'Annotations'}: no <object><name> found; expected VOC XML files")
    return tuple(sorted(names))


def _number(obj: ET.Element, tag: str, where: str) -> float:
    text = obj.findtext(tag)
    try:
        return float(text)
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: <{tag}> is {text!r}; expected a number") from None


def _read_one(root: Path, stem: str, labels: tuple[str, ...], problems: Problems) -> Record | None:
    xml_path = root / "Annotations" / f"{stem}.xml"
    tree = _parse(xml_path)
    try:
        width = int(_number(tree, "size/width", str(xml_path)))
        height = int(_number(tree, "size/height", str(xml_path)))
    except AnnotationError as exc:
        problems.report(str(exc))
        return None
    if width <= 0 or height <= 0:
        problems.report(f"{xml_path}: image size {width}x{height}; expected positive width and height")
        return None
    image = root / "JPEGImages" / (tree.findtext("filename") or f"{stem}.jpg").strip()
    if not image.is_file():
        problems.report(f"{xml_path}: image file {image} does not exist")
        return None
    bad = image_problem(image)
    if bad:
        problems.report(f"{xml_path}: {bad}")
        return None
    boxes, classes = [], []
    for k, obj in enumerate(tree.iter("object")):
        name = (obj.findtext("name") or "").strip()
        where = f"{xml_path}: object {k} ({name or 'no name'})"
        if name not in labels:
            problems.report(f"{where}: unknown class {name!r}; expected one of {list(labels)}")
            continue
        try:
            box = [_number(obj, "bndbox/xmin", where) - 1, _number(obj, "bndbox/ymin", where) - 1,
                   _number(obj, "bndbox/xmax", where), _number(obj, "bndbox/ymax", where)]
        except AnnotationError as exc:
            problems.report(str(exc))
            continue
        bad = check_box(box, width, height, where)
        if bad:
            problems.report(bad)
            continue
        boxes.append(box)
        classes.append(labels.index(name))
    return Record(image, width, height, clip_boxes(np.array(boxes, np.float32), width, height),
                  np.array(classes, np.int32), str(xml_path), stem)


def read_voc(root, split: str = "train", skip_bad: bool = False, labels: tuple[str, ...] | None = None) -> DetectionSplit:
    root = Path(root)
    if not (root / "Annotations").is_dir():
        nested = sorted(str(p.parent.relative_to(root)) for p in root.glob("*/*/Annotations"))
        nested += sorted(str(p.parent.relative_to(root)) for p in root.glob("*/Annotations"))
        hint = f"\nVOC folders one level down: {', '.join(nested)}; give that as --data" if nested else ""
        raise AnnotationError(f"{root}: no Annotations/ folder; {EXPECTED_TREE}{hint}")
    labels = tuple(labels) if labels else voc_labels(root)
    problems = Problems(skip_bad)
    records = []
    for stem in split_ids(root, split):
        try:
            rec = _read_one(root, stem, labels, problems)
        except AnnotationError as exc:  # malformed or missing XML: the whole record
            problems.report(str(exc))
            continue
        if rec is not None:
            records.append(rec)
    return DetectionSplit(labels, records, problems.count, problems.messages)
