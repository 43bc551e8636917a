"""The upstream answers of ../shared/zoo that no other test reads, through ``python -m edge run``:

- tensorflow/examples' MoveNet truth (``pose_landmark_truth_tfexamples.csv``) and the answer its own wrapper gives
  for the zoo's int8 MoveNet (``movenet_single_pose_lightning_ptq.tfexamples_movenet.json``);
- MediaPipe Solutions' FaceDetection on the sparse full-range BlazeFace (``..._solutions_facedetection_ms1.json``);
- MediaPipe Tasks' HandLandmarker with the full palm detector (``hand_landmarker_palmfull_landmarklite``), as a
  pipeline TOML chain.

A last test keeps it so: every expected file in the zoo is read by some test.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.boxes import iou_matrix

pytestmark = pytest.mark.zoo

TESTS = Path(__file__).resolve().parents[1]


def _folder(zoo, tmp_path, names) -> Path:
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).symlink_to(zoo / "images" / name)
    return folder


def _records(jsonl: Path) -> dict[str, dict]:
    return {r["source"]: r for r in (json.loads(line) for line in jsonl.read_text().splitlines())}


# ------------------------------------------------------------------------------------ MoveNet, tensorflow/examples


def test_movenet_meets_tensorflow_examples_truth(zoo, tmp_path, cli):
    """Upstream's test accepts an L-inf error of 21 px from its truth file (for the float16 MoveNet). The zoo's
    int8 file through our plan meets it on both images; upstream's own wrapper on the same int8 file does not
    (63 px on image1), so we also ask to be no further from the truth than that wrapper."""
    truth_rows = [line for line in (zoo / "expected/pose_landmark_truth_tfexamples.csv").read_text().splitlines()[1:]
                  if line.strip()]
    wrapper = json.loads((zoo / "expected/movenet_single_pose_lightning_ptq.tfexamples_movenet.json").read_text())
    images = ["pose_image1.png", "pose_image2.jpeg"]  # rows 0 and 1 of the truth file
    jsonl = tmp_path / "movenet.jsonl"
    proc = cli("run", "--model", str(zoo / "models/movenet_single_pose_lightning_ptq.tflite"), "--source",
               f"file://{_folder(zoo, tmp_path, images)}/", "--sink", f"jsonl://{jsonl}", "--quiet", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    got = _records(jsonl)
    for image, row in zip(images, truth_rows):
        truth = np.array([float(v) for v in row.split(",")]).reshape(17, 2)
        (pose,) = got[image]["poses"]
        ours = np.array(pose["keypoints"])[:, :2]
        linf = np.abs(ours - truth).max()
        assert linf <= 21, f"{image}: L-inf {linf:.1f} px from tensorflow/examples' truth (upstream accepts 21)"
        theirs = np.array(wrapper["results"][image]["keypoints_x_y_score_px"])[:, :2]
        assert linf <= np.abs(theirs - truth).max(), image


# ------------------------------------------------------------------------------------ BlazeFace, Solutions


def test_sparse_blazeface_matches_mediapipe_solutions(zoo, tmp_path, cli):
    """FaceDetection(model_selection=1) runs this same file; its legacy graph keeps faces from 0.6, so every
    Solutions face must be ours (IoU >= 0.7, score within 0.05, 6 keypoints within 25 px) and none of ours
    scoring >= 0.6 may be missing from it."""
    answers = "face_detection_full_range_sparse.solutions_facedetection_ms1.json"
    expected = json.loads((zoo / "expected/mediapipe" / answers).read_text())["results"]
    jsonl = tmp_path / "faces.jsonl"
    proc = cli("run", "--model", str(zoo / "models/face_detection_full_range_sparse.tflite"), "--source",
               f"file://{_folder(zoo, tmp_path, expected)}/", "--sink", f"jsonl://{jsonl}", "--quiet",
               "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    got = _records(jsonl)
    found = 0
    for image, want in expected.items():
        w, h = want["image_wh"]
        dets = got[image]["detections"]
        boxes = np.array([d["box"] for d in dets], np.float32).reshape(-1, 4)
        used = set()
        for face in want["detections"]:
            x, y, bw, bh = np.array(face["rel_bbox_xywh"]) * [w, h, w, h]
            ious = iou_matrix(np.array([x, y, x + bw, y + bh], np.float32), boxes)[0] if len(dets) else np.zeros(1)
            j = int(np.argmax(ious))
            assert ious[j] >= 0.7 and j not in used, f"{image}: Solutions' face {face['rel_bbox_xywh']} not found"
            assert dets[j]["score"] == pytest.approx(face["score"], abs=0.05)
            err = np.hypot(*(np.array(dets[j]["keypoints"])[:, :2] - np.array(face["keypoints_xy_norm"]) * [w, h]).T)
            assert err.max() <= 25, f"{image}: keypoints {err.max():.1f} px from Solutions'"
            used.add(j)
            found += 1
        extra = [d for i, d in enumerate(dets) if i not in used and d["score"] >= 0.6]
        assert not extra, f"{image}: faces Solutions does not have: {extra}"
    assert found == 4


# ------------------------------------------------------------------------------------ hands, palm full + hand lite


def _hand_px(hand, image_wh) -> np.ndarray:
    return np.array(hand["landmarks_xyz_norm"])[:, :2] * image_wh


def _hand_tolerance(image_wh) -> float:
    """MediaPipe's two APIs, on the same palm lite + hand lite files, put hagrid_call's landmarks 18.6 px apart on
    a 512-px image (0.036 of its long side, zoo README: 'Tasks and Solutions disagree'): a landmark error is
    judged against max(25 px, 0.04 of the image's long side), which on the 3024x4032 photo is 161 px."""
    return max(25.0, 0.04 * max(image_wh))


def test_hands_on_full_palms_match_mediapipe_tasks(zoo, tmp_path, cli):
    """Every hand Tasks finds with palm_detection_full + hand_landmark_lite is ours within the tolerance, and every
    hand of ours with presence >= 0.6 is a hand MediaPipe reports on that image: Tasks with this pair rejects
    the hands of hagrid_call and pose_image3, which the same landmark model finds from the lite palms (Tasks and
    Solutions both), so those answers count too."""
    base = zoo / "expected/mediapipe"
    full = json.loads((base / "hand_landmarker_palmfull_landmarklite.mediapipe.json").read_text())["results"]
    others = [json.loads((base / name).read_text())["results"] for name in
              ("hand_landmarker_lite.mediapipe.json", "hand_landmark_lite.solutions_hands_c0.json")]
    folder = _folder(zoo, tmp_path, full)
    jsonl = tmp_path / "hands.jsonl"
    toml = tmp_path / "pipeline.toml"
    toml.write_text(f'source = "file://{folder}/"\nsinks = ["jsonl://{jsonl}"]\n'
                    f'[[model]]\npath = "{zoo / "models/palm_detection_full.tflite"}"\nname = "palm"\nscore = 0.5\n'
                    f'[[model]]\npath = "{zoo / "models/hand_landmark_lite.tflite"}"\nname = "hand"\non = "palm"\n')
    proc = cli("run", "--config", str(toml), "--quiet", "--threads", "1", timeout=180)
    assert proc.returncode == 0, proc.stderr
    got = _records(jsonl)
    matched = 0
    for image, want in full.items():
        wh, tol = want["image_wh"], _hand_tolerance(want["image_wh"])
        hands = [c["landmarks"] for c in got[image]["models"]["hand"]["crops"]]
        assert all(len(h["points"]) == 21 for h in hands)
        mine = [np.array(h["points"])[:, :2] for h in hands]
        used = set()
        for hand in want["hands"]:
            errs = [np.hypot(*(m - _hand_px(hand, wh)).T).max() if i not in used else np.inf
                    for i, m in enumerate(mine)]
            best = int(np.argmin(errs)) if errs else -1
            assert errs and errs[best] <= tol, f"{image}: Tasks' hand not found within {tol:.0f} px ({errs})"
            used.add(best)
            matched += 1
        mediapipe_hands = [_hand_px(hand, wh) for answers in others for hand in answers[image]["hands"]]
        for i, (h, m) in enumerate(zip(hands, mine)):
            if i in used or h["score"] < 0.6:
                continue
            near = [np.hypot(*(m - p).T).max() for p in mediapipe_hands]
            assert near and min(near) <= tol, f"{image}: a hand ({h['score']}) no MediaPipe answer has ({near})"
    assert matched == 2  # hand_victory (the 12 MP photo) and hagrid_four


# ------------------------------------------------------------------------------------ selfie, ImageSegmenter


def test_selfie_segmenter_through_the_cli_matches_image_segmenter(zoo, tmp_path, cli):
    """selfie_segmentation_landscape.mediapipe.json's images through ``edge run`` with a masks:// sink: our class
    map (1 = person) against ImageSegmenter's category PNG (0 = person) and the JSON's person fraction.
    MediaPipe's own float paths (its GPU-style resize of the mask) leave edge pixels apart: 98.5 % must agree."""
    answers = json.loads((zoo / "expected/mediapipe/selfie_segmentation_landscape.mediapipe.json").read_text())
    expected = answers["results"]
    jsonl, masks = tmp_path / "selfie.jsonl", tmp_path / "masks"
    proc = cli("run", "--model", str(zoo / "models/selfie_segmentation_landscape.tflite"), "--source",
               f"file://{_folder(zoo, tmp_path, expected)}/", "--sink", f"jsonl://{jsonl}", "--sink",
               f"masks://{masks}", "--quiet", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert set(_records(jsonl)) == set(expected)
    for image, want in expected.items():
        ours = cv2.imread(str(masks / f"{Path(image).stem}.png"), cv2.IMREAD_UNCHANGED) == 1
        upstream = cv2.imread(str(zoo / "expected/mediapipe/masks" / want["category_mask_png"]), cv2.IMREAD_GRAYSCALE) == 0
        assert ours.shape == upstream.shape == tuple(want["mask_hw"]), image
        assert np.mean(ours == upstream) >= 0.985, image
        person = want["category_value_fractions"].get("0", 0.0)
        assert abs(ours.mean() - person) < 0.01, (image, ours.mean(), person)


# ------------------------------------------------------------------------------------ coverage


def test_every_expected_file_of_the_zoo_is_read_by_a_test(zoo):
    """By name, or as f"{model}.{suffix}" with the model named as a string; Ultralytics' reference-kernel runs by
    the stem in test_zoo_yolo's lists. The mask PNGs are read per image by the tests of their JSON files."""
    from .test_zoo_yolo import REFKERNEL_QUICK, REFKERNEL_SLOW

    sources = "\n".join(p.read_text() for p in TESTS.rglob("*.py"))
    expected = [p for p in (zoo / "expected").rglob("*") if p.is_file() and p.parent.name != "masks"]

    def read(p: Path) -> bool:
        stem, _, rest = p.name.partition(".")
        if rest == "refkernels_check.json":
            return stem in REFKERNEL_QUICK + REFKERNEL_SLOW
        return p.name in sources or (f'"{stem}"' in sources and f'.{rest}"' in sources)  # f"{model}.{rest}"

    missing = [str(p.relative_to(zoo)) for p in expected if not read(p)]
    assert not missing, f"expected answers no test reads: {missing}"


# ------------------------------------------------------------------------------------ BlazePose, detector keypoints


def _person_detector(path: Path, frame_wh, hips, top) -> Path:
    """A constant-output file shaped like MediaPipe's pose_detection.tflite (224 px, 2254 anchors, 12 values):
    one person whose alignment keypoints are ``hips`` (keypoint 0, the body centre) and ``top`` (keypoint 1, the
    end of the body-size radius, 'up'), written as the regressors MediaPipe's decoder reads back to those frame
    pixels through the letterbox. The zoo has no BlazePose detector; this stands in for its answer."""
    from edge.tasks import mediapipe_ssd as mp

    from .tflite_writer import build_model

    cfg = mp.KNOWN["pose_detection"]
    anchors = mp.generate_anchors(cfg)
    side = max(frame_wh)
    pad = ((side - frame_wh[0]) / 2, (side - frame_wh[1]) / 2)
    size = cfg.input_size[0]
    i = 1500
    ax, ay, aw, ah = anchors[i]

    def raw(x, y):
        return ((x + pad[0]) / side - ax) * size / aw, ((y + pad[1]) / side - ay) * size / ah

    regressors = np.zeros((1, cfg.num_anchors, cfg.num_coords), np.float32)
    scores = np.full((1, cfg.num_anchors, 1), -10.0, np.float32)
    radius = float(np.hypot(*(np.subtract(top, hips))))
    regressors[0, i, :4] = [*raw(*hips), 2 * radius / side * size / aw, 2 * radius / side * size / ah]
    for k, point in enumerate((hips, top, hips, top)):
        regressors[0, i, 4 + 2 * k: 6 + 2 * k] = raw(*point)
    scores[0, i, 0] = 5.0
    path.write_bytes(build_model([1, size, size, 3], {"regressors": regressors, "classificators": scores}))
    return path


def test_blazepose_on_person_detector_keypoints_matches_solutions_also_turned(zoo, tmp_path, cli):
    """pose_landmark_full chained (pipeline TOML, ``on = "det:person"``) on a BlazePose-detector-shaped file:
    the crop is the square around keypoint 0 with side 2 x 1.25 x its distance to keypoint 1, turned so that
    0 -> 1 points up. Upright and on the image turned a quarter clockwise (keypoints turned with it), the 33
    landmarks land within 25 px of Solutions Pose's (turned the same way)."""
    want = json.loads((zoo / "expected/mediapipe/pose_landmark_full.solutions_pose_c1.json").read_text())
    want = want["results"]["pose_image1.png"]
    w, h = want["image_wh"]
    upstream = np.array(want["landmarks_xyzv_norm"])[:, :2] * [w, h]
    hips, top = (208.0, 320.0), (208.0, 40.0)  # the body's centre and 280 px above it, read off the image
    image = cv2.imread(str(zoo / "images/pose_image1.png"))
    turn = lambda p: np.stack([h - np.asarray(p)[..., 1], np.asarray(p)[..., 0]], axis=-1)  # (x, y) -> (h - y, x)
    for name, frame, (c, t), expect, rotation in (
            ("upright", image, (hips, top), upstream, 0.0),
            ("turned", cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE), (turn(hips), turn(top)), turn(upstream),
             np.pi / 2)):
        folder = tmp_path / name
        folder.mkdir()
        cv2.imwrite(str(folder / "frame.png"), frame)
        detector = _person_detector(tmp_path / f"{name}_pose_detection.tflite", (frame.shape[1], frame.shape[0]),
                                    tuple(c), tuple(t))
        jsonl = tmp_path / f"{name}.jsonl"
        toml = tmp_path / f"{name}.toml"
        toml.write_text(f'source = "file://{folder}/"\nsinks = ["jsonl://{jsonl}"]\n'
                        f'[[model]]\npath = "{detector}"\nname = "det"\n'
                        f'[[model]]\npath = "{zoo / "models/pose_landmark_full.tflite"}"\nname = "lm"\n'
                        f'on = "det:person"\n')
        proc = cli("run", "--config", str(toml), "--quiet", "--threads", "1", timeout=120)
        assert proc.returncode == 0, proc.stderr
        (record,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
        (crop,) = record["models"]["lm"]["crops"]
        pose = crop["landmarks"]
        assert pose["rect"]["rotation"] == pytest.approx(rotation, abs=1e-3)
        assert pose["rect"]["width"] == pytest.approx(2 * 280 * 1.25, abs=0.5)
        err = np.hypot(*(np.array(pose["points"])[:, :2] - expect).T)
        assert len(err) == 33 and err.max() <= 25, f"{name}: landmarks up to {err.max():.1f} px from Solutions'"
