"""MediaPipe landmark models, top-down on a detector: hand (21 points), face mesh (468), BlazePose GHUM (33).

A landmark model sees a rotated square crop around one detection, built as MediaPipe's graphs build it
(``FAMILIES``: which detector keypoints give the rotation, how the box is shifted, squared and scaled), and
returns points in crop pixels that are projected back through the same rotated rectangle to frame pixels.
In a pipeline it runs on an earlier detector's boxes (``on = "palm"``); the crop comes from the detector's
MediaPipe keypoints when it has them (palm 7, face 6, person 4), else from the box alone without rotation
(e.g. BlazePose on an SSD's person boxes). Run on a whole frame it sees the frame letterboxed.

Outputs are found by shape, in the file's output order (MediaPipe's own files):

* hand (224x224): ``[1, 63]`` 21 x (x, y, z) crop pixels, ``[1, 1]`` presence (a probability),
  ``[1, 1]`` handedness, ``[1, 63]`` world landmarks (metres). Handedness is reported as the legacy
  Solutions graph reports it: a value >= 0.5 is "Left" (MediaPipe Tasks 1.2.3 names the opposite hand).
* face mesh (192x192): ``[1, 1, 1, 1404]`` 468 x (x, y, z), ``[1, 1, 1, 1]`` presence logit.
* pose (256x256): ``[1, 195]`` 39 x (x, y, z, visibility logit, presence logit) of which the first 33 are
  the body, ``[1, 1]`` presence (a probability), segmentation, heatmap and world outputs (unused).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import MetadataError
from ..preprocess import Transform
from ..rotated_rect import (RotatedRect, rect_from_alignment_points, rect_from_box, rotation_from_points,
                            transform_rect)
from .pose_decode import sigmoid

HAND_CONNECTIONS = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)
POSE_CONNECTIONS = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15),
    (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31),
    (30, 32), (27, 31), (28, 32),
)


@dataclass(frozen=True)
class LandmarkFamily:
    name: str
    what: str
    num_landmarks: int
    detector_keypoints: int  # keypoints of the MediaPipe detector whose boxes it runs on
    roi: str  # "box": the detection box, rotated; "alignment": a square around two keypoints
    rotation: tuple[int, int, float]  # (start keypoint, end keypoint, target angle in degrees)
    scale: float
    shift_y: float = 0.0
    connections: tuple[tuple[int, int], ...] = ()
    min_presence: float = 0.5


# RectTransformation options of MediaPipe's graphs: palm_detection_detection_to_roi, face_detection_front_
# detection_to_roi, pose_detection_to_roi.
FAMILIES = {f.name: f for f in (
    LandmarkFamily("hand", "MediaPipe hand landmarks (hand_landmark_lite/full.tflite) on BlazePalm", 21, 7, "box",
                   (0, 2, 90.0), 2.6, -0.5, HAND_CONNECTIONS),
    LandmarkFamily("face_mesh", "MediaPipe face mesh (face_landmark.tflite) on BlazeFace", 468, 6, "box",
                   (0, 1, 0.0), 1.5),
    LandmarkFamily("pose", "BlazePose GHUM lite/full/heavy (pose_landmark_*.tflite) on the BlazePose detector",
                   33, 4, "alignment", (0, 1, 90.0), 1.25, 0.0, POSE_CONNECTIONS),
)}


def recognise(input_size: tuple[int, int], output_shapes: list[tuple[int, ...]]) -> dict | None:
    """The decode plan of a MediaPipe landmark model from its input size and output shapes, or None."""
    shapes = [tuple(int(v) for v in s) for s in output_shapes]
    if input_size == (224, 224) and shapes == [(1, 63), (1, 1), (1, 1), (1, 63)]:
        return {"kind": "mediapipe_landmarks", "family": "hand"}
    if input_size == (192, 192) and shapes == [(1, 1, 1, 1404), (1, 1, 1, 1)]:
        return {"kind": "mediapipe_landmarks", "family": "face_mesh"}
    if (input_size == (256, 256) and len(shapes) == 5 and shapes[0] == (1, 195) and shapes[1] == (1, 1)
            and shapes[4] == (1, 117)):
        return {"kind": "mediapipe_landmarks", "family": "pose"}
    return None


@dataclass
class Landmarks:
    family: str
    points: np.ndarray  # (K, 3) float32: x, y in frame pixels, z in the same pixel scale (smaller = nearer)
    score: float  # presence of the hand / face / body in the crop, 0..1
    rect: RotatedRect | None = None  # the crop in frame pixels (None when run on the whole frame)
    visibility: np.ndarray | None = None  # (K,) 0..1, pose only
    handedness: str | None = None  # hand only: "Left" or "Right"
    handedness_score: float | None = None

    def __len__(self) -> int:
        return len(self.points)


def roi_for_detection(family: LandmarkFamily, box, keypoints: np.ndarray | None) -> RotatedRect:
    """The crop MediaPipe's graph cuts for one detection (frame pixels); box-only without the family's keypoints."""
    start, end, angle = family.rotation
    has_kps = keypoints is not None and len(keypoints) == family.detector_keypoints
    if has_kps and family.roi == "alignment":
        rect = rect_from_alignment_points(keypoints[start, :2], keypoints[end, :2], angle)
    else:
        rotation = rotation_from_points(keypoints[start, :2], keypoints[end, :2], angle) if has_kps else 0.0
        rect = rect_from_box(box, rotation)
    return transform_rect(rect, scale_x=family.scale, scale_y=family.scale, shift_y=family.shift_y,
                          square_long=True)


def decode_raw(outputs: list[np.ndarray], family: LandmarkFamily, input_size: tuple[int, int]) -> dict:
    """The model's outputs (file order) -> landmarks normalised to the crop (K, 3) (z scaled like x) and scores."""
    width, height = input_size
    k = family.num_landmarks
    if family.name == "hand":
        raw = np.asarray(outputs[0], np.float32).reshape(-1, 3)
        presence, handed = float(np.ravel(outputs[1])[0]), float(np.ravel(outputs[2])[0])
        extra = {"handedness": "Left" if handed >= 0.5 else "Right", "handedness_score": max(handed, 1 - handed)}
    elif family.name == "face_mesh":
        raw = np.asarray(outputs[0], np.float32).reshape(-1, 3)
        presence, extra = float(sigmoid(np.ravel(outputs[1])[0])), {}
    elif family.name == "pose":
        full = np.asarray(outputs[0], np.float32).reshape(-1, 5)
        raw = full[:, :3]
        presence = float(np.ravel(outputs[1])[0])
        extra = {"visibility": sigmoid(full[:k, 3])}
    else:
        raise MetadataError(f"unknown landmark family {family.name!r}; known: {', '.join(FAMILIES)}")
    if len(raw) < k:
        raise MetadataError(f"{family.name} landmarks: expected {k} points, the output holds {len(raw)}")
    norm = raw[:k] / np.array([width, height, width], np.float32)
    return {"points": norm, "score": presence, **extra}


