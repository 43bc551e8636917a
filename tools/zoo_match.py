"""How closely `edge` reproduces upstream's answers on the first zoo set, family by family (docs/models.md).

    python -m tools.zoo_match [--zoo ../shared/zoo]

Every model runs through the normal path (recognition table -> Engine.run -> the task's decode) with the
plan `edge info` prints; each line compares with the answer upstream publishes in the zoo (README there):
SSD boxes on cats_and_dogs.jpg, Coral's MoveNet keypoints on squat.bmp and tensorflow/examples' truth file,
the DeepLab golden masks, Coral's classifier labels. For classifiers it also re-runs Coral's own
preprocessing (PIL ANTIALIAS resize) on the same interpreter, and shows how far our bilinear and area
downscales land from it. Zero-DCE has no published output: it reports PSNR to the original of a darkened
image, before and after.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path

import cv2
import numpy as np

from edge.engine import Engine
from edge.metadata import read_labels
from edge.tasks import adapter_for

SSD_EXPECTED = [("cat", 0.64, 54, 396, 393, 196), ("cat", 0.61, 602, 157, 394, 447),
                ("cat", 0.56, 259, 394, 181, 209), ("dog", 0.50, 387, 197, 281, 409)]


def _iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _plan(engine: Engine) -> str:
    p = engine.info.plan
    return f"[{p.family}: {p.resize.describe()}]"


def ssd(zoo: Path) -> list[str]:
    engine = Engine(zoo / "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite", threads=2)
    dets, _ = engine.run_frame(cv2.imread(str(zoo / "images/cats_and_dogs.jpg")), adapter_for("detect"), {"score": 0.45})
    ious, dscores = [], []
    for label, score, x, y, w, h in SSD_EXPECTED:
        cands = [i for i in range(len(dets)) if dets.label(i) == label]
        best = max(cands, key=lambda i: _iou(dets.boxes[i], (x, y, x + w, y + h)))
        ious.append(_iou(dets.boxes[best], (x, y, x + w, y + h)))
        dscores.append(abs(float(dets.scores[best]) - score))
    return [f"ssd_postprocess {_plan(engine)}: cats_and_dogs.jpg, {len(SSD_EXPECTED)} upstream boxes found, "
            f"IoU min {min(ious):.3f}, |score - upstream| max {max(dscores):.3f}; {len(dets)} detections >= 0.45"]


def movenet(zoo: Path) -> list[str]:
    engine = Engine(zoo / "models/movenet_single_pose_lightning_ptq.tflite", threads=2)
    frame = cv2.imread(str(zoo / "images/squat.bmp"))
    h, w = frame.shape[:2]
    poses, _ = engine.run_frame(frame, adapter_for("pose"), {})
    with open(zoo / "expected/movenet_single_pose_lightning_ptq_reference.csv", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: int(r["keypoint_id"]))
    ref = np.array([[float(r["keypoint_x"]) * w, float(r["keypoint_y"]) * h] for r in rows])
    err = (np.abs(poses.keypoints[0, :, :2] - ref) / [w, h]).max()
    lines = [f"movenet_single {_plan(engine)}: squat.bmp vs Coral's reference: max error {err:.4f} of the image "
             f"size (tests/tasks/test_edge_pose.py accepts 0.03)"]
    truth = [list(map(float, line.split(","))) for line in
             (zoo / "expected/pose_landmark_truth_tfexamples.csv").read_text().splitlines()[1:] if line.strip()]
    for name, row in zip(("pose_image1.png", "pose_image2.jpeg"), truth):
        poses, _ = engine.run_frame(cv2.imread(str(zoo / "images" / name)), adapter_for("pose"), {})
        linf = np.abs(poses.keypoints[0, :, :2] - np.array(row[-34:]).reshape(17, 2)).max()
        lines.append(f"movenet_single: {name} vs tensorflow/examples truth: L-inf {linf:.1f} px (upstream accepts 21 px "
                     f"for the float16 model)")
    return lines


def deeplab(zoo: Path) -> list[str]:
    out = []
    engine = Engine(zoo / "models/deeplabv3_257_mv_gpu.tflite", threads=2)
    golden = cv2.imread(str(zoo / "expected/segmentation_golden_rotation0.png"), cv2.IMREAD_UNCHANGED) // 10
    seg, _ = engine.run_frame(cv2.imread(str(zoo / "images/segmentation_input_rotation0.jpg")), adapter_for("segment"), {})
    out.append(f"deeplab {_plan(engine)}: deeplabv3_257 vs tflite-support golden mask: "
               f"{100 * np.mean(seg.class_map == golden):.2f} % of pixels agree")
    engine = Engine(zoo / "models/deeplabv3_mnv2_pascal_quant.tflite", threads=2)
    expected = cv2.imread(str(zoo / "expected/bird_segmentation_mask.bmp"), cv2.IMREAD_GRAYSCALE)
    seg, _ = engine.run_frame(cv2.imread(str(zoo / "images/bird_segmentation.bmp")), adapter_for("segment"), {})
    equal = int(np.sum(seg.class_map == expected))
    out.append(f"deeplab: deeplabv3_mnv2_pascal_quant vs Coral's mask: array IoU {equal / (2 * expected.size - equal):.4f} "
               f"(upstream accepts > 0.90)")
    return out


def selfie(zoo: Path) -> list[str]:
    """MediaPipe ImageSegmenter's category masks (0 = person) for the selfie landscape model (second set)."""
    engine = Engine(zoo / "models/selfie_segmentation_landscape.tflite", threads=2)
    agree, ious = [], []
    names = ("pose_image1.png", "pose_image2.jpeg", "pose_image3.jpeg", "astronaut.png", "classroom_f20.png",
             "store_aisle_f66.png", "table.jpg")
    for name in names:
        seg, _ = engine.run_frame(cv2.imread(str(zoo / "images" / name)), adapter_for("segment"), {})
        stem = name.rsplit(".", 1)[0]
        up = cv2.imread(str(zoo / f"expected/mediapipe/masks/selfie_landscape__{stem}_category.png"),
                        cv2.IMREAD_GRAYSCALE) == 0
        ours = seg.class_map == 1
        agree.append(float(np.mean(ours == up)))
        if up.any():
            ious.append(float((ours & up).sum() / (ours | up).sum()))
    return [f"selfie_segmenter {_plan(engine)}: {len(names)} images vs MediaPipe ImageSegmenter: pixels agree "
            f"min {100 * min(agree):.2f} %, person IoU min {min(ious):.3f} over the {len(ious)} images with a person"]


