"""Detection's registry entry (train/tasks.py): its options and training spec, metrics, the run's data for
export, its scorer through edge."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .tasks import HostTask, Metric, TaskData, check_labels, read_bgr


@lru_cache(maxsize=4)
def _load(root: str, fmt: str):
    from .datasets import load_detection_data

    return load_detection_data(root, fmt)


def _split(run, split: str) -> list:
    data = run.spec["data"]
    root = data.get("root") or str(Path(data["train"]).parent)
    loaded = _load(str(root), data["format"])
    check_labels(run, loaded.labels, root)
    return getattr(loaded, split).records


def training_records(run) -> list:
    """train.records.Record of the training split (image path, size, boxes xyxy pixels, class ids)."""
    return _split(run, "train")


def validation_records(run) -> list:
    return _split(run, "val")


def load(run) -> TaskData:
    return TaskData(training_records(run), validation_records(run), lambda rec: read_bgr(rec.image),
                    run.spec["data"]["train"])


def score(engine, adapter, data: TaskData, items: list) -> dict:
    from edge.metrics import mean_average_precision

    from .evaluate import IOU_THRESHOLD, SCORE_THRESHOLD  # the thresholds train's validation uses

    options = {"score": SCORE_THRESHOLD, "iou": IOU_THRESHOLD, "max_detections": 100}
    predictions, truths = [], []
    for rec in items:
        detections, _ = engine.run_frame(data.frame(rec), adapter, options)
        predictions.append(detections)
        truths.append((rec.boxes, rec.class_ids))
    return mean_average_precision(truths, predictions).as_dict()


def add_parser(sub, common):
    """``python -m train detect``: its options as they have always been (``common`` is not used: detection's
    --input-size help, its defaults and its lack of --synth-train/--synth-val are its own)."""
    from .common_options import add_epoch_options, add_strategy_option

    d = sub.add_parser("detect", help="train an object detector into a run folder")
    d.add_argument("--data", type=Path, help="dataset folder, or an Ultralytics data.yaml with --format yolo "
                                              "(layouts: docs/datasets.md; default: the synthetic set in "
                                              "data/synth-detect, generated when missing or made with other settings)")
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
    return d


def trainer(args):
    """The parsed command line -> the training spec train/task_fit.py fits (train/detect.py::DetectionTask)."""
    from .datasets import load_detection_data
    from .inspect import summarise_detection
    from .synth import SynthConfig, generate
    from .synthetic_cache import cached_synthetic
    from .task_cli import SYNTH_ROOT

    data_dir, fmt = args.data, args.format
    if data_dir is None:
        fmt, synth = "coco", SynthConfig(SYNTH_ROOT / "synth-detect", seed=args.seed)
        settings = {"generator": "detect", "version": 1, "train": synth.train, "val": synth.val,
                    "size": synth.size, "seed": synth.seed, "max_objects": synth.max_objects}
        data_dir = cached_synthetic(synth.out, settings, lambda _: generate(synth), "the synthetic dataset")
    data = load_detection_data(data_dir, fmt, skip_bad=args.skip_bad)
    print(summarise_detection(data).text(), flush=True)
    if data.skipped:
        print(f"skipped {data.skipped} bad annotation(s) (--skip-bad)", flush=True)
    from .detect import TrainConfig, detection_spec
    from .pipeline import AugmentConfig

    return detection_spec(TrainConfig(out=args.out, batch=args.batch, input_size=args.input_size, width=args.width,
                                      seed=args.seed, augment=AugmentConfig(vflip=args.vflip)), data)


TASK = HostTask("detect", (Metric("map50", "mAP@0.5"), Metric("map50_95", "mAP@0.5:0.95")), load, score,
                add_parser=add_parser, trainer=trainer)
