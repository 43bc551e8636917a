"""Segmentation datasets: Pascal VOC layout, COCO instance JSON (polygons / RLE), and the synthetic shapes.

VOC layout: ``ROOT/JPEGImages/<id>.jpg``, ``ROOT/SegmentationClass/<id>.png`` (class index per pixel,
255 = ignore unless ``--ignore-index`` names another value, or values turned into classes by ``--value-map``:
see mask_values.py; palette PNGs are read back through the VOC colour map), ``ROOT/ImageSets/Segmentation/
{train,val}.txt`` (one id per line). Labels come from ``--classes FILE`` or ``ROOT/labels.txt`` (one per
line, index 0 first) or default to the 21 PASCAL VOC classes; class 0 is background only when so named.
A mask whose size differs from its image is an error naming both.
Mask folders (images/ + masks/, CamVid train/ + trainannot/): ``read_mask_folders``, MASK_FOLDER_TREES.
COCO: each image's class map is built from its annotations (category order = class 1..C, 0 = background,
crowd regions = 255).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..image_io import read_rgb, write_image
from ..records import AnnotationError, read_coco_document
from ..synth import LABELS, SceneStyle, make_scene
from .mask_values import MaskValues, read_class_list, read_value_map
from .masks import IGNORE, MaskError, annotation_mask, read_class_png

VOC_LABELS = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
              "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
              "tvmonitor")


# The synthetic set: shapes at least 6% of the side in radius (8 px at 128; CLASSIC's 3% left 4 px stars and
# crosses that no model tells apart) on calmer backgrounds.
SEGMENT_STYLE = SceneStyle(min_radius=0.06, max_radius=0.3, texture=0.5)
SYNTH_VERSION = 2  # 1: CLASSIC style, no synth.json


@dataclass
class SegSample:
    image: Path
    mask: Path | None = None  # a class PNG (VOC layout) ...
    coco: tuple | None = None  # ... or (json path, image entry, its annotations, category id -> class)
    values: MaskValues | None = None  # what the PNG's values mean (ignore value, value map)
    num_classes: int = 256  # classes the PNG's values may name


@dataclass
class SegSplit:
    labels: tuple[str, ...]
    samples: list[SegSample]


def load_sample(sample: SegSample) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 image, (H, W) uint8 class map) of one sample, checked to have the same size."""
    image = read_rgb(sample.image)
    if sample.mask is not None:
        values = sample.values or MaskValues()
        if values.colour_map is not None:
            mask = read_rgb(sample.mask)  # colour-coded: mapped colour by colour
        else:
            try:
                mask = read_class_png(sample.mask, allow_16bit=values.value_map is not None)
            except MaskError as exc:
                raise AnnotationError(str(exc)) from exc
        mask = values.to_classes(mask, sample.num_classes, f"mask {sample.mask}")
        if mask.shape != image.shape[:2]:
            raise AnnotationError(f"mask {sample.mask} is {mask.shape[1]}x{mask.shape[0]} but its image "
                                  f"{sample.image} is {image.shape[1]}x{image.shape[0]}; expected the same size")
        return image, mask
    path, entry, anns, cat_to_class = sample.coco
    h, w = int(entry["height"]), int(entry["width"])
    if (h, w) != image.shape[:2]:
        raise AnnotationError(f"{path}: image id {entry['id']} says {w}x{h} but {sample.image} is "
                              f"{image.shape[1]}x{image.shape[0]}")
    mask = np.zeros((h, w), np.uint8)
    crowd = np.zeros((h, w), bool)
    for ann in anns:
        where = f"{path}: annotation id {ann.get('id')}"
        try:
            m = annotation_mask(ann["segmentation"], h, w, where)
        except MaskError as exc:
            raise AnnotationError(str(exc)) from exc
        if ann.get("iscrowd"):
            crowd |= m
        else:
            mask[m] = cat_to_class[ann["category_id"]]
    mask[crowd] = IGNORE
    return image, mask


