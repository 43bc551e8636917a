"""Pose at the edge: the zoo MoveNet Lightning against upstream's reference, and decoders on hand-built arrays."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from edge.engine import Engine
from edge.errors import MetadataError
from edge.preprocess import Transform
from edge.tasks import adapter_for
from edge.tasks.pose import Poses, draw_skeletons, keypoints_to_frame
from edge.tasks.pose_decode import decode_heatmaps_offsets, decode_movenet_single
from edge.tasks.posenet import POSE_CHAIN, decode_posenet, output_stride_for


def test_movenet_lightning_matches_upstream_reference(zoo):
    engine = Engine(zoo / "models/movenet_single_pose_lightning_ptq.tflite", threads=2)
    engine.info = engine.info.with_overrides(task="pose")
    frame = cv2.imread(str(zoo / "images/squat.bmp"))
    h, w = frame.shape[:2]
    adapter = adapter_for("pose")
    result, _ = engine.run_frame(frame, adapter, {})
    assert len(result) == 1 and result.boxes is None
    with open(zoo / "expected/movenet_single_pose_lightning_ptq_reference.csv", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: int(r["keypoint_id"]))
    assert len(rows) == 17
    ref = np.array([[float(r["keypoint_x"]) * w, float(r["keypoint_y"]) * h] for r in rows])
    err = np.abs(result.keypoints[0, :, :2] - ref) / np.array([w, h])
    assert err.max() <= 0.03, err.max()
    line = adapter.to_json(result)
    assert set(line) == {"poses"} and len(line["poses"]) == 1
    pose = line["poses"][0]
    assert set(pose) == {"score", "box", "keypoints"} and pose["box"] is None
    assert len(pose["keypoints"]) == 17 and all(len(k) == 3 for k in pose["keypoints"])
    drawn = adapter.render(frame, result)
    assert drawn.shape == frame.shape and (drawn != frame).any()


def test_movenet_decoder_units():
    raw = np.zeros((1, 1, 17, 3), np.float32)
    raw[0, 0, 3] = (0.25, 0.5, 0.9)  # y, x, score
    kp = decode_movenet_single(raw, (192, 96))
    assert kp[3].tolist() == pytest.approx([96.0, 24.0, 0.9])
    with pytest.raises(MetadataError, match=r"\[1, 1, K, 3\]"):
        decode_movenet_single(np.zeros((1, 17, 3)), (192, 192))


@pytest.mark.parametrize("activation", ["none", "sigmoid"])
def test_heatmap_offset_decoder_is_sub_pixel(activation):
    # 4x8 heatmap over a 64x32 input: cells are 8x8 input pixels.
    rng = np.random.default_rng(0)
    truth = np.stack([rng.uniform(0, 64, 17), rng.uniform(0, 32, 17)], axis=1)
    hm = np.full((1, 4, 8, 17), -4.0 if activation == "sigmoid" else 0.01, np.float32)
    off = np.zeros((1, 4, 8, 34), np.float32)
    for k, (x, y) in enumerate(truth):
        col, row = int(x // 8), int(y // 8)
        hm[0, row, col, k] = 2.0 if activation == "sigmoid" else 0.7
        off[0, row, col, 2 * k] = y / 8 - (row + 0.5)
        off[0, row, col, 2 * k + 1] = x / 8 - (col + 0.5)
    kp = decode_heatmaps_offsets(hm, off, (64, 32), activation)
    assert kp[:, :2] == pytest.approx(truth, abs=1e-4)
    assert kp[:, 2] == pytest.approx(0.7 if activation == "none" else 1 / (1 + np.exp(-2.0)), abs=1e-5)


def test_heatmap_offset_decoder_rejects_mismatched_offsets():
    with pytest.raises(MetadataError, match=r"offsets must have shape \[1, 4, 8, 34\]"):
        decode_heatmaps_offsets(np.zeros((1, 4, 8, 17)), np.zeros((1, 4, 8, 17)), (64, 32))


def _posenet_scene(people: list[np.ndarray], stride: int = 32, grid: int = 9, heat: list[float] | None = None):
    """Ideal PoseNet outputs for people standing apart in columns: each cell's offsets and displacements
    belong to the person whose keypoints are nearest in x."""
    hm = np.full((1, grid, grid, 17), -6.0, np.float32)
    off = np.zeros((1, grid, grid, 34), np.float32)
    fwd = np.zeros((1, grid, grid, 32), np.float32)
    bwd = np.zeros((1, grid, grid, 32), np.float32)
    centres = [p[:, 0].mean() for p in people]
    for row in range(grid):
        for col in range(grid):
            owner = people[int(np.argmin([abs(col * stride - c) for c in centres]))]
            off[0, row, col, :17] = owner[:, 1] - row * stride
            off[0, row, col, 17:] = owner[:, 0] - col * stride
            for e, (parent, child) in enumerate(POSE_CHAIN):
                fwd[0, row, col, e], fwd[0, row, col, 16 + e] = owner[child, 1] - owner[parent, 1], owner[child, 0] - owner[parent, 0]
                bwd[0, row, col, e], bwd[0, row, col, 16 + e] = -fwd[0, row, col, e], -fwd[0, row, col, 16 + e]
    for i, person in enumerate(people):
        for k, (x, y) in enumerate(person):
            hm[0, int(round(y / stride)), int(round(x / stride)), k] = (heat or [3.0] * len(people))[i]
    return hm, off, fwd, bwd


def _person(x0: float, rng) -> np.ndarray:
    """17 keypoints within a 90-pixel-wide column starting at x0, spread down a 257-pixel input."""
    return np.stack([x0 + rng.uniform(0, 90, 17), rng.uniform(5, 250, 17)], axis=1).astype(np.float32)


def test_posenet_decodes_two_people_exactly():
    rng = np.random.default_rng(1)
    a, b = _person(5, rng), _person(165, rng)
    hm, off, fwd, bwd = _posenet_scene([a, b], heat=[3.0, 2.0])
    stride = output_stride_for((257, 257), (9, 9))
    assert stride == 32
    poses, scores = decode_posenet(hm, off, fwd, bwd, stride=stride, nms_radius=20)
    assert poses.shape == (2, 17, 3)
    assert poses[0, :, :2] == pytest.approx(a, abs=1e-3)  # the stronger person comes first
    assert poses[1, :, :2] == pytest.approx(b, abs=1e-3)
    assert scores == pytest.approx([1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(-2.0))], abs=1e-5)


def test_posenet_follows_displacements_from_a_lone_root():
    # Only the left ankle shows in the heatmaps: the whole body must come from displacements + offsets.
    rng = np.random.default_rng(2)
    a = _person(80, rng)
    hm, off, fwd, bwd = _posenet_scene([a])
    hm[..., :15] = -6.0
    hm[..., 16] = -6.0
    poses, scores = decode_posenet(hm, off, fwd, bwd, stride=32)
    assert len(poses) == 1
    assert poses[0, :, :2] == pytest.approx(a, abs=1e-3)
    assert poses[0, 15, 2] > 0.9 and poses[0, 0, 2] < 0.01
    assert scores[0] == pytest.approx(float(np.sum(poses[0, :, 2]) / 17))


def test_posenet_threshold_and_limits():
    rng = np.random.default_rng(3)
    hm, off, fwd, bwd = _posenet_scene([_person(5, rng), _person(165, rng)])
    assert decode_posenet(hm, off, fwd, bwd, stride=32, max_poses=1)[0].shape == (1, 17, 3)
    empty, s = decode_posenet(hm, off, fwd, bwd, stride=32, score_threshold=0.99)
    assert empty.shape == (0, 17, 3) and s.shape == (0,)
    with pytest.raises(MetadataError, match="displacements_fwd must have shape"):
        decode_posenet(hm, off, fwd[..., :30], bwd, stride=32)


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_keypoints_map_to_frame_pixels(resize):
    if resize == "stretch":
        t = Transform((640, 480), (192, 192), 192 / 640, 192 / 480)
    else:  # 640x480 letterboxed into 192x192: scale 0.3, 192x144, 24 rows of padding on top
        t = Transform((640, 480), (192, 192), 0.3, 0.3, 0.0, 24.0)
    kp = np.array([[96.0, 96.0, 0.5], [0.0, 24.0 if resize == "letterbox" else 0.0, 0.7]], np.float32)
    out = keypoints_to_frame(kp, t)
    assert out[0].tolist() == pytest.approx([320.0, 240.0, 0.5])
    assert out[1].tolist() == pytest.approx([0.0, 0.0, 0.7])


def test_json_and_renderer_on_a_hand_made_pose():
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, :, 0] = np.linspace(10, 90, 17)
    kp[0, :, 1] = 50
    kp[0, :, 2] = 0.9
    kp[0, 16, 2] = 0.05  # hidden right ankle: not drawn
    result = Poses(kp, [0.8], boxes=[[5, 5, 95, 95]])
    line = adapter_for("pose").to_json(result)
    assert line["poses"][0]["score"] == 0.8 and line["poses"][0]["box"] == [5.0, 5.0, 95.0, 95.0]
    assert line["poses"][0]["keypoints"][16] == [90.0, 50.0, 0.05]
    frame = np.zeros((100, 100, 3), np.uint8)
    drawn = draw_skeletons(frame, result)
    assert drawn[50, 10].any() and not drawn[50, 97].any()
    with pytest.raises(ValueError, match="boxes"):
        Poses(kp, [0.8], boxes=np.zeros((2, 4)))


def test_the_keypoint_threshold_is_a_rendering_option():
    """Joints below ``keypoint_score`` are left undrawn; the result itself keeps every keypoint and its score."""
    from edge.tasks.pose import NUM_KEYPOINTS

    kp = np.zeros((1, NUM_KEYPOINTS, 3), np.float32)
    kp[0, :, 0], kp[0, :, 1], kp[0, :, 2] = np.linspace(10, 90, NUM_KEYPOINTS), 50, 0.4
    result = Poses(kp, [0.8])
    frame = np.zeros((100, 100, 3), np.uint8)
    adapter = adapter_for("pose")
    assert (adapter.render(frame, result) != 0).any()  # default 0.2: drawn
    assert (adapter.render(frame, result, {"keypoint_score": 0.5}) == 0).all()  # above the scores: nothing
    assert result.keypoints[0, 0, 2] == pytest.approx(0.4)
