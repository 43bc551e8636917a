"""COCO detection JSON -> Records. ``bbox`` is [x, y, w, h] in pixels; crowd annotations are left out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .image_io import image_problem
from .records import AnnotationError, DetectionSplit, Problems, Record, check_box, clip_boxes


def _labels(doc: dict, path: Path) -> tuple[dict[int, int], tuple[str, ...]]:
    cats = doc.get("categories")
    if not isinstance(cats, list) or not cats:
        raise AnnotationError(f"{path}: 'categories' is missing or empty; expected a list of {{id, name}}")
    for i, c in enumerate(cats):
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            raise AnnotationError(f"{path}: categories[{i}] = {c!r}; expected an object with 'id' and 'name'")
    cats = sorted(cats, key=lambda c: c["id"])
    return {c["id"]: i for i, c in enumerate(cats)}, tuple(str(c["name"]) for c in cats)


def read_coco(path, images_dir=None, skip_bad: bool = False, labels: tuple[str, ...] | None = None) -> DetectionSplit:
    """Read one COCO JSON. Image ``file_name``s are relative to ``images_dir`` (default: the JSON's folder).

    ``labels``: the class list to map category names onto (e.g. the train split's, when reading val).
    """
    path = Path(path)
    root = Path(images_dir) if images_dir else path.parent
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise AnnotationError(f"{path}: no such annotation file") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: malformed JSON ({exc}); expected a COCO detection file") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise AnnotationError(f"{path}: expected a JSON object with an 'images' list")
    cat_index, names = _labels(doc, path)
    if labels is not None:
        unknown = [n for n in names if n not in labels]
        if unknown:
            raise AnnotationError(f"{path}: categories {unknown} are not among the training labels {list(labels)}")
        cat_index = {cid: labels.index(names[i]) for cid, i in cat_index.items()}
        names = tuple(labels)
    problems = Problems(skip_bad)
    images: dict = {}
    for i, im in enumerate(doc["images"]):
        where = f"{path}: images[{i}]"
        if not isinstance(im, dict) or not all(k in im for k in ("id", "file_name", "width", "height")):
            problems.report(f"{where}: expected an object with id, file_name, width and height, got {im!r}")
            continue
        where = f"{path}: image id {im['id']} ({im['file_name']})"
        w, h = im["width"], im["height"]
        if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
            problems.report(f"{where}: width/height {w!r}x{h!r}; expected positive integers")
            continue
        file = root / im["file_name"]
        if not file.is_file():
            problems.report(f"{where}: image file {file} does not exist")
            continue
        bad = image_problem(file)
        if bad:
            problems.report(f"{where}: {bad}")
            continue
        images[im["id"]] = [im, file, [], []]
    for j, ann in enumerate(doc.get("annotations", [])):
        if not isinstance(ann, dict):
            problems.report(f"{path}: annotations[{j}] is {type(ann).__name__}; expected an object")
            continue
        where = f"{path}: annotation id {ann.get('id', '?')} (annotations[{j}], image id {ann.get('image_id')})"
        if ann.get("iscrowd", 0):
            continue
        entry = images.get(ann.get("image_id"))
        if entry is None:
            if not any(isinstance(im, dict) and im.get("id") == ann.get("image_id") for im in doc["images"]):
                problems.report(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
            continue  # the image itself was reported and dropped
        if ann.get("category_id") not in cat_index:
            problems.report(f"{where}: unknown category_id {ann.get('category_id')!r}; "
                            f"expected one of {sorted(cat_index)}")
            continue
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            problems.report(f"{where}: bbox {bbox!r}; expected 4 numbers [x, y, width, height]")
            continue
        x, y, bw, bh = bbox
        box = [x, y, x + bw, y + bh]
        im = entry[0]
        bad = check_box(box, im["width"], im["height"], where)
        if bad:
            problems.report(bad)
            continue
        entry[2].append(box)
        entry[3].append(cat_index[ann["category_id"]])
    records = [Record(file, im["width"], im["height"], clip_boxes(np.array(b, np.float32), im["width"], im["height"]),
                      np.array(c, np.int32), str(path), f"image id {im['id']}")
               for im, file, b, c in images.values()]
    return DetectionSplit(names, records, problems.count, problems.messages)
