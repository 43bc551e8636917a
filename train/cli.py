"""Command line: ``python -m train synth|detect|pose|segment|enhance|classify ...``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from edge.schema import Field

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
    Field("ema", float, min=0.0, check=lambda d: None if d < 1.0 else "a decay in [0, 1) (0 = off)",
          expect="a decay in [0, 1) (0 = off)"),
)


def main(argv=None) -> int:
    from edge.errors import EdgeError
    from edge.schema import check_args

    from .run_folder import removed_on_failure
    from .task_cli import run_task

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
            return run_task(args)
    except (ValueError, EdgeError) as exc:  # AnnotationError, ModelConfigError, TrainConfigError, RunFolderError
        print(f"error: {exc}", file=sys.stderr)
        return 2
