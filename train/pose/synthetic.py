"""Synthetic articulated stick figures with known joints, written as COCO keypoints.

One figure per image, facing the camera (so its left side is on the image's right), with random torso lean,
limb angles and size on the detection set's textured backgrounds. Limbs are thick lines, the head a disc with
eyes and nose marked. Random occluding patches drawn over the figure hide some joints (v = 1); joints outside
the image are v = 0 at (0, 0), as COCO writes them. Deterministic from the seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..image_io import write_image
from .data import KEYPOINT_NAMES, SKELETON


def _unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


def figure_joints(rng: np.random.Generator, size: int) -> tuple[np.ndarray, float]:
    """(17, 2) joint positions in pixels and the figure height."""
    h = rng.uniform(0.45, 0.85) * size
    root = np.array([rng.uniform(0.3, 0.7) * size, rng.uniform(0.45, 0.6) * size])
    up = -np.pi / 2 + rng.uniform(-0.35, 0.35)  # torso direction (image y points down)
    across = _unit(up + np.pi / 2)  # towards the figure's left = image right
    neck = root + 0.3 * h * _unit(up)
    j = np.zeros((17, 2))
    j[11], j[12] = root + 0.08 * h * across, root - 0.08 * h * across
    j[5], j[6] = neck + 0.11 * h * across, neck - 0.11 * h * across
    head = neck + 0.12 * h * _unit(up + rng.uniform(-0.3, 0.3))
    face_up = _unit(up)
    j[0] = head - 0.01 * h * face_up
    j[1], j[2] = head + 0.03 * h * across + 0.025 * h * face_up, head - 0.03 * h * across + 0.025 * h * face_up
    j[3], j[4] = head + 0.065 * h * across + 0.01 * h * face_up, head - 0.065 * h * across + 0.01 * h * face_up
    for side, (s, e, w) in enumerate(((5, 7, 9), (6, 8, 10))):
        out = 1 if side == 0 else -1  # arms swing outwards on their own side
        a1 = np.pi / 2 - out * rng.uniform(0.1, 2.4)
        j[e] = j[s] + 0.16 * h * _unit(a1)
        j[w] = j[e] + 0.15 * h * _unit(a1 + out * rng.uniform(-1.6, 0.3))
    for side, (hp, k, a) in enumerate(((11, 13, 15), (12, 14, 16))):
        out = 1 if side == 0 else -1
        a1 = np.pi / 2 - out * rng.uniform(-0.1, 0.7)
        j[k] = j[hp] + 0.23 * h * _unit(a1)
        j[a] = j[k] + 0.22 * h * _unit(a1 + out * rng.uniform(-0.2, 0.9))
    return j, h


def make_figure(rng: np.random.Generator, size: int):
    """(RGB uint8 image, keypoints (17, 3) with v, bbox [x, y, w, h], area)."""
    from ..synth import _background

    img = np.ascontiguousarray(_background(rng, size)[..., ::-1])
    joints, h = figure_joints(rng, size)
    colour = tuple(int(c) for c in rng.uniform(0, 255, 3))
    if np.abs(np.asarray(colour) - img.reshape(-1, 3).mean(0)).sum() < 150:
        colour = tuple(255 - c for c in colour)
    thick = max(2, int(round(0.045 * h)))
    body = np.zeros((size, size), np.uint8)
    pts = (joints * 16).round().astype(np.int32)
    for a, b in SKELETON[:12]:  # limbs and torso (the face pairs are drawn as the head)
        cv2.line(img, tuple(pts[a]), tuple(pts[b]), colour, thick, cv2.LINE_AA, shift=4)
        cv2.line(body, tuple(pts[a]), tuple(pts[b]), 1, thick, cv2.LINE_8, shift=4)
    neck = (joints[5] + joints[6]) / 2
    cv2.line(img, tuple((neck * 16).round().astype(np.int32)), tuple(pts[0]), colour, thick, cv2.LINE_AA, shift=4)
    head_c = (joints[1] + joints[2]) / 2
    r = 0.075 * h
    cv2.circle(img, tuple((head_c * 16).round().astype(np.int32)), int(r * 16), colour, -1, cv2.LINE_AA, shift=4)
    cv2.circle(body, tuple(head_c.round().astype(np.int32)), int(r), 1, -1)
    dark = tuple(int(c * 0.3) for c in colour)
    for k in (0, 1, 2):
        cv2.circle(img, tuple(pts[k]), int(max(1.5, 0.012 * h) * 16), dark, -1, cv2.LINE_AA, shift=4)
    hidden = np.zeros(17, bool)
    for _ in range(int(rng.integers(0, 3))):  # occluding patches
        cx, cy = joints[int(rng.integers(17))] + rng.normal(0, 0.05 * h, 2)
        w2, h2 = rng.uniform(0.06, 0.16, 2) * h
        x0, y0, x1, y1 = (int(round(v)) for v in (cx - w2, cy - h2, cx + w2, cy + h2))
        patch = _background(rng, size)[..., ::-1]
        xs, ys = slice(max(x0, 0), max(min(x1, size), 0)), slice(max(y0, 0), max(min(y1, size), 0))
        img[ys, xs] = patch[ys, xs]
        hidden |= (joints[:, 0] >= x0) & (joints[:, 0] < x1) & (joints[:, 1] >= y0) & (joints[:, 1] < y1)
    inside = (joints[:, 0] >= 0) & (joints[:, 0] < size) & (joints[:, 1] >= 0) & (joints[:, 1] < size)
    kp = np.zeros((17, 3))
    kp[:, :2] = np.where(inside[:, None], joints, 0.0)
    kp[:, 2] = np.where(inside, np.where(hidden, 1, 2), 0)
    ys, xs = np.nonzero(body)
    lo = np.minimum([xs.min(), ys.min()], joints[inside].min(0)) if inside.any() else np.array([xs.min(), ys.min()])
    hi = np.maximum([xs.max() + 1, ys.max() + 1], joints[inside].max(0)) if inside.any() else \
        np.array([xs.max() + 1, ys.max() + 1])
    lo, hi = np.clip(lo, 0, size), np.clip(hi, 0, size)
    bbox = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
    return img, kp, bbox, float(body.sum())


def generate_synthetic(out: Path, train: int = 400, val: int = 80, size: int = 128, seed: int = 0):
    """Write ``out/{train,val}.json`` (COCO keypoints) and images under ``out/{train,val}/``."""
    out = Path(out)
    paths = []
    for split_index, (split, count) in enumerate((("train", train), ("val", val))):
        images, anns = [], []
        for i in range(count):
            rng = np.random.default_rng([seed, 300 + split_index, i])
            img, kp, bbox, area = make_figure(rng, size)
            name = f"{split}/{i:06d}.png"
            write_image(out / name, img)
            images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
            anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "bbox": bbox,
                         "area": area, "num_keypoints": int((kp[:, 2] > 0).sum()),
                         "keypoints": [round(float(v), 2) for v in kp.reshape(-1)]})
        doc = {"info": {"description": f"edgevision synthetic stick figures, seed {seed}"}, "images": images,
               "annotations": anns,
               "categories": [{"id": 1, "name": "person", "supercategory": "person",
                               "keypoints": list(KEYPOINT_NAMES),
                               "skeleton": [[a + 1, b + 1] for a, b in SKELETON]}]}
        path = out / f"{split}.json"
        path.write_text(json.dumps(doc))
        paths.append(path)
    return tuple(paths)
