"""Low-light enhancement: our curve model at 640x480 against the zoo Zero-DCE at 400x600.

    python benchmarks/enhance_bench.py --run runs/enhance [--threads 2] [--repeat 30]

Speed: median wall time of OUR WHOLE PIPELINE at 640x480 (resize to the model input, invoke, bilinear
upsampling of the curve map and 8 curve iterations at 640x480) against the zoo model's bare invoke at
400x600, same interpreter and thread count. Goal: ours >= 10x faster.
Quality: zoo images darkened (x 0.15 gain plus shot and read noise, fixed seed); PSNR of each output against
the original at that output's resolution, minus the PSNR of the darkened input. Goal: our mean gain >= the
zoo model's. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edge.metrics_tasks import psnr  # noqa: E402
from edge.tasks.enhance_curves import apply_curve_maps  # noqa: E402

ZOO = Path(__file__).resolve().parent.parent.parent / "shared" / "zoo"
IMAGES = ("cats_and_dogs.jpg", "grace_hopper.bmp", "cat.bmp", "dogs.jpg", "squat.bmp", "bird_segmentation.bmp")


def dark(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    y = 0.15 * rgb.astype(np.float32) / 255.0
    y = y + np.sqrt(y * 0.004) * rng.standard_normal(y.shape) + 0.004 * rng.standard_normal(y.shape)
    return np.clip(np.round(y * 255), 0, 255).astype(np.uint8)


def interpreter(path_or_bytes, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    kw = {"model_content": path_or_bytes} if isinstance(path_or_bytes, bytes) else {"model_path": str(path_or_bytes)}
    it = Interpreter(num_threads=threads, **kw)
    it.allocate_tensors()
    return it


def ours_tflite(run: Path) -> bytes:
    cached = run / "bench_float32.tflite"
    if cached.is_file() and cached.stat().st_mtime >= (run / "model.keras").stat().st_mtime:
        return cached.read_bytes()
    from export.convert import convert, load_keras_model
    from export.formats import FORMATS

    data = convert(load_keras_model(run / "model.keras"), FORMATS["float32"])
    cached.write_bytes(data)
    return data


def run_ours(it, rgb640: np.ndarray) -> np.ndarray:
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    h, w = inp["shape"][1:3]
    small = cv2.resize(rgb640, (int(w), int(h)), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    it.set_tensor(inp["index"], small[None])
    it.invoke()
    x = apply_curve_maps(rgb640.astype(np.float32) * (1 / 255.0), it.get_tensor(out["index"]))
    return np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)


def run_zoo(it, rgb600: np.ndarray) -> np.ndarray:
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(inp["index"], (rgb600.astype(np.float32) / 255.0)[None])
    it.invoke()
    return np.clip(it.get_tensor(out["index"])[0] * 255 + 0.5, 0, 255).astype(np.uint8)


def median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, default=Path("runs/enhance"), help="an enhance run folder")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--zoo", type=Path, default=ZOO)
    args = p.parse_args(argv)
    zoo_model = args.zoo / "models" / "lite-model_zero-dce_1.tflite"
    for need in (args.run / "model.keras", zoo_model):
        if not need.is_file():
            print(f"error: {need} is missing (train one with `python -m train enhance --out {args.run}`)",
                  file=sys.stderr)
            return 2
    ours, zoo = interpreter(ours_tflite(args.run), args.threads), interpreter(zoo_model, args.threads)
    frame = cv2.cvtColor(cv2.imread(str(args.zoo / "images" / IMAGES[0])), cv2.COLOR_BGR2RGB)
    f640 = cv2.resize(frame, (640, 480))
    f600 = cv2.resize(frame, (600, 400)).astype(np.float32)[None] / 255.0
    zin = zoo.get_input_details()[0]["index"]

    def zoo_invoke():
        zoo.set_tensor(zin, f600)
        zoo.invoke()

    t_ours = median_ms(lambda: run_ours(ours, f640), args.repeat)
    t_zoo = median_ms(zoo_invoke, max(3, args.repeat // 5))
    print(f"threads {args.threads}: ours 640x480 full pipeline {t_ours:.2f} ms, zoo Zero-DCE 400x600 invoke "
          f"{t_zoo:.2f} ms -> ours is {t_zoo / t_ours:.1f}x faster (goal >= 10x)")
    rng = np.random.default_rng(0)
    gains_ours, gains_zoo = [], []
    for name in IMAGES:
        path = args.zoo / "images" / name
        if not path.is_file():
            continue
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        o640, o600 = cv2.resize(rgb, (640, 480)), cv2.resize(rgb, (600, 400))
        d640, d600 = dark(o640, rng), dark(o600, rng)
        g_ours = psnr(run_ours(ours, d640), o640) - psnr(d640, o640)
        g_zoo = psnr(run_zoo(zoo, d600), o600) - psnr(d600, o600)
        gains_ours.append(g_ours)
        gains_zoo.append(g_zoo)
        print(f"  {name:24s} PSNR gain: ours {g_ours:+6.2f} dB   zoo {g_zoo:+6.2f} dB")
    print(f"mean PSNR gain on darkened images: ours {np.mean(gains_ours):+.2f} dB, zoo {np.mean(gains_zoo):+.2f} dB "
          f"(goal: ours >= zoo)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
