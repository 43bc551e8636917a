"""``python -m edge <command>``: a table of subcommands, each a small object with ``add_arguments`` and
``main``. Another module adds a command with one line in ``COMMANDS`` ("bench": "edge.bench:COMMAND").

Errors the user can fix (edge.errors.EdgeError) print as one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from typing import Callable

from .errors import ConfigError, EdgeError
from .task_options import add_task_arguments, task_options

COMMANDS: dict[str, str] = {
    "run": "edge.pipeline_cli:RUN",  # the threaded pipeline; edge.cli:RUN is the plain synchronous loop
    "info": "edge.cli:INFO",
    "bench-pipeline": "edge.pipeline_bench:COMMAND",
    "health": "edge.health:COMMAND",
    "bench": "edge.bench:COMMAND",
}


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    main: Callable[[argparse.Namespace], int]


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """--model, --threads, --delegate, --fallback, --labels, --task: shared by commands that run a model."""
    p.add_argument("--model", required=True, help="the .tflite file")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads (default: the runtime's)")
    p.add_argument("--delegate", default="cpu",
                   help="cpu (XNNPACK) | xnnpack | builtin (no XNNPACK) | gpu | edgetpu | /path/to/delegate.so (default: cpu)")
    p.add_argument("--fallback", default=None, metavar="DELEGATE",
                   help="delegate to use if --delegate cannot be loaded (default: none, fail instead)")
    p.add_argument("--labels", default=None, metavar="FILE", help="labels, one per line (overrides metadata)")
    p.add_argument("--task", default=None, help="task of the model when its metadata does not say (e.g. detect)")


def open_engine(args: argparse.Namespace, require_labels: bool = True):
    """Engine plus adapter for ``args``; the task and labels come from the model unless overridden."""
    from .engine import Engine
    from .metadata import read_labels
    from .tasks import adapter_for

    engine = Engine(args.model, threads=args.threads, delegate=args.delegate, fallback=args.fallback)
    labels = read_labels(args.labels) if args.labels else None
    engine.info = engine.info.with_overrides(labels=labels, labels_source=str(args.labels or ""), task=args.task)
    task = engine.info.task
    if task is None:
        raise ConfigError(f"{args.model}: its metadata and structure do not say what task it does; give --task")
    adapter = adapter_for(task)
    if require_labels and task == "detect" and not engine.info.labels:
        raise ConfigError(f"{args.model}: the model carries no labels; give --labels FILE (one label per line)")
    return engine, adapter


# ------------------------------------------------------------------------------------------ run


def _run_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--source", required=True, help="file://clip.mp4, file://image.jpg, file://folder/ or a path")
    p.add_argument("--sink", action="append", default=[], metavar="URI",
                   help="file://out.mp4, file://out.jpg, file://folder/, jsonl://out.jsonl (repeatable)")
    p.add_argument("--score", type=float, default=0.3, help="minimum score to keep a detection (default 0.3)")
    p.add_argument("--iou", type=float, default=0.5, help="NMS IoU threshold for raw heads (default 0.5)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    add_task_arguments(p)


def _run_main(args: argparse.Namespace) -> int:
    from . import runner
    from .sinks import open_sink
    from .sources import open_source

    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(f"--max-frames must be 1 or more, got {args.max_frames}")
    if not 0.0 <= args.score <= 1.0:
        raise ConfigError(f"--score must lie in 0..1, got {args.score}")
    engine, adapter = open_engine(args)
    print(f"model: {engine.describe()}; task {adapter.task}; info from {engine.info.source}", file=sys.stderr)
    sinks = []
    with open_source(args.source) as source:
        try:
            for uri in args.sink:
                sinks.append(open_sink(uri))
            on_frame = None if args.quiet else (lambda r, rec: print(_frame_line(rec), file=sys.stderr))
            options = {"score": args.score, "iou": args.iou, **task_options(args)}
            summary = runner.run(engine, adapter, source, sinks, options, args.max_frames, on_frame)
        finally:
            errors = []
            for sink in sinks:
                try:
                    sink.close()
                except EdgeError as exc:
                    errors.append(exc)
            if errors and sys.exc_info()[0] is None:
                raise errors[0]
    for line in summary.lines():
        print(line)
    return 0


def _frame_line(record: dict) -> str:
    found = record.get("detections")
    what = f"{len(found)} detections" if found is not None else record["task"]
    t = record["timing_ms"]
    return f"frame {record['frame']} {record['source']}: {what}; infer {t.get('infer', 0):.1f} ms"


RUN = Command("run a model over a source into sinks", _run_arguments, _run_main)


# ------------------------------------------------------------------------------------------ info


def _info_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="the .tflite file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _info_main(args: argparse.Namespace) -> int:
    from .metadata import model_info
    from .model_file import read_model_file

    mf = read_model_file(args.model)
    info = model_info(mf)
    report = {
        "file": str(mf.path), "bytes": len(mf.data), "schema_version": mf.version,
        "ops": [f"{op.name} v{op.version}" for op in mf.op_codes],
        "custom_ops": mf.custom_ops(),
        "metadata": {name: len(buf) for name, buf in mf.metadata.items()},
        "associated_files": sorted(mf.associated_files),
        "info_source": info.source, "task": info.task, "quantization": info.quantization,
        "input": {k: getattr(info.input, k) for k in ("name", "width", "height", "channels", "dtype", "color",
                                                       "resize", "mean", "std", "scale", "zero_point")},
        "outputs": [{"name": o.name, "role": o.role, "shape": list(o.shape)} for o in info.outputs],
        "decode": info.decode,
        "labels": {"count": len(info.labels), "source": info.labels_source, "first": list(info.labels[:5])},
    }
    if args.json:
        print(json.dumps(report))
        return 0
    for key, value in report.items():
        print(f"{key}: {value}")
    return 0


INFO = Command("show what a .tflite file says about itself (ops, metadata, input, outputs, labels)",
               _info_arguments, _info_main)


# ------------------------------------------------------------------------------------------ main


def _load(target: str) -> Command:
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge", description="Run vision models on edge devices.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, target in COMMANDS.items():
        cmd = _load(target)
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_main=cmd.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._main(args) or 0)
    except EdgeError as exc:
        print(f"edge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edge: interrupted", file=sys.stderr)
        return 130