def _labels_file(root: Path) -> tuple[str, ...]:
    f = root / "labels.txt"
    if not f.is_file():
        return VOC_LABELS
    labels = tuple(line.strip() for line in f.read_text().splitlines() if line.strip())
    if len(labels) < 2:
        raise AnnotationError(f"{f}: expected one class name per line (class 0 first), at least two classes")
    return labels


def read_voc_split(root: Path, split: str, check_sizes: bool = True, values: MaskValues | None = None,
                   labels: tuple[str, ...] | None = None) -> SegSplit:
    """``labels``: the class list (``--classes FILE``; default ROOT/labels.txt or the VOC classes);
    ``values``: the masks' ignore value and value map (default: value = class, 255 = ignore)."""
    root = Path(root)
    labels = tuple(labels) if labels else _labels_file(root)
    listing = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not listing.is_file():
        raise AnnotationError(f"{listing}: missing; expected a VOC layout with ImageSets/Segmentation/{split}.txt")
    samples = []
    for n, line in enumerate(listing.read_text().splitlines(), start=1):
        stem = line.strip()
        if not stem:
            continue
        image = next((p for p in (root / "JPEGImages" / f"{stem}{s}" for s in (".jpg", ".png", ".jpeg"))
                      if p.is_file()), None)
        mask = root / "SegmentationClass" / f"{stem}.png"
        if image is None:
            raise AnnotationError(f"{listing} line {n}: no image JPEGImages/{stem}.jpg (or .png)")
        if not mask.is_file():
            raise AnnotationError(f"{listing} line {n}: no mask {mask}")
        samples.append(SegSample(image, mask=mask, values=values, num_classes=len(labels)))
    if not samples:
        raise AnnotationError(f"{listing}: lists no image id")
    if check_sizes:
        for s in samples:
            _check_size(s)
    return SegSplit(labels, samples)


MASK_FOLDER_TREES = """expected one of these mask-folder layouts (masks: one PNG per image, same stem):
  ROOT/images/{train,val}/<stem>.jpg   ROOT/masks/{train,val}/<stem>.png
  ROOT/{train,val}/<stem>.png          ROOT/{train,val}annot/<stem>.png      (CamVid as SegNet ships it)
  class names in --classes FILE, ROOT/labels.txt or ROOT/classes.txt (one per line, class 0 first)"""


def _mask_folders(root: Path, split: str) -> tuple[Path, Path] | None:
    for images, masks in ((root / "images" / split, root / "masks" / split), (root / split, root / f"{split}annot")):
        if images.is_dir() and masks.is_dir():
            return images, masks
    return None


def read_mask_folders(root: Path, split: str, check_sizes: bool = True, values: MaskValues | None = None,
                      labels: tuple[str, ...] | None = None) -> SegSplit:
    """Images and their mask PNGs in sibling folders (MASK_FOLDER_TREES); every image needs its mask."""
    from ..image_io import list_images

    root = Path(root)
    found = _mask_folders(root, split)
    if found is None:
        held = ", ".join(sorted(p.name + "/" for p in root.iterdir() if p.is_dir())[:12]) if root.is_dir() else ""
        raise AnnotationError(f"{root}: no image and mask folders for the {split} split; {MASK_FOLDER_TREES}\n"
                              f"it holds: {held or 'no folders'}")
    if not labels:
        listing = next((root / n for n in ("labels.txt", "classes.txt") if (root / n).is_file()), None)
        if listing is None:
            raise AnnotationError(f"{root}: no class names: give --classes FILE or put labels.txt in {root} "
                                  "(one name per line, class 0 first)")
        labels = read_class_list(listing)
    images_dir, masks_dir = found
    samples = []
    for image in list_images(images_dir):
        mask = masks_dir / f"{image.stem}.png"
        if not mask.is_file():
            raise AnnotationError(f"{image}: no mask {mask}; expected a PNG of the same stem in {masks_dir}")
        samples.append(SegSample(image, mask=mask, values=values, num_classes=len(labels)))
    if not samples:
        raise AnnotationError(f"{images_dir}: holds no images; {MASK_FOLDER_TREES}")
    if check_sizes:
        for s in samples:
            _check_size(s)
    return SegSplit(tuple(labels), samples)


