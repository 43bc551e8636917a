"""``python -m train TASK`` for every registered task (detect, pose, segment, enhance, classify, and any task
added to train/tasks.py), all trained by train/task_fit.py::fit: the options they share, and what runs them.

Each task's own options and the code that turns them into its training spec live in its registry entry
(``train/<task>/entry.py``: ``add_parser(subparsers, common)``, ``trainer(args)``). ``add_task_parsers`` adds
the sub-commands to train/cli.py's parser; ``run_task(args)`` runs one. Without ``--data`` each task generates
(once) and trains on its built-in synthetic set.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import tasks
from .common_options import add_epoch_options, add_strategy_option

SYNTH_ROOT = Path("data")


def _common(p: argparse.ArgumentParser, epochs: int, batch: int, size: int | None, lr: float) -> None:
    """Options every task command has; ``size`` None: the task has no square input or backbone width (enhance
    sets its resolution with --input-width/--input-height), so --input-size and --width are not offered."""
    p.add_argument("--out", type=Path, required=True, help="run folder, e.g. runs/NAME")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch", type=int, default=batch)
    if size is not None:
        p.add_argument("--input-size", type=int, default=size, help="square model input, a multiple of 32")
        p.add_argument("--width", type=float, default=0.35, help="backbone width multiplier")
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--synth-train", type=int, default=None, help="synthetic training images (no --data)")
    p.add_argument("--synth-val", type=int, default=None, help="synthetic validation images (no --data)")
    add_strategy_option(p)
    add_epoch_options(p)


def add_task_parsers(sub) -> None:
    """One sub-command per registered task with a trainer (its entry's ``add_parser``)."""
    for name in fit_tasks():
        tasks.get(name).add_parser(sub, _common)


def fit_tasks() -> tuple[str, ...]:
    """The registered tasks that ``python -m train`` trains (those whose entry has a trainer: all of ours)."""
    return tuple(n for n in tasks.names() if tasks.get(n).trainer is not None)


def _fit_config(args):
    from .task_fit import FitConfig

    return FitConfig(out=args.out, epochs=args.epochs, batch_size=args.batch, learning_rate=args.lr,
                     resume=args.resume, seed=args.seed, strategy=args.strategy, patience=args.patience,
                     weights=args.weights, freeze_epochs=args.freeze_epochs, show_progress=not args.no_progress,
                     width=getattr(args, "width", None), precision=args.precision, ema=args.ema)


def synth_counts(args, train: int, val: int) -> tuple[int, int]:
    return (args.synth_train or train), (args.synth_val or val)


def refuse_ultralytics(root, task: str, reads: str) -> None:
    """An Ultralytics data.yaml given to a task that cannot train on it is refused by name, not misread."""
    from .records import AnnotationError

    root = Path(root)
    yaml = root if root.suffix in (".yaml", ".yml") else next(
        (root / n for n in ("data.yaml", "data.yml") if (root / n).is_file()), None)
    if yaml is None or not yaml.is_file():
        return
    kind = "pose keypoints (kpt_shape)" if "kpt_shape" in yaml.read_text() else "YOLO labels"
    raise AnnotationError(f"{yaml}: an Ultralytics dataset with {kind}; `train {task}` reads {reads}. Its boxes "
                          "(and segment polygons' or poses' boxes) train a detector: python -m train detect "
                          f"--data {yaml} --format yolo")


def read_segment_data(root, fmt: str, ignore_index: int = 255, classes=None, value_map=None):
    """(train SegSplit, val SegSplit, run.json "data") for ``--data ROOT --format voc|coco|folders``."""
    from .records import AnnotationError
    from .segment.data import (MaskValues, read_class_list, read_coco_split, read_mask_folders, read_value_map,
                               read_voc_split)

    root = Path(root)
    refuse_ultralytics(root, "segment", "mask PNGs (--format voc or folders) or COCO JSON with polygons/RLE "
                                        "(--format coco)")
    labels = read_class_list(classes) if classes else None
    if fmt == "coco":
        if classes or value_map or ignore_index != 255:
            raise AnnotationError("--classes, --value-map and --ignore-index apply to mask PNGs (--format voc or "
                                  "folders); COCO JSON names its own categories")
        train, val = read_coco_split(root / "train.json"), read_coco_split(root / "val.json")
    else:
        reader = read_voc_split if fmt == "voc" else read_mask_folders
        if value_map and labels is None:  # the map's class names need the class list first
            labels = reader(root, "train", check_sizes=False).labels
        values = MaskValues.from_pairs(ignore_index, read_value_map(value_map, labels) if value_map else ())
        train = reader(root, "train", values=values, labels=labels)
        val = reader(root, "val", values=values, labels=train.labels)
    r = root.resolve()
    if fmt == "voc":
        splits = {s: str(r / "ImageSets" / "Segmentation" / f"{s}.txt") for s in ("train", "val")}
    elif fmt == "coco":
        splits = {s: str(r / f"{s}.json") for s in ("train", "val")}
    else:
        splits = {s: str(train.samples[0].image.parent if s == "train" else val.samples[0].image.parent)
                  for s in ("train", "val")}
    info = {"format": fmt, "root": str(r), **splits}
    if fmt != "coco":
        info.update(values.info())
        if classes:
            info["classes"] = str(Path(classes).resolve())
    return train, val, info


def run_task(args) -> int:
    from .device import start_tensorflow
    from .epochs import check_epoch_options

    # option conflicts before any data is read or TensorFlow starts (so no run folder is made)
    check_epoch_options(args.epochs, args.patience, args.freeze_epochs, args.weights, args.strategy == "multiworker")
    start_tensorflow()
    from .task_fit import fit

    spec = tasks.get(args.command).trainer(args)
    t0 = time.time()
    result = fit(spec, _fit_config(args))
    from .distribute import is_chief_process

    if not is_chief_process(args.strategy):
        return 0
    from .device_validation import score_saved_model

    return score_saved_model(args.out, result.metrics, time.time() - t0, len(spec.run_fields()["labels"]))
