"""Folder-per-class datasets (``ROOT/train/<class>/*.jpg``, ``ROOT/val/<class>/*.jpg``) and a synthetic one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..image_io import list_images, write_image
from ..records import AnnotationError


@dataclass
class ClassSplit:
    labels: tuple[str, ...]
    images: list[Path]
    class_ids: np.ndarray  # (N,) int32


def read_class_folders(folder: Path, labels: tuple[str, ...] | None = None) -> ClassSplit:
    """One split: each sub-folder is a class (sorted names = class ids unless ``labels`` fixes them)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(f"{folder}: no such folder; expected one sub-folder of images per class")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise AnnotationError(f"{folder}: no class sub-folders; expected {folder}/<class name>/<images>")
    if labels is None:
        labels = tuple(classes)
    images, ids = [], []
    for name in classes:
        if name not in labels:
            raise AnnotationError(f"{folder / name}: class {name!r} is not among the training classes {list(labels)}")
        files = list_images(folder / name)
        if not files:
            raise AnnotationError(f"{folder / name}: class folder holds no image (.jpg, .png, .bmp, ...)")
        images += files
        ids += [labels.index(name)] * len(files)
    return ClassSplit(tuple(labels), images, np.asarray(ids, np.int32))


def read_dataset(root: Path) -> tuple[ClassSplit, ClassSplit]:
    """``ROOT/train`` and ``ROOT/val``; val uses train's class list."""
    root = Path(root)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise AnnotationError(f"{root}: missing {split}/ folder; expected {root}/train/<class>/ and "
                                  f"{root}/val/<class>/")
    train = read_class_folders(root / "train")
    return train, read_class_folders(root / "val", train.labels)


def generate_synthetic(out: Path, train: int = 300, val: int = 60, size: int = 64, seed: int = 0) -> Path:
    """One synthetic shape per image (the detection shapes), saved as ``out/{train,val}/<shape>/NNNNNN.png``."""
    from ..synth import LABELS, make_image

    out = Path(out)
    for split_index, (split, count) in enumerate((("train", train), ("val", val))):
        for i in range(count):
            rng = np.random.default_rng([seed, 100 + split_index, i])
            side = max(size, 64)
            while True:  # redraw (same generator) until one shape spans at least a quarter of the image
                img_bgr, boxes, ids = make_image(rng, side, 1)
                if len(ids) == 1 and max(boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1]) >= side // 4:
                    break
            rgb = np.ascontiguousarray(img_bgr[..., ::-1])
            if size != img_bgr.shape[0]:
                import cv2
                rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
            write_image(out / split / LABELS[ids[0]] / f"{i:06d}.png", rgb)
    return out
