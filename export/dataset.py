"""The run's own data, read with train's readers: training images for calibration, validation for scoring."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .errors import CalibrationError
from .run_folder import Run


@lru_cache(maxsize=4)
def _load(root: str, fmt: str):
    from train.datasets import load_detection_data
    from train.records import AnnotationError

    try:
        return load_detection_data(root, fmt)
    except AnnotationError as exc:
        raise CalibrationError(f"cannot read the run's data: {exc}") from exc


def _split(run: Run, split: str):
    data = run.spec["data"]
    root = data.get("root") or str(Path(data["train"]).parent)
    loaded = _load(str(root), data["format"])
    labels = list(loaded.labels)
    if labels != run.labels:
        raise CalibrationError(
            f"{run.path / 'run.json'}: labels {run.labels} differ from the data's {labels} in {root}; "
            f"the data changed since training")
    return getattr(loaded, split).records


def training_records(run: Run) -> list:
    """train.records.Record of the training split (image path, size, boxes xyxy pixels, class ids)."""
    return _split(run, "train")


def validation_records(run: Run) -> list:
    return _split(run, "val")
