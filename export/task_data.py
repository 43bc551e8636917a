"""A run's own data for every task, read with train's readers: what calibrates int8, what parity and scoring run on.

``task_data(run)`` returns a ``TaskData``: ``train`` and ``val`` lists of task-specific items and ``frame(item)``,
the BGR frame the runtime is handed for that item (a camera frame for detect/segment/classify, a person crop for
top-down pose, the darkened frame for enhancement). Calibration picks training items, parity and scoring use
validation items; the scorers in export/evaluate.py know what else each item carries (masks, pairs, joints).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from .calibration import read_bgr
from .errors import CalibrationError
from .run_folder import Run


@dataclass
class TaskData:
    train: list  # items to calibrate on
    val: list  # items to check parity on and to score
    frame: Callable[[Any], np.ndarray]  # item -> BGR uint8 frame as the runtime receives it
    source: str  # where the training items came from (for export.json)


@dataclass(frozen=True)
class PosePerson:
    image: Path
    person: Any  # train.pose.data.Person
    size: int  # crop side = model input


@dataclass(frozen=True)
class EnhanceItem:
    low: Path  # a low-light image, or a normal image to darken with ``darken_key``
    high: Path | None = None
    darken_key: tuple | None = None  # the rng key of the synthetic darkening, None = ``low`` is already dark


def _check_labels(run: Run, labels, where) -> None:
    if list(labels) != run.labels:
        raise CalibrationError(f"{run.path / 'run.json'}: labels {run.labels} differ from the data's {list(labels)} "
                               f"in {where}; the data changed since training")


def _reading(fn, *args, **kwargs):
    from train.image_io import ImageReadError
    from train.records import AnnotationError

    try:
        return fn(*args, **kwargs)
    except (AnnotationError, ImageReadError, OSError) as exc:
        raise CalibrationError(f"cannot read the run's data: {exc}") from exc


def _rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[..., ::-1])


def _detect(run: Run) -> TaskData:
    from . import dataset

    return TaskData(dataset.training_records(run), dataset.validation_records(run), lambda rec: read_bgr(rec.image),
                    run.spec["data"]["train"])


def _classify(run: Run) -> TaskData:
    from train.classify.data import read_dataset

    root = run.spec["data"]["root"]
    train, val = _reading(read_dataset, Path(root))
    _check_labels(run, train.labels, root)
    items = lambda split: list(zip(split.images, (int(c) for c in split.class_ids)))  # noqa: E731
    return TaskData(items(train), items(val), lambda item: read_bgr(item[0]), run.spec["data"]["train"])


def _segment(run: Run) -> TaskData:
    from train.segment.data import MaskValues, read_class_list, read_coco_split, read_mask_folders, read_voc_split

    data = run.spec["data"]
    if data["format"] in ("voc", "folders"):  # the masks read as training read them: ignore value, value map
        reader = read_voc_split if data["format"] == "voc" else read_mask_folders
        values = MaskValues.from_info(data)
        labels = _reading(read_class_list, data["classes"]) if data.get("classes") else None
        train, val = (_reading(reader, Path(data["root"]), s, values=values, labels=labels) for s in ("train", "val"))
    elif data["format"] == "coco":
        train, val = (_reading(read_coco_split, Path(data[s])) for s in ("train", "val"))
    else:
        raise CalibrationError(f"{run.path / 'run.json'}: data.format {data['format']!r}; "
                               "expected 'voc', 'folders' or 'coco'")
    _check_labels(run, train.labels, data["root"])
    return TaskData(train.samples, val.samples, lambda s: read_bgr(s.image), data["train"])


def _pose(run: Run) -> TaskData:
    from train.pose.data import crop_person, read_coco_keypoints
    from train.image_io import read_rgb

    data = run.spec["data"]
    size = int(run.input["width"])
    train, val = (_reading(read_coco_keypoints, Path(data[s])) for s in ("train", "val"))
    people = lambda images, visible: [PosePerson(im.image, p, size) for im in images for p in im.people  # noqa: E731
                                      if not visible or (p.keypoints[:, 2] > 0).any()]

    def frame(item: PosePerson) -> np.ndarray:  # top-down: the person's crop is the model's whole frame
        return _rgb_to_bgr(crop_person(_reading(read_rgb, item.image), item.person, item.size)[0])

    return TaskData(people(train, False), people(val, True), frame, data["train"])


def _enhance(run: Run) -> TaskData:
    from train.enhance.data import read_split

    data = run.spec["data"]
    mode = data["format"]
    train, val = (_reading(read_split, Path(data[s]), mode) for s in ("train", "val"))
    seed = int(data.get("darken_seed", 0))
    if mode == "darken":  # the same synthetic pairs as train's validation (train.enhance.data.darkened_pairs)
        val_items = [EnhanceItem(p, p, (seed, 9999)) for p in val.low]
        train_items = [EnhanceItem(p, None, (seed, 5000 + i)) for i, p in enumerate(train.low)]
    else:
        val_items = [EnhanceItem(lo, hi) for lo, hi in zip(val.low, val.high or [None] * len(val.low))]
        train_items = [EnhanceItem(p) for p in train.low]
    cache: dict = {}

    def frame(item: EnhanceItem) -> np.ndarray:
        if item.darken_key is None:
            return read_bgr(item.low)
        if item.darken_key[1] == 9999:  # validation: one generator over the split, in order
            if not cache:
                cache.update(zip(val.low, _darkened_val(val.low, seed)))
            return _rgb_to_bgr(cache[item.low])
        from train.enhance.data import darken
        from train.image_io import read_rgb

        return _rgb_to_bgr(darken(read_rgb(item.low), np.random.default_rng(list(item.darken_key))))

    return TaskData(train_items, val_items, frame, data["train"])


def _darkened_val(paths, seed: int) -> list[np.ndarray]:
    from train.enhance.data import darkened_pairs

    return [low for low, _ in darkened_pairs(paths, seed)]


_LOADERS: dict[str, Callable[[Run], TaskData]] = {
    "detect": _detect, "classify": _classify, "segment": _segment, "pose": _pose, "enhance": _enhance,
}
TASKS = tuple(_LOADERS)


def task_data(run: Run) -> TaskData:
    if run.task not in _LOADERS:
        raise CalibrationError(f"{run.path / 'run.json'}: task {run.task!r}; export knows {', '.join(TASKS)}")
    return _LOADERS[run.task](run)


def high_image(item: EnhanceItem) -> np.ndarray | None:
    """The normal-light BGR image of an enhancement pair (None for unpaired low-light images)."""
    return None if item.high is None else read_bgr(item.high)

