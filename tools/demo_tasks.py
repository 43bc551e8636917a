"""`make demo` for pose, segmentation, low-light enhancement and classification.

For each task, the same commands a user types, as subprocesses: ``python -m train TASK`` (which generates the
task's synthetic set in ./data on first use) with a short, time-boxed schedule, ``python -m export RUN --formats
float32,int8`` (parity, then scoring of both files through the edge runtime on the run's validation set), and
``python -m edge run`` on a few validation images, the task taken from the model's metadata. ``run_tasks``
returns, per task, the headline metric of each file, the int8 invoke latency and the training time; tools/demo.py
adds them to out/summary.md.

    python -m tools.demo_tasks --out out --runs runs --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2

from train import tasks as registry

# Short schedules: the whole `make demo` (detector + these four) took 15.5 min on 2 idle cores with classify at 8
# epochs (out/tasks.json has each train_seconds); 24 classify epochs add about 2 min.
TRAIN_ARGS: dict[str, list[str]] = {
    # 24 epochs x 156 steps (5000 synthetic shapes, batch 32, quarter turns + flips), lr 3e-3 warm-up then cosine.
    # The loss sits near ln 5 for a while before it breaks out, and when depends on the run: 8 epochs gave val top-1
    # 0.895 in one run and 0.305 in the clean-clone `make demo` (still on the plateau); 24 epochs broke out at epoch
    # 4 and reached 0.98 (192 s on 2 idle cores).
    "classify": ["--epochs", "24", "--input-size", "64", "--synth-train", "5000", "--synth-val", "200", "--lr", "3e-3"],
    # 24 epochs x 37 steps (600 synthetic images, batch 16), lr 5e-3 held 60% then cosine: val mIoU 0.63
    "segment": ["--epochs", "24", "--input-size", "128", "--lr", "5e-3"],
    "pose": ["--epochs", "10", "--input-size", "128"],
    "enhance": ["--epochs", "8"],  # 8 epochs: +10.5 dB on the darkened zoo images (benchmarks/enhance_bench.py)
}
EDGE_IMAGES = 4  # validation images the edge runtime is run on, per task


def _step(title: str, argv: list[str]) -> float:
    print(f"\n=== {title}\n$ {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def _edge_folder(run: Path) -> Path:
    """The first validation frames as the device sees them (the task's registry entry, train/tasks.py: a camera
    frame, a person's crop for top-down pose, the darkened frame for enhancement), as files for ``edge run``."""
    from export.run_folder import load_run
    from export.task_data import task_data

    data = task_data(load_run(run))
    if not data.val:
        raise FileNotFoundError(f"{run}: its validation split has no images for the edge demo")
    folder = run / "edge_demo_images"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for i, item in enumerate(data.val[:EDGE_IMAGES]):
        cv2.imwrite(str(folder / f"val{i:03d}.png"), data.frame(item))
    return folder


def run_task(task: str, out: Path, runs_root: Path, threads: int) -> dict:
    py = sys.executable
    run = runs_root / f"demo-{task}"
    if (run / "run.json").is_file():  # a previous demo's run of this task: start afresh
        shutil.rmtree(run)
    train_s = _step(f"train {task} (short schedule)", [py, "-m", "train", task, "--out", str(run), *TRAIN_ARGS[task]])
    export_s = _step(f"export {task}: float32 and int8, scored through edge",
                     [py, "-m", "export", str(run), "--formats", "float32,int8", "--threads", str(threads),
                      "--calib-samples", "100"])
    folder = _edge_folder(run)
    summary = out / f"{task}_int8.summary.json"
    (out / f"{task}_int8.jsonl").unlink(missing_ok=True)  # a re-run replaces it (the sink would append)
    edge_s = _step(f"edge runtime, {task} int8 on {EDGE_IMAGES} validation images (task from the metadata)",
                   [py, "-m", "edge", "run", "--model", str(run / "export" / "model_int8.tflite"),
                    "--source", f"file://{folder}/", "--sink", f"jsonl://{out}/{task}_int8.jsonl",
                    "--sink", f"file://{out}/{task}_int8/", "--threads", str(threads), "--quiet",
                    "--summary", str(summary)])
    report = json.loads((run / "export" / "export.json").read_text())
    by = {f["format"]: f for f in report["formats"] if not f.get("variant")}
    metric = registry.get(task).headline().key
    return {"metric": metric, "float32": by["float32"]["metrics"][metric], "int8": by["int8"]["metrics"][metric],
            "int8_invoke_ms_p50": by["int8"]["latency_p50_ms"], "train_seconds": round(train_s, 1),
            "export_seconds": round(export_s, 1), "edge_seconds": round(edge_s, 1), "run": str(run),
            "metrics": {fmt: r["metrics"] for fmt, r in by.items()}}


def run_tasks(out: Path, runs_root: Path, threads: int, tasks: tuple[str, ...] = tuple(TRAIN_ARGS)) -> dict:
    """Train, export and run each task; returns {task: {"metric", "float32", "int8", "int8_invoke_ms_p50",
    "train_seconds", ...}} and writes it to ``out/tasks.json``."""
    out, runs_root = Path(out), Path(runs_root)
    out.mkdir(parents=True, exist_ok=True)
    runs_root.mkdir(parents=True, exist_ok=True)
    results = {}
    for task in tasks:
        results[task] = run_task(task, out, runs_root, threads)
        print(f"{task}: {results[task]['metric']} float32 {results[task]['float32']:.4f}, int8 "
              f"{results[task]['int8']:.4f}, int8 invoke p50 {results[task]['int8_invoke_ms_p50']:.2f} ms, "
              f"trained in {results[task]['train_seconds']:.0f} s", flush=True)
    (out / "tasks.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("out"))
    p.add_argument("--runs", type=Path, default=Path("runs"))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--tasks", default=",".join(TRAIN_ARGS), help="comma-separated subset of " + ", ".join(TRAIN_ARGS))
    args = p.parse_args(argv)
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    unknown = [t for t in tasks if t not in TRAIN_ARGS]
    if unknown:
        print(f"error: unknown task(s) {unknown}; expected some of {', '.join(TRAIN_ARGS)}", file=sys.stderr)
        return 2
    run_tasks(args.out, args.runs, args.threads, tasks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
