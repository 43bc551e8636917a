"""A built-in synthetic detection dataset: coloured shapes on textured backgrounds, written as COCO.

Deterministic from the seed (each image has its own generator seeded by (seed, split, index)). Shapes are
drawn in order, so later ones can hide earlier ones; each recorded box is the box of the object's visible
pixels, and objects with less than ``MIN_VISIBLE`` of their area visible are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LABELS = ("circle", "square", "triangle", "star", "cross")
MIN_VISIBLE = 0.4
MIN_SIDE = 4


@dataclass(frozen=True)
class SceneStyle:
    """How a scene looks: shape radius range (fractions of the image side) and background pattern contrast."""

    min_radius: float = 0.03
    max_radius: float = 0.3
    texture: float = 1.0  # 1: the pattern spans both background colours; lower: a calmer background


CLASSIC = SceneStyle()  # what the other tasks' synthetic sets draw
DETECT = SceneStyle(min_radius=0.05, texture=0.5)  # the detection demo: no specks, calmer backgrounds


@dataclass
class SynthConfig:
    out: Path
    train: int = 1500
    val: int = 300
    size: int = 256
    seed: int = 0
    max_objects: int = 6
    style: SceneStyle = DETECT


def _background(rng: np.random.Generator, size: int, texture: float = 1.0) -> np.ndarray:
    kind = rng.integers(4)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    if texture != 1.0:
        c1 = c0 + texture * (c1 - c0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == 0:  # smooth noise
        small = rng.uniform(0, 1, (8, 8, 1)).astype(np.float32)
        t = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)[..., None]
    elif kind == 1:  # linear gradient
        a = rng.uniform(0, 2 * np.pi)
        t = (np.cos(a) * xx + np.sin(a) * yy)[..., None]
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    elif kind == 2:  # stripes
        a, period = rng.uniform(0, np.pi), rng.uniform(6, 40) / size
        t = (0.5 + 0.5 * np.sin(2 * np.pi * (np.cos(a) * xx + np.sin(a) * yy) / period))[..., None]
    else:  # checkerboard
        cells = int(rng.integers(3, 12))
        t = (((xx * cells).astype(int) + (yy * cells).astype(int)) % 2).astype(np.float32)[..., None]
    img = c0 * (1 - t) + c1 * t + rng.normal(0, rng.uniform(2, 14), (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _polygon(kind: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    if kind == 1:  # square
        ang = angle + np.pi / 4 + np.arange(4) * np.pi / 2
        rad = np.full(4, r)
    elif kind == 2:  # triangle
        ang = angle + np.arange(3) * 2 * np.pi / 3
        rad = np.full(3, r)
    elif kind == 3:  # five-pointed star
        ang = angle + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
    else:  # cross (plus sign), arm half-width a third of the radius
        a = r / 3
        pts = np.array([[a, r], [a, a], [r, a], [r, -a], [a, -a], [a, -r], [-a, -r], [-a, -a], [-r, -a],
                        [-r, a], [-a, a], [-a, r]], np.float64)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return (pts @ rot.T + [cx, cy]).round().astype(np.int32)
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], -1).round().astype(np.int32)


def _shape_mask(kind: int, cx: float, cy: float, r: float, angle: float, size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    if kind == 0:
        cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(r)), 1, -1, lineType=cv2.LINE_8)
    else:
        cv2.fillPoly(mask, [_polygon(kind, cx, cy, r, angle)], 1)
    return mask.astype(bool)


def make_image(rng: np.random.Generator, size: int, max_objects: int, style: SceneStyle = CLASSIC):
    """One image (H, W, 3 BGR uint8) with its visible boxes (xyxy pixels) and class ids."""
    img, owner, masks, classes = make_scene(rng, size, max_objects, style)
    return (img, *visible_boxes(owner, masks, classes))


def paint_shape(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray) -> None:
    """Fill ``mask`` in ``img`` with a noisy colour that stands apart from the background under it."""
    local = img[mask].mean(axis=0)
    colour = rng.uniform(0, 255, 3)
    for _ in range(8):  # keep the shape distinguishable from what lies under it
        if np.abs(colour - local).sum() > 180:
            break
        colour = rng.uniform(0, 255, 3)
    img[mask] = np.clip(colour + rng.normal(0, 6, (int(mask.sum()), 3)), 0, 255).astype(np.uint8)


def make_scene(rng: np.random.Generator, size: int, max_objects: int, style: SceneStyle = CLASSIC):
    """Image (BGR uint8), owner map ((H, W) int32: index of the shape seen at each pixel, -1 = background),
    each shape's full mask and class id. Segmentation uses the owner map for exact class masks."""
    img = _background(rng, size, style.texture)
    owner = np.full((size, size), -1, np.int32)
    masks, classes = [], []
    for k in range(int(rng.integers(1, max_objects + 1))):
        kind = int(rng.integers(len(LABELS)))
        r = float(np.exp(rng.uniform(np.log(style.min_radius * size), np.log(style.max_radius * size))))
        cx, cy = rng.uniform(0, size, 2)
        mask = _shape_mask(kind, cx, cy, r, rng.uniform(0, 2 * np.pi), size)
        if mask.sum() < MIN_SIDE * MIN_SIDE:
            continue
        paint_shape(rng, img, mask)
        owner[mask] = len(masks)
        masks.append(mask)
        classes.append(kind)
    return img, owner, masks, classes


def visible_boxes(owner: np.ndarray, masks: list, classes: list) -> tuple[list, list]:
    """Boxes (xyxy) and class ids of the shapes with at least MIN_VISIBLE of their area visible."""
    boxes, ids = [], []
    for k, (mask, kind) in enumerate(zip(masks, classes)):
        visible = owner == k
        if visible.sum() < MIN_VISIBLE * mask.sum():
            continue
        ys, xs = np.nonzero(visible)
        box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
        if box[2] - box[0] < MIN_SIDE or box[3] - box[1] < MIN_SIDE:
            continue
        boxes.append(box)
        ids.append(kind)
    return boxes, ids


def write_split(cfg: SynthConfig, split: str, count: int, split_index: int) -> Path:
    out = Path(cfg.out)
    (out / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(count):
        rng = np.random.default_rng([cfg.seed, split_index, i])
        img, boxes, ids = make_image(rng, cfg.size, cfg.max_objects, cfg.style)
        name = f"{split}/{i:06d}.jpg"
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise RuntimeError(f"OpenCV could not encode {name}")
        (out / name).write_bytes(buf.tobytes())
        images.append({"id": i + 1, "file_name": name, "width": cfg.size, "height": cfg.size})
        for box, cid in zip(boxes, ids):
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": cid + 1,
                                "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                                "area": (box[2] - box[0]) * (box[3] - box[1]), "iscrowd": 0})
    doc = {"info": {"description": f"edgevision synthetic shapes, seed {cfg.seed}"},
           "images": images, "annotations": annotations,
           "categories": [{"id": i + 1, "name": n} for i, n in enumerate(LABELS)]}
    path = out / f"{split}.json"
    path.write_text(json.dumps(doc))
    return path


def generate(cfg: SynthConfig) -> tuple[Path, Path]:
    """Write ``train.json`` and ``val.json`` (+ images under train/ and val/) into ``cfg.out``."""
    if cfg.size < 64 or cfg.train < 1 or cfg.val < 1:
        raise ValueError(f"synthetic dataset: size {cfg.size} (expected >= 64), train {cfg.train} and "
                         f"val {cfg.val} (expected >= 1)")
    return write_split(cfg, "train", cfg.train, 0), write_split(cfg, "val", cfg.val, 1)
