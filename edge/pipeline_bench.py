"""``python -m edge bench pipeline`` (or ``bench-pipeline``): what the threaded pipeline costs, side by side.

    python -m edge bench pipeline --model ../shared/zoo/models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite \
        --clip ../shared/zoo/video/one-by-one-person-detection.mp4 --threads 2 --out docs/pipeline-benchmark.md

Rows: bare invoke-only FPS (the ceiling), the pipeline into ``null://`` and into overlay + mp4 (ratios to the
ceiling), a plain synchronous loop (read, resize, invoke, draw, write) for comparison, ``synthetic://`` at
30 FPS live (latency p50 against invoke time, queue depth, drops), peak RSS of a fresh process running one
model, and import + model load + first result in a fresh process. The file rows run in ``--rounds`` rounds,
interleaved (bare, null, mp4, synchronous, bare, ...), and each row reports its median round, so a burst of
other work on the machine hits every row alike instead of one. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .cli import Command
from .errors import ConfigError

_FRESH = r"""
import time, sys, json
t0 = time.perf_counter()
from edge.model_chain import ModelChain
from edge.pipeline_config import models_from_entries
from edge.sources import open_source
chain = ModelChain(models_from_entries([{"path": sys.argv[1], "threads": int(sys.argv[2])}], "bench"))
frame = open_source(sys.argv[3]).read()
out = chain.run(frame.image)
t1 = time.perf_counter()
first_ms = (t1 - t0) * 1000
if sys.argv[4] == "rss":
    from edge.pipeline import Pipeline
    from edge.sinks import open_sink
    Pipeline(open_source(sys.argv[3]), chain, [open_sink("null://")], max_frames=60).run(handle_signals=False)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"first_result_ms": first_ms, "peak_rss_mb": int(hwm) / 1024}))
