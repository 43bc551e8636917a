"""Segmentation's registry entry (train/tasks.py): metrics, the run's data for export, its scorer through edge."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..tasks import HostTask, Metric, TaskData, TaskDataError, check_labels, read_bgr, rgb_to_bgr


def load(run) -> TaskData:
    from .data import MaskValues, read_class_list, read_coco_split, read_mask_folders, read_voc_split

    data = run.spec["data"]
    if data["format"] in ("voc", "folders"):  # the masks read as training read them: ignore value, value map
        reader = read_voc_split if data["format"] == "voc" else read_mask_folders
        values = MaskValues.from_info(data)
        labels = read_class_list(data["classes"]) if data.get("classes") else None
        train, val = (reader(Path(data["root"]), s, values=values, labels=labels) for s in ("train", "val"))
    elif data["format"] == "coco":
        train, val = (read_coco_split(Path(data[s])) for s in ("train", "val"))
    else:
        raise TaskDataError(f"{Path(run.path) / 'run.json'}: data.format {data['format']!r}; "
                            "expected 'voc', 'folders' or 'coco'")
    check_labels(run, train.labels, data["root"])
    return TaskData(train.samples, val.samples, lambda s: read_bgr(s.image), data["train"])


def score(engine, adapter, data: TaskData, items: list) -> dict:
    from edge.metrics_tasks import confusion_matrix, scores_from_confusion

    from .data import load_sample

    n = len(engine.info.labels)
    conf = np.zeros((n, n), np.int64)
    for sample in items:
        image_rgb, mask = load_sample(sample)
        seg, _ = engine.run_frame(rgb_to_bgr(image_rgb), adapter, {})
        conf += confusion_matrix(mask, seg.class_map, n)
    return scores_from_confusion(conf).as_dict()


def add_parser(sub, common):
    """``python -m train segment``: the task's own options; ``common`` adds the ones every task has."""
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
    common(s, epochs=10, batch=16, size=128, lr=3e-3)
    return s


def trainer(args):
    """The parsed command line -> the training spec train/task_fit.py fits."""
    from ..synthetic_cache import cached_synthetic
    from ..task_cli import SYNTH_ROOT, synth_counts, read_segment_data
    from .data import SYNTH_VERSION, generate_synthetic, read_coco_split, read_voc_split
    from .task import SegmentConfig, SegmentTask

    root, fmt = args.data, args.format
    if root is None:
        fmt = "voc"
        n_train, n_val = synth_counts(args, 600, 100)
        settings = {"generator": "segment", "version": SYNTH_VERSION, "train": n_train, "val": n_val,
                    "size": args.input_size, "seed": args.seed}
        root = cached_synthetic(SYNTH_ROOT / "synth-segment", settings, lambda r: generate_synthetic(
            r, n_train, n_val, size=args.input_size, seed=args.seed), "the synthetic segmentation set")
    train, val, info = read_segment_data(root, fmt, getattr(args, "ignore_index", 255), getattr(args, "classes", None),
                                         getattr(args, "value_map", None))
    from ..inspect import summarise_segmentation
    from .data import load_sample

    print(summarise_segmentation(root, train, val, load_sample).text(), flush=True)
    return SegmentTask(train, val, SegmentConfig(args.input_size, args.width, argmax=args.argmax), args.batch,
                       args.seed, info)


TASK = HostTask("segment", (Metric("miou", "mIoU"), Metric("pixel_accuracy", "pixel accuracy")),
                load, score, add_parser=add_parser, trainer=trainer)
