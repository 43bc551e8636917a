"""The host's task registry: one entry per task, where export, its report, the run's validation figure, the
training loop's best-epoch choice and the demo look a task up instead of keeping tables of their own.

An entry (``HostTask``) says how ``python -m train NAME`` parses its options and builds what is trained, what
a task is judged by (its ``Metric`` list, the headline first), which data a
run of it exports with (``load``: calibration items, validation items and the frame the device sees for each)
and how a .tflite of it is scored through edge (``score``: edge Engine + the task's adapter + edge's metrics,
the code the device runs). Each task keeps its entry beside its own code: ``train/<task>/entry.py``
(detection, which predates the task folders: ``train/detect_entry.py``); ``TASK_MODULES`` below is the one line
per task. Importing this module is cheap (no TensorFlow); an entry is imported when first asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

# task -> the module whose ``TASK`` is its entry. The order is the order tasks are listed in.
TASK_MODULES: dict[str, str] = {
    "detect": "train.detect_entry",
    "pose": "train.pose.entry",
    "segment": "train.segment.entry",
    "enhance": "train.enhance.entry",
    "classify": "train.classify.entry",
}


class UnknownTaskError(ValueError):
    """A task name that no registry entry has."""


class TaskDataError(ValueError):
    """A run's data cannot be read back as it was trained on (missing files, changed classes, bad annotations)."""


@dataclass(frozen=True)
class Metric:
    key: str  # as the scorer returns it and run.json / export.json store it, e.g. "map50"
    label: str  # as tables show it, e.g. "mAP@0.5"
    percent: bool = True  # a share of 1: shown in %, differences in points; False: its own unit
    unit: str = ""  # the unit of a non-percent metric ("dB")
    ranked: bool = True  # higher is better, so it can choose the best epoch and its drops mean something
    min_labels: int = 0  # shown only for models with more classes than this (top-5 of a 5-class model is 100 %)
    brief: bool = True  # on one-line summaries (export's lines, int8 - float32); all metrics are in the tables

    def difference(self, value: float) -> float:
        """A difference of this metric in the unit tables show it in (points or its own unit)."""
        return 100 * value if self.percent else value

    @property
    def difference_unit(self) -> str:
        return "points" if self.percent else self.unit


@dataclass
class TaskData:
    train: list  # items to calibrate on
    val: list  # items to check parity on and to score
    frame: Callable[[Any], np.ndarray]  # item -> BGR uint8 frame as the runtime receives it
    source: str  # where the training items came from (for export.json)


# (engine, adapter, data, items) -> {metric key: value}; may add "predictions": one answer per item
Scorer = Callable[[Any, Any, TaskData, list], dict]


@dataclass(frozen=True)
class HostTask:
    name: str
    metrics: tuple[Metric, ...]  # every metric the scorer returns that tables show, the headline first
    load: Callable[[Any], TaskData]  # export.run_folder.Run -> the run's data (raises TaskDataError and readers' errors)
    score: Scorer
    labelled: bool = True  # False: the model has no classes (enhancement)
    # ``python -m train NAME``: (subparsers, common) -> its argparse parser, ``common(parser, epochs=, batch=,
    # size=, lr=)`` adding the options every task has; and the parsed args -> the spec train/task_fit.py fits
    # (train/task_fit.py::TaskSpec). None: a task that is exported and scored but not trained here.
    add_parser: Callable[[Any, Callable], Any] | None = None
    trainer: Callable[[Any], Any] | None = None

    def metric(self, key: str) -> Metric | None:
        return next((m for m in self.metrics if m.key == key), None)

    def headline(self, measured=None) -> Metric | None:
        """The first ranked metric (of those ``measured``, when given): what the best epoch is chosen by and
        what variants are compared on. None when none was measured (an unpaired enhancement run has no PSNR)."""
        return next((m for m in self.metrics if m.ranked and (measured is None or m.key in measured)), None)

    def shown(self, measured, num_labels: int = 0) -> list[Metric]:
        """The metrics a table shows for these measurements, in the task's order."""
        return [m for m in self.metrics if m.key in measured and not (0 < num_labels <= m.min_labels)]

    def brief(self, measured, num_labels: int = 0) -> list[Metric]:
        """The metrics a one-line summary shows: the brief ones measured, else (an unpaired enhancement run has
        no reference images) whatever was measured."""
        shown = self.shown(measured, num_labels)
        return [m for m in shown if m.brief] or shown


def names() -> tuple[str, ...]:
    return tuple(TASK_MODULES)


_LOADED: dict[str, HostTask] = {}


def get(name: str) -> HostTask:
    if name not in TASK_MODULES:
        raise UnknownTaskError(f"task {name!r}; the tasks are {', '.join(TASK_MODULES)}")
    if name not in _LOADED:
        entry = importlib.import_module(TASK_MODULES[name]).TASK
        if entry.name != name:
            raise UnknownTaskError(f"{TASK_MODULES[name]}.TASK is named {entry.name!r}, registered as {name!r}")
        _LOADED[name] = entry
    return _LOADED[name]


def register(module: str, name: str) -> None:
    """Add a task whose entry is ``module.TASK`` (a project's own task, or a test's)."""
    TASK_MODULES[name] = module
    _LOADED.pop(name, None)


def check_labels(run, labels, where) -> None:
    if list(labels) != list(run.labels):
        raise TaskDataError(f"{Path(run.path) / 'run.json'}: labels {list(run.labels)} differ from the data's "
                            f"{list(labels)} in {where}; the data changed since training")


def read_bgr(path: str | Path) -> np.ndarray:
    """An image file as the BGR uint8 frame a camera would give the runtime."""
    import cv2

    from .image_io import ImageReadError

    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise ImageReadError(f"{path}: cannot read the image (missing, or not an image OpenCV can decode)")
    return frame


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[..., ::-1])
