"""How close ``python -m edge run`` comes to MediaPipe's own answers on the zoo's MediaPipe files.

    python -m tools.mediapipe_match [--zoo ../shared/zoo]

Runs each detector and each detector -> landmark chain through the CLI (a pipeline TOML, JSON lines) on the
images of the matching ``expected/mediapipe/*.json`` and prints one table row per comparison: detections
(IoU, score and keypoint differences of matched faces/palms) and landmarks (max / mean pixel error).
The figures go to docs/models.md; tests/edge/test_mediapipe_*.py assert the same comparisons.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _run(chain: list[tuple[str, str, str]], images: list[str], zoo: Path, work: Path) -> dict[str, dict]:
    folder = work / "images"
    folder.mkdir(exist_ok=True)
    for p in folder.iterdir():
        p.unlink()
    for name in images:
        (folder / name).symlink_to(zoo / "images" / name)
    jsonl = work / "out.jsonl"
    lines = [f'source = "file://{folder}"', f'sinks = ["jsonl://{jsonl}"]']
    for path, name, extra in chain:
        lines += ["[[model]]", f'path = "{zoo / "models" / path}"', f'name = "{name}"', extra]
    (work / "p.toml").write_text("\n".join(lines) + "\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "edge", "run", "--config", str(work / "p.toml"), "--quiet",
                           "--threads", "1"], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return {r["source"]: r for r in (json.loads(line) for line in jsonl.read_text().splitlines())}


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def faces(zoo: Path, work: Path) -> None:
    for model in ("face_detection_full_range", "face_detection_full_range_sparse"):
        want = json.loads((zoo / f"expected/mediapipe/{model}.mediapipe.json").read_text())["results"]
        got = _run([(f"{model}.tflite", "det", "score = 0.5")], list(want), zoo, work)
        ious, dscore, dkp, extra, missed = [], [], [], 0, 0
        for image, w in want.items():
            dets = got[image]["detections"]
            used = set()
            for e in w["detections"]:
                x, y, bw, bh = e["bbox_xywh_px"]
                cand = [(_iou(d["box"], [x, y, x + bw, y + bh]), i) for i, d in enumerate(dets)]
                best, i = max(cand) if cand else (0.0, -1)
                if best < 0.7:
                    missed += 1
                    continue
                used.add(i)
                ious.append(best)
                dscore.append(abs(dets[i]["score"] - e["score"]))
                kp = np.array(dets[i]["keypoints"])[:, :2] - np.array(e["keypoints_xy_norm"]) * w["image_wh"]
                dkp.append(float(np.hypot(*kp.T).max()))
            extra += sum(1 for i, d in enumerate(dets) if i not in used and d["score"] >= 0.6)
        print(f"| {model} | FaceDetector (Tasks) | {len(ious)} faces on {len(want)} images, missed {missed}, "
              f"extra {extra} | IoU >= {min(ious):.3f} | score diff <= {max(dscore):.4f} | keypoints <= "
              f"{max(dkp):.2f} px |")


def _landmark_errors(crops, expected, image_wh):
    got = np.array(crops)[:, :2]
    return np.hypot(*(got - np.array(expected)[:, :2] * image_wh).T)


def hands(zoo: Path, work: Path) -> None:
    for palm, answers, field in (("palm_detection_lite", "hand_landmark_lite.solutions_hands_c0", "Solutions Hands c0"),
                                 ("palm_detection_lite", "hand_landmarker_lite.mediapipe", "HandLandmarker (Tasks)"),
                                 ("palm_detection_full", "hand_landmarker_palmfull_landmarklite.mediapipe",
                                  "HandLandmarker (Tasks)")):
        want = json.loads((zoo / f"expected/mediapipe/{answers}.json").read_text())["results"]
        got = _run([(f"{palm}.tflite", "palm", "score = 0.5"), ("hand_landmark_lite.tflite", "lm", 'on = "palm"')],
                   list(want), zoo, work)
        errs, counts = [], []
        for image, w in want.items():
            crops = [c["landmarks"] for c in got[image]["models"]["lm"]["crops"]]
            counts.append(f"{len(crops)}/{len(w['hands'])}")
            for hand in w["hands"]:
                e = [_landmark_errors(c["points"], hand["landmarks_xyz_norm"], w["image_wh"]) for c in crops]
                if e:
                    errs.append(min(e, key=lambda a: a.max()))
        flat = np.concatenate(errs) if errs else np.zeros(1)
        print(f"| {palm} + hand_landmark_lite | {field} | hands ours/upstream per image {' '.join(counts)} | "
              f"max {flat.max():.2f} px | mean {flat.mean():.2f} px |")


def face_mesh(zoo: Path, work: Path) -> None:
    want = json.loads((zoo / "expected/mediapipe/face_landmark.solutions_facemesh.json").read_text())["results"]
    for det in ("face_detection_full_range", "face_detection_full_range_sparse"):
        got = _run([(f"{det}.tflite", "face", "score = 0.5"), ("face_landmark.tflite", "lm", 'on = "face"')],
                   list(want), zoo, work)
        for image, w in want.items():
            crops = [c["landmarks"] for c in got[image]["models"]["lm"]["crops"]]
            if not w["faces"]:
                print(f"| {det} + face_landmark | {image} | upstream none (short-range detector), ours {len(crops)} |")
                continue
            e = _landmark_errors(crops[0]["points"], w["faces"][0]["landmarks_xyz_norm"], w["image_wh"])
            print(f"| {det} + face_landmark | {image} | max {e.max():.2f} px | mean {e.mean():.2f} px |")


def pose(zoo: Path, work: Path) -> None:
    want = json.loads((zoo / "expected/mediapipe/pose_landmark_full.solutions_pose_c1.json").read_text())["results"]
    got = _run([("coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite", "ssd", "score = 0.5"),
                ("pose_landmark_full.tflite", "lm", 'on = "ssd:person"\nmax_boxes = 1')], list(want), zoo, work)
    for image, w in want.items():
        crops = [c["landmarks"] for c in got[image]["models"]["lm"]["crops"]]
        if not w.get("landmarks_xyzv_norm"):
            print(f"| SSD person + pose_landmark_full | {image} | upstream none, ours {len(crops)} |")
            continue
        e = _landmark_errors(crops[0]["points"], w["landmarks_xyzv_norm"], w["image_wh"])
        print(f"| SSD person + pose_landmark_full | {image} | max {e.max():.1f} px | mean {e.mean():.1f} px |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", default=str(REPO.parent / "shared/zoo"))
    args = p.parse_args()
    zoo = Path(args.zoo).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        for part in (faces, hands, face_mesh, pose):
            part(zoo, Path(tmp))


if __name__ == "__main__":
    main()
