"""What a dataset holds, before training on it: ``python -m train inspect --data DIR [--task ...] [--format ...]``.

Per split: images, images without objects, boxes (detection), pixels (segmentation) or images (classification)
per class, and the annotations a reader skipped, grouped by why. Warnings: a class with nothing in a split,
tiny boxes (shorter side under ``TINY_SIDE`` of the image's: under 2 pixels at a 192 input), boxes outside
their image (skipped), class imbalance (the most frequent class over ``IMBALANCE`` times the rarest).
TensorFlow is never imported here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

TINY_SIDE = 0.01
IMBALANCE = 10.0


@dataclass
class SplitSummary:
    name: str
    images: int
    per_class: dict  # label -> count (boxes, pixels or images)
    unit: str  # "boxes", "pixels", "images"
    empty_images: int = 0  # images without any object (detection) or only background/ignore (segmentation)
    tiny: int = 0
    ignored_pixels: int = 0
    skipped: dict = field(default_factory=dict)  # why -> count
    skipped_examples: list = field(default_factory=list)


@dataclass
class DatasetSummary:
    task: str
    root: str
    labels: tuple[str, ...]
    splits: list[SplitSummary]
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        width = max([len(n) for n in self.labels] + [5])
        lines = [f"dataset {self.root} ({self.task}, {len(self.labels)} classes)"]
        for s in self.splits:
            extra = f", {s.empty_images} without objects" if s.unit == "boxes" else ""
            if s.unit == "pixels":
                extra = f", {s.ignored_pixels} pixels ignored"
            lines.append(f"  {s.name}: {s.images} images, {sum(s.per_class.values())} {s.unit}{extra}")
            for label in self.labels:
                lines.append(f"    {label:<{width}}  {s.per_class.get(label, 0):>10}")
            if s.tiny:
                lines.append(f"    tiny boxes (shorter side < {TINY_SIDE:.0%} of the image's): {s.tiny}")
            for why, n in sorted(s.skipped.items(), key=lambda kv: -kv[1]):
                lines.append(f"    skipped {n}: {why}")
            for example in s.skipped_examples[:3]:
                lines.append(f"      e.g. {example}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# What a reader's problem message says, reduced to why (the file and numbers taken out).
_REASONS = (("outside the", "box outside its image"), ("zero or negative size", "box of zero or negative size"),
            ("unknown class", "unknown class"), ("unknown category_id", "unknown class"),
            ("not an image", "not an image file"), ("cut short", "image file cut short"),
            ("does not exist", "file does not exist"), ("fields; expected", "malformed label line"),
            ("non-finite", "non-finite coordinate"), ("malformed", "malformed annotation file"))


def skip_reason(message: str) -> str:
    for key, why in _REASONS:
        if key in message:
            return why
    return re.sub(r"^\S+: ", "", message)[:80]


def _warnings(summary: DatasetSummary) -> list[str]:
    out = []
    for s in summary.splits:
        missing = [label for label in summary.labels if s.per_class.get(label, 0) == 0 and label != "background"]
        if missing:
            out.append(f"{s.name}: no {s.unit} of class(es) {', '.join(missing)}")
        counts = [c for c in s.per_class.values() if c > 0]
        if len(counts) > 1 and max(counts) > IMBALANCE * min(counts):
            most = max(s.per_class, key=s.per_class.get)
            least = min((k for k in s.per_class if s.per_class[k] > 0), key=s.per_class.get)
            out.append(f"{s.name}: class imbalance: {most} has {s.per_class[most]} {s.unit}, {least} "
                       f"{s.per_class[least]} ({max(counts) / min(counts):.0f}x)")
        if s.tiny:
            total = sum(s.per_class.values())
            out.append(f"{s.name}: {s.tiny} of {total} boxes are tiny (shorter side < {TINY_SIDE:.0%} of the "
                       "image's); the model may not see them")
        outside = s.skipped.get("box outside its image", 0)
        if outside:
            out.append(f"{s.name}: {outside} box(es) lie outside their image and were skipped")
    return out


def _skipped(messages: list[str]) -> tuple[dict, list]:
    return dict(Counter(skip_reason(m) for m in messages)), list(messages[:3])


def summarise_detection(data) -> DatasetSummary:
    """A train.datasets.LoadedData (read with skip_bad=True to see every problem) -> DatasetSummary."""
    labels = data.labels
    splits = []
    for name, split in (("train", data.train), ("val", data.val)):
        counts = Counter()
        tiny = empty = 0
        for rec in split.records:
            if not len(rec.class_ids):
                empty += 1
            counts.update(labels[c] for c in rec.class_ids.tolist())
            if len(rec.boxes):
                w = (rec.boxes[:, 2] - rec.boxes[:, 0]) / rec.width
                h = (rec.boxes[:, 3] - rec.boxes[:, 1]) / rec.height
                tiny += int(np.sum(np.minimum(w, h) < TINY_SIDE))
        skipped, examples = _skipped(split.problems)
        splits.append(SplitSummary(name, len(split.records), {k: counts.get(k, 0) for k in labels}, "boxes",
                                   empty, tiny, skipped=skipped, skipped_examples=examples))
    summary = DatasetSummary("detect", str(data.info.get("root")), labels, splits)
    summary.warnings = _warnings(summary)
    return summary


def summarise_segmentation(root, train, val, load_sample, ignore_index: int = 255) -> DatasetSummary:
    """Pixels per class over every mask of two SegSplits (``load_sample(sample) -> (image, class map)``)."""
    labels = train.labels
    splits = []
    for name, split in (("train", train), ("val", val)):
        counts = np.zeros(256, np.int64)
        empty = 0
        for sample in split.samples:
            _, mask = load_sample(sample)
            hist = np.bincount(mask.reshape(-1), minlength=256)
            counts += hist
            if hist[1:len(labels)].sum() == 0:
                empty += 1
        per_class = {label: int(counts[i]) for i, label in enumerate(labels)}
        splits.append(SplitSummary(name, len(split.samples), per_class, "pixels", empty,
                                   ignored_pixels=int(counts[ignore_index]) if ignore_index < 256 else 0))
    summary = DatasetSummary("segment", str(root), labels, splits)
    summary.warnings = _warnings(summary)
    return summary


def summarise_classification(root, train, val) -> DatasetSummary:
    labels = train.labels
    splits = []
    for name, split in (("train", train), ("val", val)):
        counts = np.bincount(split.class_ids, minlength=len(labels))
        splits.append(SplitSummary(name, len(split.images), {lab: int(counts[i]) for i, lab in enumerate(labels)},
                                   "images"))
    summary = DatasetSummary("classify", str(root), labels, splits)
    summary.warnings = _warnings(summary)
    return summary


def inspect_dataset(data, task: str = "detect", fmt: str | None = None,
                    segment_options: dict | None = None) -> DatasetSummary:
    """Read ``--data`` with the task's reader (problems counted, not raised) and summarise it.
    ``segment_options``: ignore_index, classes, value_map (as ``train segment`` takes them)."""
    from pathlib import Path

    if task == "detect":
        from .datasets import load_detection_data

        return summarise_detection(load_detection_data(data, fmt or "coco", skip_bad=True))
    if task == "segment":
        from .segment.data import load_sample
        from .task_cli import read_segment_data

        train, val, _ = read_segment_data(Path(data), fmt or "voc", **(segment_options or {}))
        return summarise_segmentation(data, train, val, load_sample)
    if task == "classify":
        from .classify.data import read_dataset

        train, val = read_dataset(Path(data))
        return summarise_classification(data, train, val)
    raise ValueError(f"--task {task!r}: inspect knows detect, segment and classify")


def add_inspect_parser(sub) -> None:
    i = sub.add_parser("inspect", help="summarise a dataset (images, boxes/pixels/images per class, skipped "
                                       "annotations and why, warnings) without training")
    i.add_argument("--data", required=True, help="dataset folder (or an Ultralytics data.yaml with --format yolo)")
    i.add_argument("--task", choices=("detect", "segment", "classify"), default="detect")
    i.add_argument("--format", choices=("coco", "voc", "yolo", "folders"), default=None,
                   help="detect: coco (default), voc or yolo; segment: voc (default), folders or coco")
    i.add_argument("--ignore-index", type=int, default=255, help="segment: the masks' ignore value")
    i.add_argument("--classes", help="segment: class names file, one per line")
    i.add_argument("--value-map", help="segment: JSON/YAML {mask value: class | \"ignore\"}")


def run_inspect(args) -> int:
    seg = {"ignore_index": args.ignore_index, "classes": args.classes, "value_map": args.value_map}
    summary = inspect_dataset(args.data, args.task, args.format, seg if args.task == "segment" else None)
    print(summary.text())
    return 0