def classifier(zoo: Path) -> list[str]:
    engine = Engine(zoo / "models/mobilenet_v2_1.0_224_quant.tflite", threads=2)
    engine.info = engine.info.with_overrides(labels=read_labels(zoo / "labels/imagenet_labels.txt"),
                                             labels_source="imagenet_labels.txt")
    base = engine.info
    try:
        from PIL import Image
    except ImportError:
        Image = None
    out, diffs = [], {"linear": [], "area": []}
    for name, want in (("grace_hopper.bmp", "military uniform"), ("cat.bmp", "Egyptian cat"),
                       ("fox.jpeg", None), ("chelsea.png", None), ("coffee.png", None)):
        frame = cv2.imread(str(zoo / "images" / name))
        for scale in (1, 4):
            f = frame if scale == 1 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            upstream = None
            if Image is not None:  # pycoral classify_image.py: PIL resize with ANTIALIAS, raw uint8 pixels
                pil = Image.fromarray(f[..., ::-1]).resize(engine.input_size, Image.LANCZOS)
                raw = engine.infer(np.asarray(pil, np.uint8)[None])
                upstream = next(iter(raw.values())).reshape(-1)
            parts = []
            for interp in ("linear", "area"):
                engine.info = dataclasses.replace(base, input=dataclasses.replace(base.input, interpolation=interp))
                res, _ = engine.run_frame(f, adapter_for("classify"), {})
                text = f"{interp}: {res.names[0]} {res.scores[0]:.3f}"
                if upstream is not None:
                    scores = next(iter(engine.run(f).outputs.values())).reshape(-1)
                    diffs[interp].append(float(np.abs(scores - upstream).max()))
                    text += f" (max |score - PIL ANTIALIAS| {diffs[interp][-1]:.3f})"
                parts.append(text)
            engine.info = base
            top = f"; upstream label {want}" if want and scale == 1 else ""
            pil_top = f"; PIL ANTIALIAS top-1 {base.labels[int(np.argmax(upstream))]}" if upstream is not None else ""
            out.append(f"classifier: {name} {f.shape[1]}x{f.shape[0]}: " + " | ".join(parts) + pil_top + top)
    if diffs["area"]:
        closer = sum(a < b for a, b in zip(diffs["area"], diffs["linear"]))
        out.append(f"classifier {_plan(engine)}: over {len(diffs['area'])} frames, max |score - PIL ANTIALIAS| "
                   f"mean {np.mean(diffs['linear']):.3f} with bilinear, {np.mean(diffs['area']):.3f} with area; "
                   f"area closer on {closer}")
    return out


def zero_dce(zoo: Path) -> list[str]:
    engine = Engine(zoo / "models/lite-model_zero-dce_1.tflite", threads=2)
    rng = np.random.default_rng(0)
    out = []
    for name in ("grace_hopper.bmp", "cat.bmp"):
        original = cv2.imread(str(zoo / "images" / name)).astype(np.float32)
        dark = np.clip(original * 0.15 + rng.normal(0, 2, original.shape), 0, 255).astype(np.uint8)
        result, _ = engine.run_frame(dark, adapter_for("enhance"), {})

        def psnr(img):
            return 10 * np.log10(255.0 ** 2 / np.mean((img.astype(np.float32) - original) ** 2))

        out.append(f"zero_dce {_plan(engine)}: {name} darkened x0.15: PSNR to the original {psnr(dark):.1f} dB -> "
                   f"{psnr(result.image):.1f} dB after enhancement")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "zoo"))
    args = p.parse_args(argv)
    zoo = Path(args.zoo)
    for part in (ssd, movenet, deeplab, selfie, classifier, zero_dce):
        for line in part(zoo):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