def _check_size(sample: SegSample) -> None:
    img = cv2.imread(str(sample.image), cv2.IMREAD_GRAYSCALE)
    mask = cv2.imread(str(sample.mask), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AnnotationError(f"{sample.image}: cannot be read as an image")
    if mask is None:
        raise AnnotationError(f"{sample.mask}: cannot be read as a mask image")
    if img.shape[:2] != mask.shape[:2]:
        raise AnnotationError(f"mask {sample.mask} is {mask.shape[1]}x{mask.shape[0]} but its image "
                              f"{sample.image} is {img.shape[1]}x{img.shape[0]}; expected the same size")


def read_coco_split(json_path: Path, image_root: Path | None = None) -> SegSplit:
    json_path = Path(json_path)
    doc = read_coco_document(json_path)
    cats = sorted(doc["categories"], key=lambda c: c["id"])
    if len(cats) > 254:
        raise AnnotationError(f"{json_path}: {len(cats)} categories; at most 254 fit a class map with 255 = ignore")
    cat_to_class = {c["id"]: i + 1 for i, c in enumerate(cats)}
    by_image: dict = {}
    images = {im["id"]: im for im in doc["images"]}
    for ann in doc["annotations"]:
        if ann.get("image_id") not in images:
            raise AnnotationError(f"{json_path}: annotation id {ann.get('id')} refers to unknown image_id "
                                  f"{ann.get('image_id')}")
        if ann.get("category_id") not in cat_to_class:
            raise AnnotationError(f"{json_path}: annotation id {ann.get('id')} has unknown category_id "
                                  f"{ann.get('category_id')}")
        if "segmentation" not in ann:
            raise AnnotationError(f"{json_path}: annotation id {ann.get('id')} has no 'segmentation'")
        by_image.setdefault(ann["image_id"], []).append(ann)
    root = Path(image_root) if image_root else json_path.parent
    samples = [SegSample(root / im["file_name"], coco=(json_path, im, by_image.get(iid, []), cat_to_class))
               for iid, im in images.items()]
    from ..image_io import check_images

    check_images([s.image for s in samples], str(json_path))
    return SegSplit(("background",) + tuple(c["name"] for c in cats), samples)




def generate_synthetic(out: Path, train: int = 400, val: int = 80, size: int = 128, seed: int = 0,
                       max_objects: int = 4) -> Path:
    """The detection shapes (SEGMENT_STYLE) with their exact class maps, written in VOC layout (+ labels.txt).
    Files of an earlier set are removed first (train/synthetic_cache.py records the settings)."""
    out = Path(out)
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True, exist_ok=True)
    (out / "labels.txt").write_text("\n".join(("background",) + LABELS) + "\n")
    for split_index, (split, count) in enumerate((("train", train), ("val", val))):
        ids = []
        for i in range(count):
            rng = np.random.default_rng([seed, 200 + split_index, i])
            img_bgr, owner, _, classes = make_scene(rng, size, max_objects, SEGMENT_STYLE)
            lut = np.asarray(list(classes) + [-1], np.int32) + 1  # owner -1 -> index -1 -> background 0
            mask = lut[owner].astype(np.uint8)
            stem = f"{split}_{i:06d}"
            write_image(out / "JPEGImages" / f"{stem}.png", np.ascontiguousarray(img_bgr[..., ::-1]))
            write_image(out / "SegmentationClass" / f"{stem}.png", mask)
            ids.append(stem)
        (out / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return out
