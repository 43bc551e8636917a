"""Folder-per-class datasets (``ROOT/train/<class>/*.jpg``, ``ROOT/val/<class>/*.jpg``) and a synthetic one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..image_io import check_images, list_images, write_image
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
    check_images(images, str(folder))
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


# Synthetic classification images: one whole shape, 30..80% of the image side across, on a calm background.
# (The first version cut shapes at the border and drew them as small as a quarter of the side on busy textures:
# 600 such images are memorised, not learnt, and validation top-1 stayed at chance.) Version 3 draws the shape
# of the wanted class straight away, centred where its circumscribed circle stays inside the image, instead of
# redrawing whole scenes until one fits (~10x faster, so a few thousand images take seconds).
SYNTH_VERSION = 3
SHAPE_RADIUS = (0.15, 0.4)  # circumscribed radius, fraction of the image side
BACKGROUND_TEXTURE = 0.5  # train.synth: 1 = the pattern spans both background colours


def _whole_shape_image(rng: np.random.Generator, side: int, class_id: int) -> np.ndarray:
    """(side, side, 3) BGR uint8 with exactly one fully visible shape of class ``class_id``."""
    from ..synth import _background, _shape_mask, paint_shape

    img = _background(rng, side, BACKGROUND_TEXTURE)
    margin = max(1, side // 32)
    lo, hi = SHAPE_RADIUS
    r = float(np.exp(rng.uniform(np.log(lo * side), np.log(hi * side))))
    cx, cy = rng.uniform(margin + r, side - 1 - margin - r, 2)
    mask = _shape_mask(class_id, cx, cy, r, rng.uniform(0, 2 * np.pi), side)
    paint_shape(rng, img, mask)
    return img


def generate_synthetic(out: Path, train: int = 300, val: int = 60, size: int = 64, seed: int = 0) -> Path:
    """One synthetic shape per image (the detection shapes), saved as ``out/{train,val}/<shape>/NNNNNN.png``
    (train/synthetic_cache.py records the settings)."""
    import shutil

    import cv2

    from ..synth import LABELS

    out = Path(out)
    for split_index, (split, count) in enumerate((("train", train), ("val", val))):
        shutil.rmtree(out / split, ignore_errors=True)  # no images of an older generator left behind
        for i in range(count):
            rng = np.random.default_rng([seed, 100 + split_index, i])
            side = max(size, 64)
            class_id = i % len(LABELS)  # balanced classes, each present from the first len(LABELS) images
            img_bgr = _whole_shape_image(rng, side, class_id)
            rgb = np.ascontiguousarray(img_bgr[..., ::-1])
            if size != side:
                rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
            write_image(out / split / LABELS[class_id] / f"{i:06d}.png", rgb)
    return out
