"""int8 vs float32 invoke latency, measured fairly: one process, the same input, interleaved invocations.

    .venv/bin/python benchmarks/int8_latency.py runs/demo [--rounds 400] [--threads 1,2] [--size 320]

Loads the run's exported model_float32.tflite and model_int8.tflite (RUN/export, or --export DIR) into one
LiteRT interpreter each per thread count (XNNPACK, as edge's Engine uses them), then alternates: float32 invoke,
int8 invoke, float32, int8... for ``--rounds`` rounds, so both files see the same background load. Prints p10/p50/
p90 per file, the ratio of the medians, the median of the per-round ratios, and the load average before and
after. ``--size N`` also rebuilds the run's detector at N x N input (the run's trained weights; the architecture is
fully convolutional), converts it to float32 and int8 (calibrated on the run's training images) and measures it
the same way: at larger inputs the convolutions dominate and int8 usually gains more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _interpreter(model_bytes: bytes, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model_bytes, num_threads=threads)
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    rng = np.random.default_rng(0)
    if np.issubdtype(detail["dtype"], np.integer):
        info = np.iinfo(detail["dtype"])
        data = rng.integers(info.min, info.max, size=detail["shape"], dtype=detail["dtype"])
    else:
        data = rng.random(detail["shape"], dtype=np.float32)
    interp.set_tensor(detail["index"], data)
    interp.invoke()  # warm-up: XNNPACK packs the weights on the first run
    return interp


def interleaved(models: dict[str, bytes], threads: int, rounds: int) -> dict[str, np.ndarray]:
    """Invoke times (ms) per model, alternating the models invocation by invocation."""
    interps = {name: _interpreter(b, threads) for name, b in models.items()}
    times = {name: np.empty(rounds) for name in models}
    for i in range(rounds):
        for name, interp in interps.items():
            t0 = time.perf_counter()
            interp.invoke()
            times[name][i] = (time.perf_counter() - t0) * 1000.0
    return times


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def report(label: str, models: dict[str, bytes], threads: list[int], rounds: int) -> None:
    sizes = ", ".join(f"{n} {len(b) / 1024:.0f} KiB" for n, b in models.items())
    print(f"\n{label} ({sizes})")
    print(f"{'threads':>7} {'file':<8} {'p10 ms':>8} {'p50 ms':>8} {'p90 ms':>8}  {'int8/f32 p10':>12} "
          f"{'int8/f32 p50':>12} {'median of per-round ratios':>27}  load 1/5/15 min before -> after")
    for t in threads:
        before = _load()
        times = interleaved(models, t, rounds)
        after = _load()
        f32, i8 = times["float32"], times["int8"]
        ratio = np.median(i8) / np.median(f32)
        fast = np.percentile(i8, 10) / np.percentile(f32, 10)  # the least disturbed runs: closest to an idle host
        per_round = np.median(i8 / f32)
        for name, ts in times.items():
            p10, p50, p90 = np.percentile(ts, [10, 50, 90])
            tail = f"  {fast:12.2f} {ratio:12.2f} {per_round:27.2f}  {before} -> {after}" if name == "int8" else ""
            print(f"{t:>7} {name:<8} {p10:8.2f} {p50:8.2f} {p90:8.2f}{tail}")


def resized_models(run_dir: str, size: int, calib: int, width: float | None = None) -> dict[str, bytes]:
    """The run's detector rebuilt at ``size`` x ``size`` with its trained weights, as float32 and int8 files.

    With ``width`` (a width multiplier other than the run's), the detector is built wider or narrower with
    freshly initialised weights: latency depends on the shapes, not on what the weights learnt.
    """
    from export import convert
    from export.calibration import preprocess
    from export.formats import FORMATS
    from export.run_folder import load_run
    from export.task_data import task_data
    from train.model import DetectorConfig, build_detector

    run = load_run(run_dir)
    trained = convert.load_keras_model(run.model_path)
    m = run.spec["model"]
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    config = DetectorConfig(num_classes=int(m["num_classes"]), input_size=size,
                            width=float(width or m["width_multiplier"]), neck_channels=int(m["neck_channels"])).validate()
    model = build_detector(config)
    if width is None or width == float(m["width_multiplier"]):
        model.set_weights(trained.get_weights())
    data = task_data(run)
    spec = dict(run.input, width=size, height=size)
    samples = np.stack([preprocess(data.frame(item), spec) for item in data.train[:calib]])
    rep = convert.representative_from(samples)
    return {"float32": convert.convert(model, FORMATS["float32"], None, spec),
            "int8": convert.convert(model, FORMATS["int8"], rep, spec)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", nargs="?", default="runs/demo")
    p.add_argument("--export", default=None, help="folder with model_float32.tflite and model_int8.tflite "
                   "(default RUN/export)")
    p.add_argument("--rounds", type=int, default=400, help="interleaved invocations per file and thread count")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--size", type=int, action="append", default=[],
                   help="also measure the run's detector rebuilt at this input size (repeatable)")
    p.add_argument("--calib-samples", type=int, default=100, help="calibration images for --size/--width int8 files")
    p.add_argument("--width", type=float, action="append", default=[],
                   help="also measure the detector at this width multiplier (fresh weights; repeatable), at each "
                   "--size or the run's own size")
    args = p.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    folder = Path(args.export) if args.export else Path(args.run) / "export"
    models = {name: (folder / f"model_{name}.tflite").read_bytes() for name in ("float32", "int8")}
    print(f"host: {os.cpu_count()} cores, load average {_load()} (1/5/15 min); {args.rounds} interleaved rounds")
    report(f"{folder} (the run's own input size)", models, threads, args.rounds)
    for size in args.size:
        report(f"the run's detector rebuilt at {size}x{size}", resized_models(args.run, size, args.calib_samples),
               threads, args.rounds)
    own = int(json.loads((Path(args.run) / "run.json").read_text())["input"]["width"])
    for width in args.width:
        for size in args.size or [own]:
            report(f"the detector at width {width} (fresh weights), {size}x{size}",
                   resized_models(args.run, size, args.calib_samples, width), threads, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
