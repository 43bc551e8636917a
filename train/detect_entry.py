"""Detection's registry entry (train/tasks.py): its metrics, the run's data for export, its scorer through edge."""

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


TASK = HostTask("detect", (Metric("map50", "mAP@0.5"), Metric("map50_95", "mAP@0.5:0.95")), load, score)
