"""Pose estimation adapter: 17 COCO keypoints per person, in frame pixels, with a skeleton renderer.

Which decoder runs is fixed by ``decode.kind`` in our metadata, or by the model's structure when it has
none (the task itself comes from ``--task pose``):

* ``movenet_single``: one output ``[1, 1, 17, 3]`` (MoveNet SinglePose: y, x, score normalised).
* ``heatmaps_offsets``: outputs with roles ``heatmaps`` ``[1, H, W, 17]`` and ``offsets`` ``[1, H, W, 34]``
  (our single-person models; layout in ``pose_decode``), ``decode.heatmap_activation`` "none" or "sigmoid".
* ``posenet``: four outputs named ``*heatmap*``, ``*offset*``, ``*displacement_fwd*``,
  ``*displacement_bwd*`` (PoseNet multi-person; see ``posenet``), or the same four roles in metadata, or
  ``heatmaps``, ``offsets`` (short) and ``mid_offsets`` roles (recognised from the output shapes).

Options: ``transform`` (set by Engine.run_frame), ``keypoint_score`` (minimum score to draw a keypoint or
bone, default 0.2), ``pose_score`` (minimum pose score for multi-person decoders, default 0.15),
``max_poses`` (default 10).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import MetadataError
from ..preprocess import Transform, decode_transform
from .pose_decode import NUM_KEYPOINTS, decode_heatmaps_offsets, decode_movenet_single
from .posenet import KEYPOINT_NAMES, decode_posenet, output_stride_for, split_mid_offsets

SKELETON = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (0, 6), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
)
POSENET_ROLES = ("heatmaps", "offsets", "displacements_fwd", "displacements_bwd")
_POSENET_NAME_PARTS = {"heatmaps": "heatmap", "offsets": "offset", "displacements_fwd": "displacement_fwd",
                       "displacements_bwd": "displacement_bwd"}
DEFAULTS = {"keypoint_score": 0.2, "pose_score": 0.15, "max_poses": 10}


@dataclass
class Poses:
    keypoints: np.ndarray  # (N, 17, 3) float32: x, y in original-frame pixels, score 0..1
    scores: np.ndarray  # (N,) float32
    boxes: np.ndarray | None = None  # (N, 4) xyxy frame pixels when the model (or a detector) gives boxes

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32).reshape(-1, NUM_KEYPOINTS, 3)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.scores) != len(self.keypoints):
            raise ValueError(f"Poses: {len(self.keypoints)} keypoint sets but {len(self.scores)} scores")
        if self.boxes is not None:
            self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
            if len(self.boxes) != len(self.keypoints):
                raise ValueError(f"Poses: {len(self.keypoints)} keypoint sets but {len(self.boxes)} boxes")

    def __len__(self) -> int:
        return len(self.keypoints)


def keypoints_to_frame(keypoints_input_px: np.ndarray, transform: Transform) -> np.ndarray:
    """(..., 3) x, y in model-input pixels + score -> the same with x, y in frame pixels (clipped)."""
    kp = np.asarray(keypoints_input_px, dtype=np.float32)
    iw, ih = transform.input_size
    xy = transform.points_to_frame(kp[..., :2] / np.array([iw, ih], dtype=np.float32))
    fw, fh = transform.frame_size
    xy = np.clip(xy, 0, [fw - 1, fh - 1])
    return np.concatenate([xy, kp[..., 2:3]], axis=-1).astype(np.float32)


def _posenet_outputs(outputs: dict[str, np.ndarray], info) -> dict[str, np.ndarray] | None:
    if all(any(o.role == role for o in info.outputs) for role in POSENET_ROLES):
        return {role: outputs[info.output(role).name] for role in POSENET_ROLES}
    if all(any(o.role == role for o in info.outputs) for role in ("heatmaps", "offsets", "mid_offsets")):
        fwd, bwd = split_mid_offsets(outputs[info.output("mid_offsets").name])
        return {"heatmaps": outputs[info.output("heatmaps").name], "offsets": outputs[info.output("offsets").name],
                "displacements_fwd": fwd, "displacements_bwd": bwd}
    found = {}
    for role, part in _POSENET_NAME_PARTS.items():
        names = [n for n in outputs if part in n.lower()]
        if len(names) != 1:
            return None
        found[role] = outputs[names[0]]
    return found


def _decode_kind(outputs: dict[str, np.ndarray], info) -> str:
    kind = info.decode.get("kind")
    if kind:
        return str(kind)
    if len(outputs) == 1:
        shape = np.shape(next(iter(outputs.values())))
        if len(shape) == 4 and shape[:2] == (1, 1) and shape[3] == 3:
            return "movenet_single"
    if _posenet_outputs(outputs, info) is not None:
        return "posenet"
    raise MetadataError(
        f"{info.path}: cannot tell how to decode this pose model's outputs "
        f"({', '.join(f'{n} {list(np.shape(v))}' for n, v in outputs.items())}); expected MoveNet's single "
        f"[1, 1, 17, 3] output, PoseNet's heatmap/offset/displacement outputs, or edgevision metadata"
    )


def decode(outputs, info, transform: Transform, options: dict) -> Poses:
    """Dequantised outputs -> Poses in frame pixels (pure; the kind was fixed when the model loaded)."""
    opts = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    kind = _decode_kind(outputs, info)
    if kind == "movenet_single":
        raw = next(iter(outputs.values())) if len(outputs) == 1 else outputs[info.output("keypoints").name]
        kps = decode_movenet_single(raw, info.input_size)[None]
        scores = kps[:, :, 2].mean(axis=1)
    elif kind == "heatmaps_offsets":
        kps = decode_heatmaps_offsets(outputs[info.output("heatmaps").name], outputs[info.output("offsets").name],
                                      info.input_size, str(info.decode.get("heatmap_activation", "none")))[None]
        scores = kps[:, :, 2].mean(axis=1)
    elif kind == "posenet":
        parts = _posenet_outputs(outputs, info)
        if parts is None:
            raise MetadataError(f"{info.path}: PoseNet decoding needs outputs {', '.join(POSENET_ROLES)}")
        grid = np.shape(parts["heatmaps"])
        stride = float(info.decode.get("output_stride") or output_stride_for(info.input_size, (grid[2], grid[1])))
        kps, scores = decode_posenet(
            parts["heatmaps"], parts["offsets"], parts["displacements_fwd"], parts["displacements_bwd"],
            stride=stride, activation=str(info.decode.get("heatmap_activation", "sigmoid")),
            max_poses=int(opts["max_poses"]))
        keep = scores >= float(opts["pose_score"])
        kps, scores = kps[keep], scores[keep]
    else:
        raise MetadataError(f"{info.path}: unknown pose decode kind {kind!r}; expected movenet_single, "
                            f"heatmaps_offsets or posenet")
    return Poses(keypoints_to_frame(kps, transform), scores, None)


class PoseAdapter:
    task = "pose"

    def decode(self, outputs, info, frame_size, options) -> Poses:
        return decode(outputs, info, decode_transform(options, frame_size, info.input_size), options)

    def to_json(self, result: Poses) -> dict:
        poses = []
        for i in range(len(result)):
            poses.append({
                "score": round(float(result.scores[i]), 4),
                "box": None if result.boxes is None else [round(float(v), 1) for v in result.boxes[i]],
                "keypoints": [[round(float(x), 1), round(float(y), 1), round(float(s), 4)]
                              for x, y, s in result.keypoints[i]],
            })
        return {"poses": poses}

    def render(self, frame_bgr: np.ndarray, result: Poses, options: dict | None = None) -> np.ndarray:
        threshold = (options or {}).get("keypoint_score")
        return draw_skeletons(frame_bgr, result, DEFAULTS["keypoint_score"] if threshold is None else float(threshold))


def _side_colour(a: int, b: int) -> tuple[int, int, int]:
    names = KEYPOINT_NAMES[a] + KEYPOINT_NAMES[b]
    if "left" in names and "right" not in names:
        return (255, 160, 0)  # BGR: blue-ish for the person's left
    if "right" in names and "left" not in names:
        return (0, 140, 255)  # orange for the right
    return (0, 255, 0)


def draw_skeletons(frame_bgr: np.ndarray, result: Poses, keypoint_threshold: float = DEFAULTS["keypoint_score"]
                   ) -> np.ndarray:
    """Bones between keypoints scoring at least ``keypoint_threshold``, then the keypoints."""
    out = frame_bgr.copy()
    thickness = max(2, round(min(out.shape[:2]) / 200))
    for i in range(len(result)):
        kp = result.keypoints[i]
        visible = kp[:, 2] >= keypoint_threshold
        for a, b in SKELETON:
            if visible[a] and visible[b]:
                pa = (int(round(kp[a, 0])), int(round(kp[a, 1])))
                pb = (int(round(kp[b, 0])), int(round(kp[b, 1])))
                cv2.line(out, pa, pb, _side_colour(a, b), thickness, cv2.LINE_AA)
        for k in np.nonzero(visible)[0]:
            centre = (int(round(kp[k, 0])), int(round(kp[k, 1])))
            cv2.circle(out, centre, thickness + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(out, centre, thickness + 2, (0, 0, 0), 1, cv2.LINE_AA)
        if result.boxes is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in result.boxes[i])
            cv2.rectangle(out, (x0, y0), (x1, y1), (0, 255, 0), thickness)
    return out


ADAPTER = PoseAdapter()
