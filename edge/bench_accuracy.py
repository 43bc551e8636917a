"""Accuracy on the device: a labelled folder scored with edge.metrics, the code export's report uses.

The folder holds images and ``annotations.json`` in COCO form (``images[].file_name``, ``annotations[]`` with
``bbox`` = x, y, w, h in pixels and ``category_id``, ``categories[]`` with ``name``), as train writes and
reads. Categories are matched to the model's labels by name; a category the model does not know is left
out and reported.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from .errors import ConfigError


def load_labelled(folder: Path) -> tuple[list[dict], dict[int, str]]:
    path = Path(folder) / "annotations.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"--labelled {folder}: no annotations.json (COCO form) in it") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ConfigError(f"{path}: '{key}' must be a list (COCO form)")
    names = {int(c["id"]): str(c["name"]) for c in data["categories"]}
    images = {int(im["id"]): {"file": Path(folder) / im["file_name"], "boxes": [], "cats": []} for im in data["images"]}
    for ann in data["annotations"]:
        image = images.get(int(ann["image_id"]))
        if image is None:
            raise ConfigError(f"{path}: annotation {ann.get('id')} names image_id {ann['image_id']}, not in images")
        x, y, w, h = (float(v) for v in ann["bbox"])
        image["boxes"].append([x, y, x + w, y + h])
        image["cats"].append(int(ann["category_id"]))
    return list(images.values()), names


def evaluate(engine, adapter, folder: Path, score: float = 0.05) -> dict:
    """mAP@0.5 and mAP@0.5:0.95 of a detection model on the labelled folder."""
    from .metrics import mean_average_precision

    if adapter.task != "detect":
        raise ConfigError(f"--labelled scores detection models; {engine.path.name} is a {adapter.task} model")
    images, names = load_labelled(folder)
    label_index = {name: i for i, name in enumerate(engine.info.labels)}
    unknown = sorted({n for n in names.values() if n not in label_index})
    gts, preds = [], []
    for image in images:
        frame = cv2.imread(str(image["file"]), cv2.IMREAD_COLOR)
        if frame is None:
            raise ConfigError(f"--labelled: cannot read image {image['file']}")
        keep = [i for i, c in enumerate(image["cats"]) if names.get(c) in label_index]
        gts.append((np.asarray([image["boxes"][i] for i in keep], np.float32).reshape(-1, 4),
                    np.asarray([label_index[names[image["cats"][i]]] for i in keep], np.int32)))
        dets, _ = engine.run_frame(frame, adapter, {"score": score})
        preds.append(dets)
    result = mean_average_precision(gts, preds)
    out = {"images": len(images), "objects": int(sum(len(g[1]) for g in gts)), **result.as_dict()}
    if unknown:
        out["categories_not_in_model"] = unknown
    return out
