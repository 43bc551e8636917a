"""``python -m edge run``: one or more models over any source into any sinks, on the threaded pipeline.

    python -m edge run --model ssd.tflite --source synthetic://?fps=30 --sink http://127.0.0.1:8080
    python -m edge run --model ssd.tflite --model movenet.tflite,on=ssd:person --source v4l2:///dev/video0
    python -m edge run --config pipeline.toml            # models, source and sinks from a TOML file

``--model PATH[,key=value...]`` takes the keys of a ``[[model]]`` table (name, task, when, on, score, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from .cli import Command
from .errors import ConfigError, SinkError
from .input_options import add_input_arguments, normalisation_from_args
from .pipeline_config import _anchors_check, _task_check, delegate_check
from .schema import Field, check_args, threads_field
from .task_options import add_task_arguments, task_options
from .uri_options import check_uris


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", default=[], metavar="PATH[,k=v...]",
                   help="a .tflite file, optionally with options (repeat for a chain: detection, then pose on "
                        "its boxes with on=NAME:person, ...)")
    p.add_argument("--config", default=None, metavar="TOML", help="pipeline file: [[model]] tables, source, sinks")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads (default: the runtime's)")
    p.add_argument("--delegate", default="cpu",
                   help="cpu (XNNPACK) | xnnpack | builtin (no XNNPACK) | gpu | edgetpu | /path/to/delegate.so (default: cpu)")
    p.add_argument("--fallback", default=None, metavar="DELEGATE",
                   help="delegate to use if --delegate cannot be loaded (default: none, fail instead)")
    p.add_argument("--labels", default=None, metavar="FILE", help="labels of the first model, one per line")
    p.add_argument("--task", default=None, help="task of the first model when its metadata does not say")
    p.add_argument("--source", default=None,
                   help="file://clip.mp4 | file://folder/ | synthetic://?fps=30 | v4l2:///dev/video0 | csi://0 | "
                        "picamera2://0 | rtsp://host/path | gst://PIPELINE")
    p.add_argument("--sink", action="append", default=[], metavar="URI",
                   help="file://out.mp4[?segment=60s] | jsonl://out.jsonl | http://127.0.0.1:8080 | display:// | events://DIR[?pre=5s&post=5s&max_mb=N] | "
                        "null:// (repeatable)")
    p.add_argument("--track", nargs="?", const="", default=None, metavar="K=V,...",
                   help="track the first detect model's boxes (ids in the JSON lines and on the overlay); "
                        "optional tracker settings, e.g. --track high_score=0.6,max_lost=20 (docs/tracking.md)")
    p.add_argument("--score", type=float, default=None,
                   help="minimum detection score (default: the model family's, 0.3; Ultralytics YOLO 0.25; "
                        "MediaPipe detectors 0.5)")
    p.add_argument("--iou", type=float, default=None,
                   help="NMS IoU threshold for raw heads (default: the model family's, 0.5; Ultralytics YOLO 0.7, "
                        "classic YOLOv5 0.45)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--queue", type=int, default=None, metavar="N",
                   help="frames between stages (default 1 for live sources, 4 for files)")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--summary", default=None, metavar="FILE", help="also write the run's summary as JSON to FILE")
    add_task_arguments(p)
    add_input_arguments(p)


# The options of ``edge run`` with their types and ranges, checked before any model, device or file is opened.
RUN_FIELDS = (
    threads_field(),
    Field("delegate", str, check=delegate_check),
    Field("fallback", str, check=delegate_check),
    Field("score", float, min=0.0, max=1.0),
    Field("iou", float, min=0.0, max=1.0),
    Field("max_frames", int, min=1),
    Field("queue", int, min=1, max=1000),
    Field("keypoint_score", float, min=0.0, max=1.0),
    Field("pose_score", float, min=0.0, max=1.0),
    Field("max_poses", int, min=1, max=1000),
    Field("enhance_below", float, min=0.0, max=1.0),
    Field("label_offset", int, min=0, max=100000),
    Field("top_k", int, min=1, max=100000),
    Field("anchors", str, check=_anchors_check),
    Field("task", str, check=_task_check),
    Field("labels", str, check=lambda p: None if Path(p).is_file() else "an existing labels file, one label per line"),
)


def build_config(args: argparse.Namespace):
    from .pipeline_config import PipelineConfig, load_config, models_from_entries, parse_model_option

    check_args(args, RUN_FIELDS)
    norm = normalisation_from_args(args)
    if args.config:
        config = load_config(args.config, args.threads)
        if args.model:
            raise ConfigError("give models either in --config or with --model, not both")
        if norm is not None:
            raise ConfigError("--input-range / --mean / --std go with --model; in a --config file write "
                              "input_range = [LOW, HIGH] (or mean / std) in the model's [[model]] table")
    else:
        if not args.model:
            raise ConfigError("no model: give --model FILE (repeatable) or --config pipeline.toml")
        entries = []
        for i, text in enumerate(args.model):
            given = {k: getattr(args, k) for k in ("score", "iou") if getattr(args, k) is not None}
            entry = {**given, "delegate": args.delegate, **task_options(args), **parse_model_option(text)}
            if args.fallback:
                entry.setdefault("fallback", args.fallback)
            if i == 0:
                for key in ("labels", "task"):
                    if getattr(args, key):
                        entry.setdefault(key, getattr(args, key))
            entries.append(entry)
        config = PipelineConfig(models_from_entries(entries, "--model", args.threads))
        if norm is not None:  # --input-range / --mean --std: the first model's, like --labels and --task
            config.models[0] = replace(config.models[0], normalisation=norm)
    if getattr(args, "track", None) is not None:
        from .track_cli import parse_settings
        from .tracking_stage import TrackingSetup

        table = {**({"model": config.tracker.model} if config.tracker and config.tracker.model else {}),
                 **(vars(config.tracker.config) if config.tracker else {}), **parse_settings(args.track, "--track")}
        config.tracker = TrackingSetup.from_table(table, "--track")
    if (config.zones or config.lines) and config.tracker is None:
        raise ConfigError(f"{args.config}: [[zone]] and [[line]] count tracked objects; add a [tracker] table "
                          f"(or give --track)")
    config.source = args.source or config.source
    config.sinks = args.sink or config.sinks
    if not config.source:
        raise ConfigError("no source: give --source URI (or source = '...' in the config file)")
    check_uris(config.source, config.sinks)
    for spec in config.models:  # every file named, before the first model loads
        for key, path in (("path", spec.path), ("labels", spec.labels)):
            if path is not None and not Path(path).is_file():
                what = "no such file" if not Path(path).exists() else "not a file"
                raise ConfigError(f"model {spec.name!r}: {key} = {str(path)!r}: {what}")
    return config


def tracking_stage(config):
    """The tracker (and zones/lines) the config asks for, or None."""
    if config.tracker is None:
        return None
    from .tracking_stage import TrackingStage

    return TrackingStage(config.tracker, config.zones, config.lines)


def summary_lines(summary: dict) -> list[str]:
    st, lat = summary["stages_ms"], summary["latency_ms"]
    return [
        f"frames: {summary['frames']} in {summary['seconds']:.2f} s",
        f"fps: end-to-end {summary['fps']:.1f}, invoke-only {summary['invoke_fps']:.1f} "
        f"(invoke p50 {summary['infer_ms']['p50']:.1f} ms, p90 {summary['infer_ms']['p90']:.1f} ms)",
        "mean ms per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in st.items()),
        f"latency ms (capture to sink): p50 {lat['p50']:.1f}, p95 {lat['p95']:.1f}, max {lat['max']:.1f}",
        f"drops: {summary['drops']['capture']} before inference, {summary['drops']['output']} before output; "
        f"queue max {summary['queue_max']}; reconnects {summary['reconnects']} ({summary['gap_s']:.1f} s without frames)",
        *_damage_lines(summary.get("damaged") or {}),
    ]


def _damage_lines(damaged: dict) -> list[str]:
    lines = []
    if damaged.get("skipped_frames"):
        lines.append(f"damaged input: {damaged['skipped_frames']} undecodable frame(s) skipped in "
                     f"{damaged['stretches']} stretch(es); the frames around them were processed")
    if damaged.get("ended_early"):
        e = damaged["ended_early"]
        lines.append(f"ended early: {e['source']} stopped at frame {e['at_frame']} of the {e['listed_frames']} "
                     f"its index lists (truncated or damaged at the end)")
    return lines


def _main(args: argparse.Namespace) -> int:
    from .model_chain import ModelChain
    from .pipeline import Pipeline
    from .sinks import open_sink
    from .sources import open_source

    config = build_config(args)
    chain = ModelChain(config.models, tracking=tracking_stage(config))
    for stage in chain.stages:
        info = stage.engine.info
        plan = ""
        if info.plan is not None:  # the decoding plan, one line with the model (edge info explains it)
            norm = info.plan.normalisation.describe() + f" ({info.plan.normalisation.why})" \
                if info.plan.normalisation else info.plan.input_note
            plan = f"; family {info.plan.family}; resize {info.plan.resize.describe()}; input {norm}"
        print(f"model {stage.spec.name}: {stage.engine.describe()}; task {stage.task}; "
              f"info from {info.source}{plan}", file=sys.stderr)
        for note in info.plan.assumed if info.plan else ():
            print(f"edge: warning: model {stage.spec.name}: {note}", file=sys.stderr)
    source = open_source(config.source)
    sinks = []
    try:
        for uri in config.sinks:
            sinks.append(open_sink(uri))
            if sinks[-1].capabilities.serves:
                print(f"watch at {sinks[-1].name}", file=sys.stderr)
    except BaseException:
        for sink in sinks:
            sink.close()
        source.close()
        raise
    on_record = None if args.quiet else (lambda rec: print(_frame_line(rec), file=sys.stderr))
    pipeline = Pipeline(source, chain, sinks, queue_size=args.queue or (config.queue if args.config else None),
                        max_frames=args.max_frames, on_record=on_record)
    summary = pipeline.run()
    for line in summary_lines(summary):
        print(line)
    print("summary: " + json.dumps(summary), file=sys.stderr)
    if args.summary:
        _write_summary(Path(args.summary), summary)
    return 0


def _write_summary(path: Path, summary: dict) -> None:
    from .safe_write import replace_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, (json.dumps(summary, indent=2) + "\n").encode())
    except OSError as exc:
        raise SinkError(f"cannot write the summary to {path}: {exc.strerror or exc}") from exc


def _frame_line(record: dict) -> str:
    found = record.get("detections")
    what = f"{len(found)} detections" if found is not None else record["task"]
    t = record["timing_ms"]
    gap = f"; after a {record['gap']['seconds']} s gap" if "gap" in record else ""
    if "damaged" in record:
        gap += f"; after {record['damaged']['skipped_frames']} undecodable frame(s), skipped"
    return (f"frame {record['frame']} {record['source']}: {what}; infer {t.get('infer', 0):.1f} ms; "
            f"latency {record.get('latency_ms', 0):.1f} ms{gap}")


RUN = Command("run models over a source (file, camera, stream) into sinks, on a threaded pipeline",
              _arguments, _main)
