"""``python -m edge <command>``: a table of subcommands, each a small object with ``add_arguments`` and
``main``. Another module adds a command with one line in ``COMMANDS`` ("bench": "edge.bench:COMMAND").

Errors the user can fix (edge.errors.EdgeError) print as one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass, replace
from typing import Callable

from .errors import ConfigError, EdgeError
from .input_options import add_input_arguments, normalisation_from_args

COMMANDS: dict[str, str] = {
    "run": "edge.pipeline_cli:RUN",  # the threaded pipeline
    "info": "edge.cli:INFO",
    "bench-pipeline": "edge.pipeline_bench:COMMAND",
    "health": "edge.health:COMMAND",
    "bench": "edge.bench:COMMAND",
    "track": "edge.track_cli:COMMAND",  # the tracker on MOTChallenge detections
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
    add_input_arguments(p)


def no_task_error(path, info) -> ConfigError:
    """The error for a model no row of the recognition table takes: it names the outputs seen."""
    from .tasks import task_names

    why = info.plan.recognised_by if info.plan else "its metadata and structure do not say what task it does"
    return ConfigError(f"{path}: cannot tell how to decode this model: {why}; give --task "
                       f"{task_names()} if one of the decoders fits (docs/models.md lists the "
                       f"supported families)")


def open_engine(args: argparse.Namespace, require_labels: bool = True):
    """Engine plus adapter for ``args``; the task and labels come from the model unless overridden."""
    from .engine import Engine
    from .metadata import read_labels
    from .tasks import adapter_for

    engine = Engine(args.model, threads=args.threads, delegate=args.delegate, fallback=args.fallback)
    labels = read_labels(args.labels) if args.labels else None
    engine.info = engine.info.with_overrides(labels=labels, labels_source=str(args.labels or ""), task=args.task,
                                             normalisation=normalisation_from_args(args))
    task = engine.info.task
    if task is None:
        raise no_task_error(args.model, engine.info)
    adapter = adapter_for(task)
    if require_labels and task == "detect" and not engine.info.labels:
        raise ConfigError(f"{args.model}: the model carries no labels; give --labels FILE (one label per line)")
    from .model_checks import check_labels_cover

    check_labels_cover(engine.info, {"label_offset": getattr(args, "label_offset", None) or 0})
    return engine, adapter


# ------------------------------------------------------------------------------------------ info


def _info_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="the .tflite file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--task", default=None, help="show the plan as if --task were given to edge run")
    p.add_argument("--labels", default=None, metavar="FILE", help="show the plan with these labels")
    add_input_arguments(p)


def plan_report(info) -> dict[str, str]:
    """The decoding plan of a loaded model as printable lines (family, task, resize, normalisation, labels)."""
    if info.plan is None:
        return {"family": "unknown", "task": str(info.task)}
    lines = info.plan.lines(len(info.labels), info.labels_source)
    lines["colour"] = info.input.color
    for note in info.plan.assumed:
        lines.setdefault("warnings", "")
        lines["warnings"] = (lines["warnings"] + "; " if lines["warnings"] else "") + note
    return lines


def _info_main(args: argparse.Namespace) -> int:
    from .metadata import model_info, read_labels
    from .model_file import read_model_file

    mf = read_model_file(args.model)
    info = model_info(mf).with_overrides(
        labels=read_labels(args.labels) if args.labels else None, labels_source=str(args.labels or ""),
        task=args.task, normalisation=normalisation_from_args(args))
    if info.decode.get("box_units") == "auto":  # a raw head's box units are settled when the model loads
        from .engine import Engine

        try:
            info = Engine(args.model, threads=1, info=info).info
        except EdgeError as exc:
            info = replace(info, decode={**info.decode, "box_units_why": f"decided when the model loads ({exc})"})
    plan = plan_report(info)
    report = {
        "file": str(mf.path), "bytes": len(mf.data), "schema_version": mf.version,
        "ops": [f"{op.name} v{op.version}" for op in mf.op_codes],
        "custom_ops": mf.custom_ops(),
        "metadata": {name: len(buf) for name, buf in mf.metadata.items()},
        "associated_files": sorted(mf.associated_files),
        "info_source": info.source, "task": info.task, "quantization": info.quantization,
        "input": {k: getattr(info.input, k) for k in ("name", "width", "height", "channels", "dtype", "color",
                                                       "resize", "mean", "std", "scale", "zero_point", "layout",
                                                       "rounding")},
        "outputs": [{"name": o.name, "role": o.role, "shape": list(o.shape)} for o in info.outputs],
        "decode": info.decode,
        "labels": {"count": len(info.labels), "source": info.labels_source, "first": list(info.labels[:5])},
        "family": info.family,
        "plan": plan,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    for key, value in report.items():
        if key != "plan":
            print(f"{key}: {value}")
    print("plan (decided when the model loads):")
    for key, value in plan.items():
        print(f"  {key}: {value}")
    return 0


INFO = Command("show what a .tflite file says about itself (ops, metadata, input, outputs, labels) and the "
               "decoding plan: family, task, resize, normalisation, labels, and why",
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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["bench", "pipeline"]:  # `edge bench pipeline ...` is another spelling of bench-pipeline
        argv = ["bench-pipeline", *argv[2:]]
    args = build_parser().parse_args(argv)
    try:
        return int(args._main(args) or 0)
    except EdgeError as exc:
        print(f"edge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edge: interrupted", file=sys.stderr)
        return 130
