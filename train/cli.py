"""Command line: ``python -m train synth|detect|pose|segment|enhance|classify ...``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from edge.schema import Field

from .common_options import add_epoch_options, add_strategy_option

DEFAULT_SYNTH = Path("data/synth")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train", description="Host-side training for edgevision.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("synth", help="write the built-in synthetic shapes dataset (COCO JSON + JPEGs)")
    s.add_argument("--out", type=Path, default=DEFAULT_SYNTH)
    s.add_argument("--train", type=int, default=1500, help="training images (default 1500)")
    s.add_argument("--val", type=int, default=300, help="validation images (default 300)")
    s.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    s.add_argument("--seed", type=int, default=0)
    d = sub.add_parser("detect", help="train an object detector into a run folder")
    d.add_argument("--data", type=Path, help="dataset folder, or an Ultralytics data.yaml with --format yolo "
                                              "(layouts: docs/datasets.md; default: the synthetic set in "
                                              "data/synth, generated when missing)")
    d.add_argument("--format", choices=("coco", "voc", "yolo"), default="coco")
    d.add_argument("--out", type=Path, required=True, help="run folder, e.g. runs/shapes")
    d.add_argument("--epochs", type=int, default=16)
    d.add_argument("--batch", type=int, default=16)
    d.add_argument("--input-size", type=int, default=192, help="square model input, multiple of 32 in 192..640")
    d.add_argument("--width", type=float, default=0.35, help="backbone width multiplier")
    d.add_argument("--lr", type=float, default=8e-3)
    d.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    d.add_argument("--vflip", type=float, default=0.0,
                   help="probability of a vertical flip per training image, for scenes with no up or down "
                        "(microscope slides, aerial views; default 0: never)")
    d.add_argument("--skip-bad", action="store_true", help="drop broken annotations (counted) instead of failing")
    d.add_argument("--seed", type=int, default=0)
    add_epoch_options(d)
    add_strategy_option(d)
    from .inspect import add_inspect_parser
    from .task_cli import add_task_parsers

    add_task_parsers(sub)
    add_inspect_parser(sub)
    return p


def _synth(args) -> int:
    from .synth import SynthConfig, generate

    t0 = time.time()
    train_json, val_json = generate(SynthConfig(args.out, args.train, args.val, args.size, args.seed))
    print(f"wrote {train_json} and {val_json} in {time.time() - t0:.1f} s")
    return 0


def _detect(args) -> int:
    from .datasets import load_detection_data
    from .synth import SynthConfig, generate

    from .epochs import check_epoch_options

    check_epoch_options(args.epochs, args.patience, args.freeze_epochs, args.weights, args.strategy == "multiworker")
    data_dir, fmt = args.data, args.format
    if data_dir is None:
        data_dir, fmt = DEFAULT_SYNTH, "coco"
        if not (data_dir / "train.json").is_file():
            print(f"no --data given: generating the synthetic dataset in {data_dir}", flush=True)
            generate(SynthConfig(data_dir, seed=args.seed))
    data = load_detection_data(data_dir, fmt, skip_bad=args.skip_bad)
    from .inspect import summarise_detection

    print(summarise_detection(data).text(), flush=True)
    if data.skipped:
        print(f"skipped {data.skipped} bad annotation(s) (--skip-bad)", flush=True)
    from .device import start_tensorflow

    start_tensorflow()
    from .detect import TrainConfig, train_detector  # TensorFlow loads only once the data has been read
    from .pipeline import AugmentConfig

    cfg = TrainConfig(out=args.out, epochs=args.epochs, batch=args.batch, input_size=args.input_size,
                      width=args.width, lr=args.lr, seed=args.seed, resume=args.resume, weights=args.weights,
                      show_progress=not args.no_progress, strategy=args.strategy, patience=args.patience,
                      freeze_epochs=args.freeze_epochs, augment=AugmentConfig(vflip=args.vflip))
    t0 = time.time()
    run = train_detector(cfg, data)
    from .distribute import is_chief_process

    if not is_chief_process(args.strategy):
        return 0
    from .device_validation import score_saved_model

    return score_saved_model(args.out, run["metrics"], time.time() - t0, len(run.get("labels", [])))


def _weights_check(spec) -> str | None:
    """--weights names a file, a run folder (its model.keras) or a file name in Keras' cache folder
    (train/transfer.py::resolve_weights reads it; this check runs before TensorFlow loads)."""
    path = Path(spec).expanduser()
    if path.is_file() or (path / "model.keras").is_file():
        return None
    cache = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"
    if path.name == str(spec) and (cache / path.name).is_file():
        return None
    return (f"an existing .keras or .h5 file, a run folder with model.keras, or a file name in Keras' cache "
            f"folder {cache} (weights are never downloaded)")


def _input_size_check(size: int) -> str | None:
    if 32 <= size <= 2048 and size % 32 == 0:
        return None
    return "a multiple of 32 in 32..2048 (the models' largest stride is 32)"


# Types and ranges of every numeric option of every train command, checked before data is read or
# TensorFlow is imported; an option a command lacks is skipped.
OPTION_FIELDS = (
    Field("epochs", int, min=1, max=100000),
    Field("batch", int, min=1, max=65536),
    Field("input_size", int, check=_input_size_check),
    Field("width", float, above=0, max=4.0, expect="a width multiplier > 0 and <= 4"),
    Field("lr", float, above=0, max=10.0, expect="a learning rate > 0 and <= 10"),
    Field("vflip", float, min=0.0, max=1.0, expect="a probability in 0..1"),
    Field("seed", int, min=0, max=2**32 - 1),
    Field("train", int, min=1, max=10_000_000),
    Field("val", int, min=1, max=10_000_000),
    Field("size", int, min=32, max=8192),
    Field("synth_train", int, min=1, max=10_000_000),
    Field("synth_val", int, min=1, max=10_000_000),
    Field("input_width", int, min=8, max=8192),
    Field("input_height", int, min=8, max=8192),
    Field("train_scale", int, min=1, max=64),
    Field("ignore_index", int, min=0, max=65535, doc="mask value left out of the loss"),
    Field("data", object, check=lambda p: None if Path(p).is_dir() else "an existing dataset folder"),
    Field("classes", object, check=lambda p: None if Path(p).is_file() else "an existing file, one class name per line"),
    Field("value_map", object, check=lambda p: None if Path(p).is_file() else "an existing JSON or YAML file"),
    Field("weights", object, check=lambda p: _weights_check(p)),
    Field("patience", int, min=0, max=100000),
    Field("freeze_epochs", int, min=0, max=100000),
)


def main(argv=None) -> int:
    from edge.errors import EdgeError
    from edge.schema import check_args

    from .run_folder import removed_on_failure
    from .task_cli import fit_tasks, run_task

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("absl").setLevel(logging.WARNING)  # "Sharding callback duration" at every checkpoint
    try:
        check_args(args, OPTION_FIELDS)
        if args.command == "synth":
            return _synth(args)
        if args.command == "inspect":
            from .inspect import run_inspect

            return run_inspect(args)
        with removed_on_failure(args.out, args.resume, say=lambda text: print(text, file=sys.stderr)):
            return run_task(args) if args.command in fit_tasks() else _detect(args)
    except (ValueError, EdgeError) as exc:  # AnnotationError, ModelConfigError, TrainConfigError, RunFolderError
        print(f"error: {exc}", file=sys.stderr)
        return 2
