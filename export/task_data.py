"""A run's own data for every task, as the task's registry entry (train/tasks.py) reads it: what calibrates int8,
what parity and scoring run on.

``task_data(run)`` returns a ``train.tasks.TaskData``: ``train`` and ``val`` lists of task-specific items and
``frame(item)``, the BGR frame the runtime is handed for that item (a camera frame for detect/segment/classify, a
person crop for top-down pose, the darkened frame for enhancement). The readers' errors become
CalibrationError naming the run's data.
"""

from __future__ import annotations

from train import tasks
from train.tasks import TaskData

from .errors import CalibrationError
from .run_folder import Run


def _read_errors() -> tuple[type[Exception], ...]:
    from train.image_io import ImageReadError
    from train.records import AnnotationError

    return (AnnotationError, ImageReadError, tasks.TaskDataError, OSError)


def task_data(run: Run) -> TaskData:
    try:
        entry = tasks.get(run.task)
    except tasks.UnknownTaskError as exc:
        raise CalibrationError(f"{run.path / 'run.json'}: {exc}") from None
    errors = _read_errors()
    try:
        data = entry.load(run)
    except errors as exc:
        raise CalibrationError(f"cannot read the run's data: {exc}") from exc

    def frame(item):
        try:
            return data.frame(item)
        except errors as exc:
            raise CalibrationError(f"cannot read the run's data: {exc}") from exc

    return TaskData(data.train, data.val, frame, data.source)
