"""What the Ultralytics decoding costs next to the model itself, per zoo YOLO file.

    PYTHONPATH=. python benchmarks/yolo_decode_bench.py [--zoo ../shared/zoo] [--threads 1] [--repeat 5]

For each model, on three zoo images (a small crowded frame, a mid-size one, a 12 MP photo): median ms of
preprocessing (letterbox + quantization), invoke, decoding (NMS, keypoints, masks) and the JSON line (masks as
RLE), measured in one process side by side, with the detection count. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.engine import Engine  # noqa: E402
from edge.metadata import read_labels  # noqa: E402
from edge.tasks import adapter_for  # noqa: E402

MODELS = ("yolov8n_int8_320", "yolo11n_int8_nchw_litert", "yolo26n_int8_320_end2end", "yolov5nu_full_integer_quant",
          "yolov5n_uint8_anchors", "yolo11n-pose_int8", "yolo11n-seg_int8_nms", "yolov8n-seg_int8_nchw_litert")
IMAGES = ("classroom_f20.png", "coffee.png", "hand_victory.jpg")


def median_ms(fn, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times)), value


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", type=Path, default=REPO.parent / "shared" / "zoo")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    adapter = adapter_for("detect")
    print("| model | image | detections | pre ms | invoke ms | decode ms | JSON ms |")
    print("|---|---|---|---|---|---|---|")
    for stem in MODELS:
        engine = Engine(args.zoo / "models" / f"{stem}.tflite", threads=args.threads)
        if not engine.info.labels:
            engine.info = engine.info.with_overrides(labels=read_labels(args.zoo / "labels/coco80_ultralytics.txt"))
        for name in IMAGES:
            frame = cv2.imread(str(args.zoo / "images" / name))
            h, w = frame.shape[:2]
            pre, (tensor, transform) = median_ms(lambda: engine.prepare(frame), args.repeat)
            infer, outputs = median_ms(lambda: engine.infer(tensor), args.repeat)
            post, dets = median_ms(lambda: adapter.decode(outputs, engine.info, (w, h), {"transform": transform}),
                                   args.repeat)
            js, _ = median_ms(lambda: adapter.to_json(dets), args.repeat)
            print(f"| `{stem}` | {name} ({w}x{h}) | {len(dets)} | {pre:.1f} | {infer:.1f} | {post:.1f} | {js:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
