"""MediaPipe landmark models top-down on detectors: the rotated-crop geometry on synthetic points, then hand,
face-mesh and BlazePose chains from a pipeline TOML on the zoo files against MediaPipe's answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edge.rotated_rect import RotatedRect, crop, rotation_from_points, transform_rect
from edge.tasks.landmarks import FAMILIES, project, roi_for_detection

# ------------------------------------------------------------------------------------ geometry


def test_rotated_rect_round_trip_on_random_points():
    rng = np.random.default_rng(3)
    for _ in range(20):
        rect = RotatedRect(*rng.uniform(50, 400, 2), *rng.uniform(20, 300, 2), rng.uniform(-math.pi, math.pi))
        xy = rng.uniform(0, 500, (50, 2))
        assert np.allclose(rect.to_frame(rect.from_frame(xy)), xy, atol=1e-3)
    rect = RotatedRect(100, 50, 40, 20, math.pi / 2)  # turned a quarter clockwise: the top edge faces right
    assert rect.to_frame(np.array([0.5, 0.0])).tolist() == pytest.approx([110, 50])
    assert rect.to_frame(np.array([1.0, 0.5])).tolist() == pytest.approx([100, 70])


def test_crop_puts_a_frame_point_where_the_rect_says():
    frame = np.zeros((300, 400, 3), np.uint8)
    rect = RotatedRect(200, 150, 120, 120, math.radians(30))
    for uv in ([0.25, 0.3], [0.8, 0.6]):
        x, y = (int(round(v)) for v in rect.to_frame(np.array(uv)))
        frame[:] = 0
        frame[y - 1:y + 2, x - 1:x + 2] = 255
        out = crop(frame, rect, (96, 96))
        row, col = np.unravel_index(np.argmax(out[..., 0]), out.shape[:2])
        assert abs(col - uv[0] * 96) <= 1.5 and abs(row - uv[1] * 96) <= 1.5
    assert crop(frame, RotatedRect(-500, -500, 10, 10), (8, 8)).max() == 0  # outside the frame: zero border


def test_rotation_and_rect_transformation_follow_mediapipe():
    # the palm's wrist -> middle-finger vector points right; the crop turns so that it points up in the crop
    assert rotation_from_points((0, 0), (10, 0), 90.0) == pytest.approx(math.pi / 2)
    assert rotation_from_points((0, 0), (0, -10), 90.0) == pytest.approx(0.0)
    assert rotation_from_points((0, 0), (10, 0), 0.0) == pytest.approx(0.0)  # face: eyes level
    rect = transform_rect(RotatedRect(100, 100, 40, 20, math.pi / 2), scale_x=2.0, scale_y=2.0, shift_y=-0.5,
                          square_long=True)
    # shift_y -0.5 moves half the height towards the crop's top, which faces right in the frame
    assert (rect.cx, rect.cy, rect.width, rect.height) == pytest.approx((110, 100, 80, 80))


def test_roi_from_palm_keypoints_and_from_a_bare_box():
    hand = FAMILIES["hand"]
    kps = np.zeros((7, 3), np.float32)
    kps[0, :2], kps[2, :2] = (50, 100), (50, 60)  # wrist below the middle finger: upright hand
    rect = roi_for_detection(hand, (30, 60, 70, 100), kps)
    assert rect.rotation == pytest.approx(0.0)
    assert (rect.cx, rect.cy, rect.width) == pytest.approx((50, 60, 104))  # shifted up half a box, x2.6
    bare = roi_for_detection(FAMILIES["pose"], (0, 0, 100, 200), None)
    assert (bare.cx, bare.cy, bare.width, bare.height, bare.rotation) == pytest.approx((50, 100, 250, 250, 0))
    pts = np.array([[0.5, 0.5, 0.1], [0.0, 0.0, 0.0]], np.float32)
    assert np.allclose(project(bare, pts), [[50, 100, 25], [-75, -25, 0]])


def test_roi_from_the_person_detectors_alignment_points():
    kps = np.zeros((4, 3), np.float32)
    kps[0, :2], kps[1, :2] = (100, 200), (130, 200)  # hips centre, and the body-size point to its right
    rect = roi_for_detection(FAMILIES["pose"], (0, 0, 10, 10), kps)  # the box itself is not used
    assert (rect.cx, rect.cy, rect.width, rect.height) == pytest.approx((100, 200, 75, 75))  # 2 x 30 x 1.25
    assert rect.rotation == pytest.approx(math.pi / 2)  # the hips -> point vector becomes the crop's up
    face = np.zeros((6, 3), np.float32)
    face[0, :2], face[1, :2] = (40, 50), (60, 70)  # right eye, left eye: the eye line falls 45 degrees
    rect = roi_for_detection(FAMILIES["face_mesh"], (30, 40, 70, 90), face)
    assert rect.rotation == pytest.approx(math.radians(45)) and rect.width == pytest.approx(75)  # turned with it


# ------------------------------------------------------------------------------------ zoo, pipeline TOML


def _chain(zoo, tmp_path, cli, images, detector, landmarks, on, extra=""):
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    for name in images:
        (folder / name).symlink_to(zoo / "images" / name)
    jsonl = tmp_path / "out.jsonl"
    toml = tmp_path / "pipeline.toml"
    toml.write_text(f'source = "file://{folder}"\nsinks = ["jsonl://{jsonl}", "file://{tmp_path}/annotated/"]\n'
                    f'[[model]]\npath = "{zoo / "models" / detector}"\nname = "det"\nscore = 0.5\n{extra}'
                    f'[[model]]\npath = "{zoo / "models" / landmarks}"\nname = "lm"\non = "{on}"\n')
    proc = cli("run", "--config", str(toml), "--quiet", "--threads", "1", timeout=180)
    assert proc.returncode == 0, proc.stderr
    records = {r["source"]: r for r in (json.loads(line) for line in jsonl.read_text().splitlines())}
    assert sorted(p.name for p in (tmp_path / "annotated").iterdir()) == sorted(images)
    return {name: [c["landmarks"] for c in rec["models"]["lm"]["crops"]] for name, rec in records.items()}


def _errors_px(points, expected_norm, image_wh) -> np.ndarray:
    got = np.array(points)[:, :2]
    want = np.array(expected_norm)[:, :2] * image_wh
    return np.hypot(*(got - want).T)


def test_hands_on_palms_match_mediapipe(zoo, tmp_path, cli):
    solutions = json.loads((zoo / "expected/mediapipe/hand_landmark_lite.solutions_hands_c0.json").read_text())
    tasks = json.loads((zoo / "expected/mediapipe/hand_landmarker_lite.mediapipe.json").read_text())["results"]
    got = _chain(zoo, tmp_path, cli, list(solutions["results"]), "palm_detection_lite.tflite",
                 "hand_landmark_lite.tflite", "det:palm")
    for image, want in solutions["results"].items():
        hands = got[image]
        assert len(hands) == len(want["hands"]), f"{image}: {len(hands)} hands, upstream {len(want['hands'])}"
        for mine, theirs, task_hand in zip(hands, want["hands"], tasks[image]["hands"]):
            assert len(mine["points"]) == 21
            # the same graph as Solutions (palm lite + hand lite): the same crop, so the same points
            assert _errors_px(mine["points"], theirs["landmarks_xyz_norm"], want["image_wh"]).max() <= 1.0
            assert mine["handedness"] == theirs["handedness"]
            # Tasks 1.2.3 cuts its crops a little differently: within the keypoint tolerance
            assert _errors_px(mine["points"], task_hand["landmarks_xyz_norm"], want["image_wh"]).max() <= 25


def test_face_mesh_on_blazeface_matches_solutions(zoo, tmp_path, cli):
    want = json.loads((zoo / "expected/mediapipe/face_landmark.solutions_facemesh.json").read_text())["results"]
    got = _chain(zoo, tmp_path, cli, ["sergey.png", "astronaut.png"], "face_detection_full_range.tflite",
                 "face_landmark.tflite", "det")
    for image in ("sergey.png", "astronaut.png"):
        (face,) = got[image]
        assert len(face["points"]) == 468 and face["score"] >= 0.5
        # upstream's crop came from the short-range detector (not in the zoo), ours from the full-range one
        err = _errors_px(face["points"], want[image]["faces"][0]["landmarks_xyz_norm"], want[image]["image_wh"])
        assert err.max() <= 25 and err.mean() <= 5, f"{image}: max {err.max():.1f} px, mean {err.mean():.1f}"


def test_blazepose_on_person_boxes_matches_solutions(zoo, tmp_path, cli):
    want = json.loads((zoo / "expected/mediapipe/pose_landmark_full.solutions_pose_c1.json").read_text())["results"]
    images = ["pose_image1.png", "pose_image2.jpeg", "pose_image3.jpeg"]
    # the BlazePose person detector is not in the zoo: the crop comes from the SSD's person box
    got = _chain(zoo, tmp_path, cli, images, "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite",
                 "pose_landmark_full.tflite", "det:person", "max_boxes = 1\n")
    for image in images:
        (pose,) = got[image]
        assert len(pose["points"]) == 33 and len(pose["visibility"]) == 33
        err = _errors_px(pose["points"], want[image]["landmarks_xyzv_norm"], want[image]["image_wh"])
        assert err.max() <= 25, f"{image}: landmarks up to {err.max():.1f} px from upstream's"


def test_face_mesh_on_a_whole_close_up_frame(zoo, tmp_path, cli):
    want = json.loads((zoo / "expected/mediapipe/face_landmark.solutions_facemesh.json").read_text())["results"]
    jsonl = tmp_path / "out.jsonl"
    proc = cli("run", "--model", str(zoo / "models/face_landmark.tflite"), "--source", str(zoo / "images/sergey.png"),
               "--sink", f"jsonl://{jsonl}", "--quiet")
    assert proc.returncode == 0, proc.stderr
    (record,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert record["task"] == "landmarks" and record["landmarks"]["family"] == "face_mesh"
    # the frame letterboxed as the crop (sergey.png is a face close-up): the nose tip within 5 px of upstream's
    err = _errors_px(record["landmarks"]["points"][1:2], want["sergey.png"]["faces"][0]["landmarks_xyz_norm"][1:2],
                     want["sergey.png"]["image_wh"])
    assert err.max() <= 5


def test_custom_op_face_mesh_is_refused_naming_the_op(zoo, tmp_path, cli):
    (tmp_path / "sergey.png").symlink_to(zoo / "images/sergey.png")
    proc = cli("run", "--model", str(zoo / "models/face_landmark_with_attention_CUSTOMOP_NEGATIVE.tflite"),
               "--source", str(tmp_path / "sergey.png"), "--quiet")
    assert proc.returncode == 2
    assert "custom op 'Landmarks2TransformMatrix'" in proc.stderr and "Traceback" not in proc.stderr
