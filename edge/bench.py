"""``python -m edge bench``: how fast (and how accurate) models are on this board, against its reference.

    python -m edge bench --model ssd.tflite [--model pose.tflite] [--runs 50] [--threads 1,2] [--delegate cpu]
                         [--labelled DIR] [--source URI] [--board auto|NAME] [--out out/bench]
    python -m edge bench --release ~/edgevision/current     # the installed bundle's models and board profile

Per model: interpreter init, first invoke (warm-up), p50/p90/p99 invoke latency and throughput for each
thread count (default 1..cores), which delegates load, the verdict against the board profile's reference
(pass / warn / fail within its tolerance), optionally mAP on a labelled folder and pipeline FPS on a source.
Per run: peak RSS, temperatures, throttling, CPU governor (warned about unless ``performance``).
Writes bench.json, bench.md and bench.png into --out; prints the Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import sys
from pathlib import Path

from .cli import Command
from .errors import ConfigError
from .schema import Field, check_args


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", default=[], help="a .tflite file (repeatable)")
    p.add_argument("--release", default=None, help="an installed release: its models and device.toml")
    p.add_argument("--runs", type=int, default=50, help="timed invokes per model and thread count (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed invokes first (default 5)")
    p.add_argument("--threads", default=None, help="thread counts to sweep, e.g. 1,2,4 (default 1..cores)")
    p.add_argument("--delegate", default=None, help="delegate (default: the board profile's, else cpu)")
    p.add_argument("--labelled", default=None, metavar="DIR", help="images + annotations.json (COCO) for mAP")
    p.add_argument("--source", default=None, help="also measure pipeline FPS on this source URI")
    p.add_argument("--frames", type=int, default=100, help="frames for the pipeline measurement (default 100)")
    p.add_argument("--board", default="auto", help="auto (detect), a profile name, or none")
    p.add_argument("--profile", default=None, help="a board profile file (overrides --board)")
    p.add_argument("--root", default="/", help=argparse.SUPPRESS)  # filesystem root for board detection
    p.add_argument("--out", default="out/bench", help="report folder (default out/bench)")


def resolve_board(args) -> tuple[object | None, str]:
    """(profile or None, note)."""
    from .board import BoardError, detect_board, load_profile, profile_by_name

    if args.profile:
        return load_profile(args.profile), f"profile {args.profile}"
    if args.release and (Path(args.release) / "device.toml").is_file() and args.board == "auto":
        return load_profile(Path(args.release) / "device.toml"), "profile from the installed release"
    if args.board == "none":
        return None, "no board profile (--board none)"
    if args.board != "auto":
        return profile_by_name(args.board), f"--board {args.board}"
    try:
        name = detect_board(args.root)
    except BoardError as exc:
        return None, f"no reference comparison: {exc}"
    return profile_by_name(name), f"detected {name}"


def _models(args) -> list[Path]:
    models = []
    base = Path(args.release) if args.release else None
    for m in args.model:
        path = Path(m)
        models.append(base / path if base and not path.is_absolute() else path)
    if not models and base:
        manifest = json.loads((base / "manifest.json").read_text())
        models = [base / m for m in manifest["models"]]
    if not models:
        raise ConfigError("no model to bench: give --model FILE or --release DIR")
    for m in models:
        if not m.is_file():
            raise ConfigError(f"--model {m}: no such file")
    return models


def pipeline_fps(model: Path, threads: int, delegate: str, source: str, frames: int) -> dict:
    from .model_chain import ModelChain
    from .pipeline import Pipeline
    from .pipeline_config import models_from_entries
    from .sinks import open_sink
    from .sources import open_source

    chain = ModelChain(models_from_entries([{"path": str(model), "threads": threads, "delegate": delegate}], "bench"))
    summary = Pipeline(open_source(source), chain, [open_sink("null://")], max_frames=frames).run(handle_signals=False)
    keep = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {"source": source, **keep}


def _accuracy(model: Path, task: str | None, threads: int, delegate: str, folder: Path) -> dict:
    from .bench_accuracy import evaluate
    from .engine import Engine
    from .tasks import adapter_for

    if task != "detect":
        return {"skipped": f"accuracy is scored for detection models; this one's task is {task or 'unknown'}"}
    return evaluate(Engine(model, threads=threads, delegate=delegate), adapter_for(task), folder)


# Ranges of the numeric options, checked before any model or board file is read.
OPTION_FIELDS = (
    Field("runs", int, min=1, max=1_000_000),
    Field("warmup", int, min=0, max=1_000_000),
    Field("frames", int, min=1, max=10_000_000),
    Field("delegate", str, check=lambda v: __import__("edge.pipeline_config").pipeline_config.delegate_check(v)),
)


def run_bench(args) -> dict:
    from . import bench_model, bench_system
    from .bench_compare import compare
    from .runtime import load_runtime

    check_args(args, OPTION_FIELDS)
    if args.source:
        from .uri_options import check_source_uri

        check_source_uri(args.source)
    models = _models(args)
    profile, board_note = resolve_board(args)
    facts = bench_system.system_facts(args.root)
    threads = bench_model.parse_threads(args.threads, facts["cores"])
    delegate = args.delegate or (profile.delegate if profile else "cpu")
    rt = load_runtime()
    results = []
    for model in models:
        sweep = [bench_model.time_model(model, t, delegate, args.runs, args.warmup) for t in threads]
        reference = (compare(sweep, profile.reference_for(model) if profile else None) if not facts["emulated"]
                     else {"verdict": "emulated", "note": "not compared with the board's reference: "
                           + facts["emulated"]})
        entry = {"name": model.name, "path": str(model), "sweep": sweep, "reference": reference,
                 "delegates": bench_model.delegates_available(model)}
        if args.labelled or args.source:
            from .engine import Engine

            task = Engine(model, threads=1, delegate=delegate).info.task
            if args.labelled:
                entry["accuracy"] = _accuracy(model, task, max(threads), delegate, Path(args.labelled))
            if args.source:
                entry["pipeline"] = (pipeline_fps(model, max(threads), delegate, args.source, args.frames) if task
                                     else {"skipped": "the model's metadata does not say its task"})
        results.append(entry)
    temps_after = bench_system.temperatures(args.root)
    return {
        "format": "edgevision-bench", "version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "board": profile.name if profile else None, "board_note": board_note,
        "runtime": f"{rt.name} {rt.version}", "runs": args.runs, "warmup": args.warmup, "threads": threads,
        "delegate": delegate, "system": facts, "temperatures_after": temps_after,
        "peak_rss_mb": bench_system.peak_rss_mb(), "models": results,
        "command": "python -m edge bench " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]),
    }


def _main(args: argparse.Namespace) -> int:
    from .bench_report import write_reports

    report = run_bench(args)
    paths = write_reports(report, Path(os.path.expanduser(args.out)))
    print(paths["md"].read_text())
    print(f"wrote {paths['json']}, {paths['md']}, {paths['png']}", file=sys.stderr)
    failed = [m["name"] for m in report["models"] if m["reference"]["verdict"] == "fail"]
    if failed:
        print(f"edge bench: slower than the board's reference beyond tolerance: {', '.join(failed)}", file=sys.stderr)
    return 0


COMMAND = Command("benchmark models on this board and compare with its reference numbers", _arguments, _main)
