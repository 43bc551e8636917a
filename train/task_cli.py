"""``python -m train pose|segment|enhance|classify``: the options of each task, and what runs them.

``add_task_parsers(subparsers)`` adds the four sub-commands to train/cli.py's parser; ``run_task(args)``
runs one. Without ``--data`` each task generates (once) and trains on its built-in synthetic set.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

TASKS = ("pose", "segment", "enhance", "classify")
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
    from .cli import add_epoch_options, add_strategy_option

    add_strategy_option(p)
    add_epoch_options(p)


def add_task_parsers(sub) -> None:
    c = sub.add_parser("classify", help="train an image classifier (folder-per-class data)")
    c.add_argument("--data", type=Path, help="ROOT with ROOT/train/<class>/ and ROOT/val/<class>/ image folders "
                                             "(default: the synthetic shapes set in data/synth-classify)")
    c.add_argument("--augment", choices=("none", "flip", "dihedral"), default=None,
                   help="label-preserving training views: flip = mirrored left-right; dihedral = also any quarter "
                        "turn, for objects with no upright pose (default: flip with --data; dihedral for the "
                        "synthetic shapes, drawn at random angles)")
    _common(c, epochs=8, batch=32, size=96, lr=2e-3)
    s = sub.add_parser("segment", help="train a semantic segmenter (VOC mask folders or COCO polygons/RLE)")
    s.add_argument("--data", type=Path, help="VOC layout root (JPEGImages/, SegmentationClass/, ImageSets/"
                                             "Segmentation/{train,val}.txt), or a COCO root with train.json and "
                                             "val.json (default: synthetic shapes in data/synth-segment)")
    s.add_argument("--format", choices=("voc", "coco", "folders"), default="voc",
                   help="folders: ROOT/images/{train,val}/ + ROOT/masks/{train,val}/, or CamVid's ROOT/train/ + "
                        "ROOT/trainannot/")
    s.add_argument("--ignore-index", type=int, default=255,
                   help="mask value of pixels no loss or metric counts (default 255; CamVid: 11)")
    s.add_argument("--classes", type=Path, help="class names, one per line, class 0 first (default: ROOT/labels.txt)")
    s.add_argument("--value-map", type=Path, help="JSON/YAML {mask value: class name | index | \"ignore\"}, e.g. "
                                                 "COCO category ids -> contiguous classes")
    s.add_argument("--argmax", action="store_true", help="save the model with an ArgMax class-map output")
    _common(s, epochs=10, batch=16, size=128, lr=3e-3)
    p = sub.add_parser("pose", help="train a single-person keypoint model (COCO keypoints JSON)")
    p.add_argument("--data", type=Path, help="folder with train.json and val.json in COCO keypoints format, image "
                                             "paths relative to it (default: stick figures in data/synth-pose)")
    _common(p, epochs=12, batch=32, size=128, lr=3e-3)
    e = sub.add_parser("enhance", help="train a low-light enhancer (Zero-DCE++ style curves)")
    e.add_argument("--data", type=Path, help="folder with train/ and val/: low-light images (unpaired), LOL "
                                             "low/ + high/ (paired), or normal images (darken) (default: "
                                             "synthetic normal images in data/synth-enhance, darkened)")
    e.add_argument("--mode", choices=("auto", "unpaired", "paired", "darken"), default="auto",
                   help="auto: paired where low/ and high/ exist, else unpaired")
    e.add_argument("--input-width", type=int, default=160, help="reduced resolution the curves are estimated at")
    e.add_argument("--input-height", type=int, default=120)
    e.add_argument("--train-scale", type=int, default=2, help="training crops are this many times the input")
    _common(e, epochs=10, batch=16, size=None, lr=3e-3)


def _fit_config(args):
    from .task_fit import FitConfig

    return FitConfig(out=args.out, epochs=args.epochs, batch_size=args.batch, learning_rate=args.lr,
                     resume=args.resume, seed=args.seed, strategy=args.strategy, patience=args.patience,
                     weights=args.weights, freeze_epochs=args.freeze_epochs, show_progress=not args.no_progress,
                     width=getattr(args, "width", None))


def _synth_counts(args, train: int, val: int) -> tuple[int, int]:
    return (args.synth_train or train), (args.synth_val or val)


def _classify(args):
    from .classify.data import generate_synthetic, read_dataset, synthetic_matches
    from .classify.task import ClassifyConfig, ClassifyTask

    root = args.data
    if root is None:
        root = SYNTH_ROOT / "synth-classify"
        n_train, n_val = _synth_counts(args, 1000, 200)
        # regenerated when the cached set was made by another generator version, size, seed or count
        if not synthetic_matches(root, n_train, n_val, args.input_size, args.seed):
            print(f"no --data given: generating the synthetic classification set in {root}", flush=True)
            generate_synthetic(root, n_train, n_val, size=args.input_size, seed=args.seed)
    train, val = read_dataset(root)
    r = Path(root).resolve()
    info = {"format": "class_folders", "root": str(r), "train": str(r / "train"), "val": str(r / "val")}
    augment = args.augment or ("flip" if args.data is not None else "dihedral")
    cfg = ClassifyConfig(args.input_size, args.width, augment=augment)
    from .inspect import summarise_classification

    print(summarise_classification(root, train, val).text(), flush=True)
    return ClassifyTask(train, val, cfg, args.batch, args.seed, info)


def _segment(args):
    from .segment.data import generate_synthetic, read_coco_split, read_voc_split, synthetic_matches
    from .segment.task import SegmentConfig, SegmentTask

    root, fmt = args.data, args.format
    if root is None:
        root, fmt = SYNTH_ROOT / "synth-segment", "voc"
        n_train, n_val = _synth_counts(args, 600, 100)
        # regenerated when the cached set was made by another generator version, size, seed or count
        if not synthetic_matches(root, n_train, n_val, args.input_size, args.seed):
            print(f"no --data given: generating the synthetic segmentation set in {root}", flush=True)
            generate_synthetic(root, n_train, n_val, size=args.input_size, seed=args.seed)
    train, val, info = read_segment_data(root, fmt, getattr(args, "ignore_index", 255), getattr(args, "classes", None),
                                         getattr(args, "value_map", None))
    from .inspect import summarise_segmentation
    from .segment.data import load_sample

    print(summarise_segmentation(root, train, val, load_sample).text(), flush=True)
    return SegmentTask(train, val, SegmentConfig(args.input_size, args.width, argmax=args.argmax), args.batch,
                       args.seed, info)


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


def _pose(args):
    from .pose.data import read_coco_keypoints
    from .pose.synthetic import generate_synthetic
    from .pose.task import PoseConfig, PoseTask

    root = args.data
    if root is None:
        root = SYNTH_ROOT / "synth-pose"
        if not (root / "val.json").is_file():
            n_train, n_val = _synth_counts(args, 1000, 150)
            print(f"no --data given: generating the synthetic stick figures in {root}", flush=True)
            generate_synthetic(root, n_train, n_val, size=max(args.input_size, 128), seed=args.seed)
    refuse_ultralytics(root, "pose", "COCO keypoints JSON: ROOT/train.json and ROOT/val.json")
    train, val = read_coco_keypoints(Path(root) / "train.json"), read_coco_keypoints(Path(root) / "val.json")
    info = {"format": "coco_keypoints", "root": str(Path(root).resolve()),
            "train": str((Path(root) / "train.json").resolve()), "val": str((Path(root) / "val.json").resolve())}
    return PoseTask(train, val, PoseConfig(args.input_size, args.width), args.batch, args.seed, info)


def _enhance(args):
    from .enhance.data import generate_normal_images, read_split
    from .enhance.task import EnhanceConfig, EnhanceTask

    root, mode = args.data, args.mode
    if root is None:
        root, mode = SYNTH_ROOT / "synth-enhance", "darken"
        if not (root / "val").is_dir():
            n_train, n_val = _synth_counts(args, 400, 40)
            print(f"no --data given: generating normal images to darken in {root}", flush=True)
            generate_normal_images(root, n_train, n_val, args.input_width * args.train_scale,
                                   args.input_height * args.train_scale, seed=args.seed)
    train, val = read_split(Path(root) / "train", mode), read_split(Path(root) / "val", mode)
    cfg = EnhanceConfig(width=args.input_width, height=args.input_height, scale=args.train_scale)
    r = Path(root).resolve()
    # darken_seed: the validation pairs are darkened with this seed, so export scores the same pairs
    info = {"format": train.mode, "root": str(r), "train": str(r / "train"), "val": str(r / "val"),
            "darken_seed": args.seed}
    return EnhanceTask(train, val, cfg, args.batch, args.seed, info)


_BUILDERS = {"classify": _classify, "segment": _segment, "pose": _pose, "enhance": _enhance}


def run_task(args) -> int:
    from .device import start_tensorflow
    from .epochs import check_epoch_options

    # option conflicts before any data is read or TensorFlow starts (so no run folder is made)
    check_epoch_options(args.epochs, args.patience, args.freeze_epochs, args.weights, args.strategy == "multiworker")
    start_tensorflow()
    from .task_fit import fit

    spec = _BUILDERS[args.command](args)
    t0 = time.time()
    result = fit(spec, _fit_config(args))
    from .distribute import is_chief_process

    if not is_chief_process(args.strategy):
        return 0
    from .device_validation import score_saved_model

    return score_saved_model(args.out, result.metrics, time.time() - t0, len(spec.run_fields()["labels"]))