def project(rect: RotatedRect, points_norm: np.ndarray) -> np.ndarray:
    """(K, 3) landmarks normalised to the crop -> frame pixels through the rotated rectangle (z scaled by width)."""
    xy = rect.to_frame(points_norm[:, :2])
    return np.concatenate([xy, points_norm[:, 2:3] * rect.width], axis=1).astype(np.float32)


class LandmarksAdapter:
    task = "landmarks"

    @staticmethod
    def _family(info) -> LandmarkFamily:
        name = info.decode.get("family")
        if name not in FAMILIES:
            raise MetadataError(f"{info.path}: landmark family {name!r} is not known; known: {', '.join(FAMILIES)}")
        return FAMILIES[name]

    @staticmethod
    def _ordered(outputs: dict[str, np.ndarray], info) -> list[np.ndarray]:
        return [outputs[o.name] for o in info.outputs] if info.outputs else list(outputs.values())

    def decode(self, outputs, info, frame_size, options) -> Landmarks:
        """On a whole frame: points through the engine's resize transform."""
        family = self._family(info)
        raw = decode_raw(self._ordered(outputs, info), family, info.input_size)
        transform: Transform = options["transform"]
        iw, _ = transform.input_size
        xy = transform.points_to_frame(raw["points"][:, :2])
        z = raw["points"][:, 2:3] * iw / transform.scale_x
        return Landmarks(family.name, np.concatenate([xy, z], axis=1), raw["score"], None,
                         raw.get("visibility"), raw.get("handedness"), raw.get("handedness_score"))

    def run_on_detection(self, engine, frame_bgr: np.ndarray, dets, index: int, options: dict):
        """One detection's rotated crop -> (Landmarks in frame pixels or None when absent, timing ms)."""
        info = engine.info
        family = self._family(info)
        kps = None if dets.keypoints is None else dets.keypoints[index]
        rect = roi_for_detection(family, dets.boxes[index], kps)
        timing = {"pre": 0.0, "infer": 0.0, "post": 0.0}
        raw = self._run_crop(engine, frame_bgr, rect, family, timing)
        t2 = time.perf_counter()
        result = None
        if raw["score"] >= family.min_presence:
            result = Landmarks(family.name, project(rect, raw["points"]), raw["score"], rect, raw.get("visibility"),
                               raw.get("handedness"), raw.get("handedness_score"))
        timing["post"] += (time.perf_counter() - t2) * 1000
        return result, timing

    def _run_crop(self, engine, frame_bgr, rect: RotatedRect, family: LandmarkFamily, timing: dict) -> dict:
        info = engine.info
        inference = engine.run(frame_bgr, region=rect)  # the rotated crop, through the model's one run path
        t2 = time.perf_counter()
        raw = decode_raw(self._ordered(inference.outputs, info), family, info.input_size)
        timing["pre"] += inference.timing["pre"]
        timing["infer"] += inference.timing["infer"]
        timing["post"] += (time.perf_counter() - t2) * 1000
        return raw

    def to_json(self, result: Landmarks) -> dict:
        body: dict = {"family": result.family, "score": round(float(result.score), 4),
                      "points": [[round(float(x), 2), round(float(y), 2), round(float(z), 2)]
                                 for x, y, z in result.points]}
        if result.visibility is not None:
            body["visibility"] = [round(float(v), 4) for v in result.visibility]
        if result.handedness is not None:
            body["handedness"] = result.handedness
            body["handedness_score"] = round(float(result.handedness_score), 4)
        if result.rect is not None:
            r = result.rect
            body["rect"] = {"cx": round(r.cx, 1), "cy": round(r.cy, 1), "width": round(r.width, 1),
                            "height": round(r.height, 1), "rotation": round(r.rotation, 4)}
        return {"landmarks": body}

    def render(self, frame_bgr: np.ndarray, result: Landmarks, options: dict | None = None) -> np.ndarray:
        return draw_landmarks(frame_bgr, result)


def draw_landmarks(frame_bgr: np.ndarray, result: Landmarks) -> np.ndarray:
    out = frame_bgr.copy()
    t = max(1, round(min(out.shape[:2]) / 300))
    pts = [(int(round(float(x))), int(round(float(y)))) for x, y, _ in result.points]
    if result.rect is not None:
        cv2.polylines(out, [np.round(result.rect.corners()).astype(np.int32)], True, (255, 255, 0), t, cv2.LINE_AA)
    family = FAMILIES.get(result.family)
    for a, b in family.connections if family else ():
        cv2.line(out, pts[a], pts[b], (0, 255, 0), t, cv2.LINE_AA)
    radius = 1 if len(pts) > 100 else t + 1
    for p in pts:
        cv2.circle(out, p, radius, (0, 0, 255), -1, cv2.LINE_AA)
    return out


ADAPTER = LandmarksAdapter()
