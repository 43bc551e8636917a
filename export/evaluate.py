"""Score a .tflite exactly as the device runs it: edge Engine + the task's adapter, then edge's metrics.

The scorer is the task's registry entry (train/tasks.py, ``HostTask.score``): it runs every validation item
through ``Engine.run_frame`` with the adapter the model's own metadata names and returns the task's metrics
(edge/metrics.py and edge/metrics_tasks.py, the same functions train's validation uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.engine import Engine
from edge.tasks import adapter_for
from train import tasks
from train.tasks import TaskData


@dataclass(frozen=True)
class TaskScores:
    metrics: dict  # metric name -> value, e.g. {"miou": 0.61, "pixel_accuracy": 0.95}
    latency_p50_ms: float
    latency_runs: int
    images: int  # validation items scored
    predictions: list | None = None  # per item, where a task has one answer per item (classify: the top class)


def invoke_latency_ms(engine: Engine, frame_bgr: np.ndarray, runs: int) -> list[float]:
    """Invoke times (ms) of ``runs`` invocations on one prepared input, after one warm-up run."""
    tensor, _ = engine.prepare(frame_bgr)
    engine.infer(tensor)
    times = []
    for _ in range(runs):
        engine.infer(tensor)
        times.append(engine.last_invoke_ms)
    return times


def evaluate_task(path: str | Path, data: TaskData, items: list, threads: int = 1,
                  latency_runs: int = 50) -> TaskScores:
    """The model's task metrics over ``items`` (validation items of ``data``) and its p50 invoke latency."""
    engine = Engine(path, threads=threads)
    task = engine.info.task
    metrics = tasks.get(task).score(engine, adapter_for(task), data, items)
    predictions = metrics.pop("predictions", None)
    times = invoke_latency_ms(engine, data.frame(items[0]), latency_runs)
    return TaskScores({k: float(v) for k, v in metrics.items()}, float(np.median(times)), latency_runs, len(items),
                      predictions)