"""


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="the .tflite file (the zoo SSD for the documented figures)")
    p.add_argument("--clip", required=True, help="a video file (the zoo person clip)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=300, help="frames per file measurement and round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the file rows (median reported)")
    p.add_argument("--live-seconds", type=float, default=10.0, help="length of the synthetic:// 30 FPS run")
    p.add_argument("--out", default=None, metavar="MD", help="also write the figures as a Markdown table")


def _chain(args):
    from .model_chain import ModelChain
    from .pipeline_config import models_from_entries

    return ModelChain(models_from_entries([{"path": args.model, "threads": args.threads}], "bench"))


def bare_invoke(chain, clip: str, n: int) -> dict:
    from .sources import open_source

    engine = chain.primary.engine
    tensor, _ = engine.prepare(open_source(f"file://{clip}").read().image)
    for _ in range(5):
        engine.infer(tensor)
    times = []
    for _ in range(n):
        engine.infer(tensor)
        times.append(engine.last_invoke_ms)
    return {"fps": 1000.0 / float(np.mean(times)), "invoke_p50_ms": float(np.median(times))}


def pipeline_fps(chain, source_uri: str, sinks: list[str], n: int | None) -> dict:
    from .pipeline import Pipeline
    from .sinks import open_sink
    from .sources import open_source

    pipe = Pipeline(open_source(source_uri), chain, [open_sink(u) for u in sinks], max_frames=n)
    return pipe.run(handle_signals=False)


def synchronous_loop(chain, clip: str, out: Path, n: int) -> dict:
    """The plain loop the pipeline replaces: read, resize, invoke, draw, write, one after another."""
    import cv2

    stage = chain.primary
    cap = cv2.VideoCapture(clip)
    writer = None
    start, count = time.perf_counter(), 0
    while count < n:
        ok, frame = cap.read()
        if not ok:
            break
        result, _ = stage.engine.run_frame(frame, stage.adapter, stage.spec.options)
        image = stage.adapter.render(frame, result, stage.spec.options)
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, image.shape[1::-1])
        writer.write(image)
        count += 1
    writer.release()
    cap.release()
    return {"fps": count / (time.perf_counter() - start), "frames": count}


def fresh_process(args, mode: str) -> dict:
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", _FRESH, args.model, str(args.threads), f"file://{args.clip}", mode],
                          capture_output=True, text=True, cwd=repo, timeout=300,
                          env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(values: list[float]) -> float:
    return float(np.median(values))


def measure(args) -> list[tuple[str, str, str]]:
    chain = _chain(args)
    rows = []
    bare, null, mp4, sync, p50 = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            b = bare_invoke(chain, args.clip, args.frames)
            bare.append(b["fps"])
            p50.append(b["invoke_p50_ms"])
            null.append(pipeline_fps(chain, f"file://{args.clip}", ["null://"], args.frames)["fps"])
            mp4.append(pipeline_fps(chain, f"file://{args.clip}", [f"file://{tmp}/bench.mp4"], args.frames)["fps"])
            sync.append(synchronous_loop(chain, args.clip, Path(tmp) / "sync.mp4", args.frames)["fps"])
    b, n, m, s = _median(bare), _median(null), _median(mp4), _median(sync)
    rows.append(("bare invoke-only", f"{b:.1f} FPS (invoke p50 {_median(p50):.1f} ms)", "ceiling"))
    rows.append(("pipeline -> null://", f"{n:.1f} FPS", f"{n / b:.2f}x (goal >= 0.90x)"))
    rows.append(("pipeline -> overlay + mp4", f"{m:.1f} FPS", f"{m / b:.2f}x (goal >= 0.85x)"))
    rows.append(("plain synchronous loop -> overlay + mp4", f"{s:.1f} FPS",
                 f"{s / b:.2f}x; pipeline is {m / s:.2f}x of it"))
    live = pipeline_fps(chain, "synthetic://?width=640&height=480&fps=30", ["null://"], int(args.live_seconds * 30))
    p50, invoke = live["latency_ms"]["p50"], live["stages_ms"]["infer"]
    rows.append(("synthetic:// 30 FPS live -> null://",
                 f"latency p50 {p50:.1f} ms, p95 {live['latency_ms']['p95']:.1f} ms; invoke {invoke:.1f} ms; "
                 f"{live['fps']:.1f} FPS out of {live['captured']} frames; drops {sum(live['drops'].values())}; "
                 f"queue max {max(live['queue_max'].values())}",
                 f"{p50 / invoke:.2f}x invoke (goal <= 1.3x); queue bounded at {max(live['queue_max'].values())}"))
    rss = fresh_process(args, "rss")
    rows.append(("peak RSS, one model, 60 frames through the pipeline", f"{rss['peak_rss_mb']:.0f} MB", "goal <= 200 MB"))
    first = fresh_process(args, "first")
    rows.append(("import + model load + first result (fresh process)", f"{first['first_result_ms']:.0f} ms",
                 "goal <= 1000 ms"))
    return rows


def _main(args: argparse.Namespace) -> int:
    from .schema import Field, check_args, threads_field

    check_args(args, (threads_field(), Field("frames", int, min=1, max=10_000_000),
                      Field("rounds", int, min=1, max=1000),
                      Field("live_seconds", float, above=0, max=86400, expect="seconds > 0 and <= 86400")))
    for flag, path in (("--model", args.model), ("--clip", args.clip)):
        if not Path(path).is_file():
            raise ConfigError(f"{flag} {path}: no such file")
    rows = measure(args)
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value}  [{note}]")
    if args.out:
        cmd = "python -m edge bench pipeline " + " ".join(a for a in sys.argv[1:] if a not in ("bench", "pipeline", "bench-pipeline"))
        text = ["# Pipeline benchmark", "",
                f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}; "
                f"model {Path(args.model).name}, clip {Path(args.clip).name}, {args.threads} threads, "
                f"{args.frames} frames per file row and round, median of {args.rounds} interleaved rounds; load average at the end {os.getloadavg()[0]:.1f} "
                f"on {os.cpu_count()} CPUs (other work on the machine slows every row alike). Command:", "",
                f"    {cmd}", "",
                "| measurement | figure | against the goal |", "|---|---|---|",
                *[f"| {a} | {b} | {c} |" for a, b, c in rows], ""]
        Path(args.out).write_text("\n".join(text))
    return 0


COMMAND = Command("benchmark the threaded pipeline against bare invoke and a synchronous loop", _arguments, _main)
