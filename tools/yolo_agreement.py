"""How closely ``edge run`` agrees with Ultralytics (and YOLOv5 detect.py) on every YOLO file of ../shared/zoo.

    PYTHONPATH=. python tools/yolo_agreement.py [--zoo ../shared/zoo] [--markdown]

For each model: ``python -m edge run`` over the images of its expected file (the same call the zoo tests make),
then per upstream detection scoring >= 0.5 the same-class match and its box IoU, score difference, keypoint
error (upstream conf > 0.5) and instance-mask IoU (as tests/edge/yolo_oracle.py judges them), and the number of
extra detections of ours scoring >= 0.6. Prints one line (or Markdown table row) per model.
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
sys.path.insert(0, str(REPO))

from edge.boxes import iou_matrix  # noqa: E402
from tests.edge.yolo_oracle import (YOLO_MODELS, box_iou_needed, keypoint_problems, mask_problems, match,  # noqa: E402
                                    read_instances, read_jsonl)


def run_model(zoo: Path, stem: str, work: Path) -> tuple[dict, dict]:
    expected = json.loads((zoo / "expected/yolo" / YOLO_MODELS[stem]).read_text())
    images = work / stem
    images.mkdir()
    for name in expected["results"]:
        (images / name).symlink_to(zoo / "images" / name)
    out = work / f"{stem}.jsonl"
    cmd = [sys.executable, "-m", "edge", "run", "--model", str(zoo / "models" / f"{stem}.tflite"),
           "--source", f"file://{images}/", "--sink", f"jsonl://{out}", "--threads", "1", "--quiet"]
    if "anchors" in stem:
        cmd += ["--labels", str(zoo / "labels/coco80_ultralytics.txt")]
    subprocess.run(cmd, check=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True)
    return expected, read_jsonl(out)


def measure(zoo: Path, stem: str, expected: dict, ours: dict) -> dict:
    ious, dscores, kp_worst, mask_ious, extras, problems = [], [], 0.0, [], 0, 0
    n_up = n_ours = 0
    for image, res in expected["results"].items():
        up, me = res["detections"], ours[image]
        n_up, n_ours = n_up + len(up), n_ours + len(me)
        pairs, bad = match(up, me, box_iou_needed(stem))
        problems += len(bad)
        extras += sum(1 for b in bad if b.startswith("extra"))
        for j, k in pairs.items():
            ious.append(float(iou_matrix(np.array(up[j]["xyxy"]), np.array(me[k]["box"]))[0, 0]))
            dscores.append(abs(up[j]["score"] - me[k]["score"]))
        if up and "keypoints_xy" in up[0]:
            worst, bad = keypoint_problems(up, me, pairs)
            kp_worst, problems = max(kp_worst, worst), problems + len(bad)
        png = zoo / "expected/yolo/masks" / f"{stem}__{Path(image).stem}_instances.png"
        if png.exists():
            instances = read_instances(png)
            for j, k in pairs.items():
                one, bad = mask_problems(up, me, {j: k}, instances)
                problems += len(bad)
                if (instances == j + 1).sum() >= max(100, 0.5 * up[j]["mask_area_orig_px"]):
                    mask_ious.append(one)
    return {"model": stem, "images": len(expected["results"]), "upstream": n_up, "ours": n_ours,
            "matched": len(ious), "box_iou_min": min(ious), "box_iou_median": float(np.median(ious)),
            "score_diff_max": max(dscores), "extra": extras, "keypoint_px_max": kp_worst or None,
            "mask_iou_min": min(mask_ious) if mask_ious else None,
            "mask_iou_median": float(np.median(mask_ious)) if mask_ious else None, "problems": problems}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", type=Path, default=REPO.parent / "shared" / "zoo")
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for stem in YOLO_MODELS:
            rows.append(measure(args.zoo, stem, *run_model(args.zoo, stem, Path(tmp))))
    if args.markdown:
        print("| model | images | upstream / ours dets | matched (>= 0.5) | box IoU min / median | max |Δscore| "
              "| extra >= 0.6 | keypoints max px | mask IoU min / median |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            kp = f"{r['keypoint_px_max']:.1f}" if r["keypoint_px_max"] else "-"
            mk = f"{r['mask_iou_min']:.3f} / {r['mask_iou_median']:.3f}" if r["mask_iou_min"] is not None else "-"
            print(f"| `{r['model']}` | {r['images']} | {r['upstream']} / {r['ours']} | {r['matched']} | "
                  f"{r['box_iou_min']:.3f} / {r['box_iou_median']:.3f} | {r['score_diff_max']:.3f} | {r['extra']} | "
                  f"{kp} | {mk} |")
    else:
        for r in rows:
            print(json.dumps(r))
    return 1 if any(r["problems"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
