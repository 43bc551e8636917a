"""The main job behind `make demo`: data -> train -> export -> edge runtime, with a summary in out/.

Every step runs the same command a user would type, as a subprocess, so the demo exercises the CLIs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2

from tools.demo_tasks import run_tasks

SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"
PERSON_CLIP = "video/one-by-one-person-detection.mp4"


def step(title: str, argv: list[str]) -> float:
    print(f"\n=== {title}\n$ {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def make_clip(val_json: Path, out_path: Path, fps: int = 10, seconds_per_image: float = 0.3) -> Path:
    """A clip made of the validation images, so the edge runtime reads a real video through a decoder."""
    coco = json.loads(val_json.read_text())
    root = val_json.parent
    images = sorted(coco["images"], key=lambda im: im["id"])[:60]
    first = cv2.imread(str(root / images[0]["file_name"]))
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    repeat = max(1, round(fps * seconds_per_image))
    for im in images:
        frame = cv2.imread(str(root / im["file_name"]))
        if frame.shape[:2] != (h, w):
            frame = cv2.resize(frame, (w, h))
        for _ in range(repeat):
            writer.write(frame)
    writer.release()
    return out_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--run", default="runs/demo")
    p.add_argument("--data", default="data/synth")
    p.add_argument("--out", default="out")
    p.add_argument("--zoo", default="../shared/zoo")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--tasks", default="pose,segment,enhance,classify",
                   help="other tasks to train, export and run after detection (comma-separated; '' for none)")
    args = p.parse_args(argv)

    py = sys.executable
    out, run, data, zoo = Path(args.out), Path(args.run), Path(args.data), Path(args.zoo)
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}

    if not (data / "val.json").exists():
        times["synth"] = step("generate the synthetic detection dataset (COCO format)",
                              [py, "-m", "train", "synth", "--out", str(data)])
    train_cmd = [py, "-m", "train", "detect", "--data", str(data), "--format", "coco", "--out", str(run)]
    if args.epochs:
        train_cmd += ["--epochs", str(args.epochs)]
    times["train"] = step("train the detector", train_cmd)
    times["export"] = step("export float32 and int8 TFLite",
                           [py, "-m", "export", str(run), "--formats", "float32,int8"])

    clip = make_clip(data / "val.json", out / "synth_clip.mp4")
    runs = {}
    for fmt in ("float32", "int8"):
        model = run / "export" / f"model_{fmt}.tflite"
        summary = out / f"synth_{fmt}.summary.json"
        _fresh(out / f"synth_{fmt}.mp4", out / f"synth_{fmt}.jsonl")  # the sinks never overwrite: start afresh
        step(f"edge runtime, our {fmt} model on the generated clip",
             [py, "-m", "edge", "run", "--model", str(model), "--source", f"file://{clip}",
              "--sink", f"file://{out}/synth_{fmt}.mp4", "--sink", f"jsonl://{out}/synth_{fmt}.jsonl",
              "--threads", str(args.threads), "--summary", str(summary)])
        runs[f"ours_{fmt}"] = json.loads(summary.read_text())
    if (zoo / SSD).exists():
        summary = out / "zoo_ssd_person.summary.json"
        _fresh(out / "zoo_ssd_person.mp4", out / "zoo_ssd_person.jsonl")
        step("edge runtime, the zoo SSD MobileNet on the zoo person clip",
             [py, "-m", "edge", "run", "--model", str(zoo / SSD), "--source", f"file://{zoo / PERSON_CLIP}",
              "--sink", f"file://{out}/zoo_ssd_person.mp4", "--sink", f"jsonl://{out}/zoo_ssd_person.jsonl",
              "--threads", str(args.threads), "--summary", str(summary)])
        runs["zoo_ssd"] = json.loads(summary.read_text())
    else:
        print(f"note: {zoo} has no {SSD}; skipping the third-party model run")

    export_report = json.loads((run / "export" / "export.json").read_text())
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    task_results = run_tasks(out, run.parent, args.threads, tasks) if tasks else {}
    write_summary(out, export_report, runs, task_results, times)
    return 0


def _fresh(*paths: Path) -> None:
    """A demo re-run replaces its own results; the edge sinks would keep them (append, or a dated new name)."""
    for path in paths:
        path.unlink(missing_ok=True)


def write_summary(out: Path, export_report: dict, runs: dict, task_results: dict, times: dict) -> None:
    summary = {"export": export_report, "edge_runs": runs, "tasks": task_results, "step_seconds": times}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    lines = ["# edgevision demo summary", "", "## Our detector (synthetic validation set, scored through edge)", "",
             "| variant | size (KB) | mAP@0.5 | mAP@0.5:0.95 | invoke p50 (ms) |", "|---|---|---|---|---|"]
    for v in export_report["formats"]:
        m = v["metrics"]
        lines.append(f"| {v['format']} | {v['size_bytes'] / 1024:.0f} | {m['map50']:.3f} | {m['map50_95']:.3f} | "
                     f"{v['latency_p50_ms']:.2f} |")
    if task_results:
        lines += ["", "## Other tasks (synthetic validation sets, scored through edge)", "",
                  "| task | metric | float32 | int8 | int8 invoke p50 (ms) | train (s) |", "|---|---|---|---|---|---|"]
        for task, r in task_results.items():
            lines.append(f"| {task} | {r['metric']} | {r['float32']:.3f} | {r['int8']:.3f} | "
                         f"{r['int8_invoke_ms_p50']:.2f} | {r['train_seconds']:.0f} |")
    lines += ["", "## Edge runtime runs", "",
              "| run | frames | invoke p50 (ms) | invoke-only FPS | end-to-end FPS |", "|---|---|---|---|---|"]
    for name, r in runs.items():
        lines.append(f"| {name} | {r['frames']} | {r['infer_ms']['p50']:.2f} | {r['invoke_fps']:.1f} | {r['fps']:.1f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
    print(f"\nResults in {out.resolve()}: summary.md, summary.json, annotated videos (*.mp4), JSON lines (*.jsonl)")


if __name__ == "__main__":
    raise SystemExit(main())
