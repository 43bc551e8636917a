"""COCO keypoints JSON reader, and the square person crops the single-person model trains on.

Each annotation must carry ``keypoints`` of 17 x (x, y, v) with v in {0, 1, 2} (0 = not labelled, 1 =
labelled but hidden, 2 = visible), and a ``bbox``; a category's ``skeleton`` pairs must name joints 1..17.
A broken record is an error naming the file and the annotation id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..records import AnnotationError, read_coco_document

KEYPOINT_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                  "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                  "right_knee", "left_ankle", "right_ankle")
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
# COCO's person skeleton, 0-based joint pairs
SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
            (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
# index of each joint's mirror image (left <-> right), for horizontal flips
FLIP_PERM = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
CROP_SCALE = 1.25


@dataclass
class Person:
    keypoints: np.ndarray  # (17, 3) x, y, v in image pixels
    box: np.ndarray  # (4,) x0 y0 x1 y1
    area: float
    ann_id: str


@dataclass
class PoseImage:
    image: Path
    width: int
    height: int
    people: list[Person]


def read_coco_keypoints(json_path: Path, image_root: Path | None = None) -> list[PoseImage]:
    json_path = Path(json_path)
    doc = read_coco_document(json_path)
    for cat in doc["categories"]:
        kps = cat.get("keypoints")
        if kps is not None and len(kps) != NUM_KEYPOINTS:
            raise AnnotationError(f"{json_path}: category id {cat.get('id')} names {len(kps)} keypoints; "
                                  f"expected the {NUM_KEYPOINTS} COCO keypoints")
        for pair in cat.get("skeleton", []):
            for j in pair:
                if not 1 <= int(j) <= NUM_KEYPOINTS:
                    raise AnnotationError(f"{json_path}: category id {cat.get('id')} skeleton pair {pair} refers "
                                          f"to joint {j}; expected joint indices 1..{NUM_KEYPOINTS}")
    images = {im["id"]: im for im in doc["images"]}
    people: dict = {}
    for ann in doc["annotations"]:
        aid = ann.get("id")
        where = f"{json_path}: annotation id {aid}"
        if ann.get("image_id") not in images:
            raise AnnotationError(f"{where} refers to unknown image_id {ann.get('image_id')}")
        kp = ann.get("keypoints")
        if kp is None:
            continue  # a non-person annotation in a mixed file
        if len(kp) != 3 * NUM_KEYPOINTS:
            raise AnnotationError(f"{where} has {len(kp)} keypoint values ({len(kp) / 3:g} joints); expected "
                                  f"{3 * NUM_KEYPOINTS} (x, y, v for {NUM_KEYPOINTS} joints)")
        arr = np.asarray(kp, np.float64).reshape(NUM_KEYPOINTS, 3)
        bad_v = ~np.isin(arr[:, 2], (0, 1, 2))
        if bad_v.any():
            j = int(np.argmax(bad_v))
            raise AnnotationError(f"{where}: joint {j} ({KEYPOINT_NAMES[j]}) has visibility {arr[j, 2]:g}; "
                                  "expected 0, 1 or 2")
        im = images[ann["image_id"]]
        w, h = float(im["width"]), float(im["height"])
        out = (arr[:, 2] > 0) & ((arr[:, 0] < -1) | (arr[:, 1] < -1) | (arr[:, 0] > w + 1) | (arr[:, 1] > h + 1))
        if out.any():
            j = int(np.argmax(out))
            raise AnnotationError(f"{where}: joint {j} ({KEYPOINT_NAMES[j]}) at ({arr[j, 0]:g}, {arr[j, 1]:g}) lies "
                                  f"outside the {w:g}x{h:g} image")
        bbox = ann.get("bbox")
        if bbox is None or len(bbox) != 4 or bbox[2] <= 0 or bbox[3] <= 0:
            raise AnnotationError(f"{where}: bbox {bbox} must be [x, y, width, height] with positive size")
        box = np.array([bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]], np.float64)
        area = float(ann.get("area") or bbox[2] * bbox[3])
        people.setdefault(ann["image_id"], []).append(Person(arr, box, area, str(aid)))
    root = Path(image_root) if image_root else json_path.parent
    out = [PoseImage(root / im["file_name"], int(im["width"]), int(im["height"]), people[iid])
           for iid, im in images.items() if iid in people]
    from ..image_io import check_images

    check_images([p.image for p in out], str(json_path))
    return out


def crop_transform(box: np.ndarray, size: int, scale: float = CROP_SCALE) -> np.ndarray:
    """2x3 affine from image pixels to a size x size crop: a square around the box, ``scale`` x its longer side."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * scale
    s = size / max(side, 1.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float64)


def crop_person(image_rgb: np.ndarray, person: Person, size: int, flip: bool = False):
    """(crop uint8 (size, size, 3), keypoints (17, 3) in crop pixels, affine image->crop)."""
    m = crop_transform(person.box, size)
    crop = cv2.warpAffine(image_rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    kp = person.keypoints.copy()
    kp[:, :2] = kp[:, :2] @ m[:, :2].T + m[:, 2]
    if flip:
        crop = np.ascontiguousarray(crop[:, ::-1])
        kp[:, 0] = size - kp[:, 0]
        kp = kp[list(FLIP_PERM)]
    inside = (kp[:, 0] >= 0) & (kp[:, 0] < size) & (kp[:, 1] >= 0) & (kp[:, 1] < size)
    kp[~inside, 2] = 0
    return crop, kp, m


def crop_to_image(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Crop pixels (K, 2) back to image pixels through the inverse of ``m``."""
    inv = cv2.invertAffineTransform(m)
    return points @ inv[:, :2].T + inv[:, 2]
