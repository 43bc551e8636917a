"""One adapter per task. The engine runs tensors; an adapter turns tensors into a result and back to JSON.

Each task module has a pure ``decode(outputs, info, transform, options)`` (``Engine.run`` gives the
outputs and the transform); its adapter, a small object (see ``TaskAdapter``), wraps it for the pipeline
with JSON and rendering. The task of a model comes from its metadata (ours) or from the recognition table
(``edge.families``); ``adapter_for(task)`` returns the adapter. A task is one line in ``_ADAPTERS`` (or
``register_adapter`` at run time).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..errors import ConfigError


class TaskAdapter(Protocol):
    task: str

    def decode(self, outputs: dict[str, np.ndarray], info: Any, frame_size: tuple[int, int], options: dict) -> Any:
        """Turn dequantised model outputs into the task's result type, in original-frame pixels.

        ``info`` is the model's ``ModelInfo`` (metadata), ``frame_size`` is (width, height) of the frame.
        """

    def to_json(self, result: Any) -> dict:
        """The task's keys of a JSON line, e.g. ``{"detections": [...]}``."""

    def render(self, frame_bgr: np.ndarray, result: Any, options: dict | None = None) -> np.ndarray:
        """Draw the result onto a copy of the frame and return it. How it is drawn (the segmentation view, the
        keypoint score below which a joint is not drawn) comes from the stage's ``options``, never from the
        result: a result is what the model found, the same for every sink and metric."""


_ADAPTERS: dict[str, str] = {
    # task name -> "module:attribute" of an adapter instance, imported on first use
    "detect": "edge.tasks.detect:ADAPTER",
    "pose": "edge.tasks.pose:ADAPTER",
    "segment": "edge.tasks.segment:ADAPTER",
    "enhance": "edge.tasks.enhance:ADAPTER",
    "classify": "edge.tasks.classify:ADAPTER",
    "landmarks": "edge.tasks.landmarks:ADAPTER",
}


def register_adapter(task: str, target: str) -> None:
    """Add a task this runtime decodes: ``target`` is the ``"module:attribute"`` of its adapter instance (a
    project's own task, or a test's). docs/contracts.md "Adding a task" has the other half, on the host."""
    if ":" not in target:
        raise ConfigError(f"adapter {target!r} for task {task!r}: expected 'module:attribute'")
    _ADAPTERS[task] = target


def task_names() -> str:
    """The tasks this runtime decodes, as ``a|b|c`` for messages."""
    return "|".join(sorted(_ADAPTERS))


def adapter_for(task: str) -> TaskAdapter:
    if task not in _ADAPTERS:
        raise ConfigError(f"unknown task {task!r}; this runtime knows {', '.join(sorted(_ADAPTERS))}")
    module_name, attr = _ADAPTERS[task].split(":")
    import importlib

    return getattr(importlib.import_module(module_name), attr)
