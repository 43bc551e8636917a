"""Score a .tflite exactly as the device runs it: edge Engine + detect adapter, then edge.metrics mAP."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.engine import Engine
from edge.metrics import mean_average_precision
from edge.tasks import adapter_for

from .calibration import read_bgr

# The same thresholds as train's validation, so export figures compare with run.json's metrics.
from train.evaluate import IOU_THRESHOLD, SCORE_THRESHOLD  # noqa: E402


@dataclass(frozen=True)
class Scores:
    map50: float
    map50_95: float
    latency_p50_ms: float
    latency_runs: int
    images: int


def invoke_latency_ms(engine: Engine, frame_bgr: np.ndarray, runs: int) -> list[float]:
    """Invoke times (ms) of ``runs`` invocations on one prepared input, after one warm-up run."""
    tensor, _ = engine.prepare(frame_bgr)
    engine.infer(tensor)
    times = []
    for _ in range(runs):
        engine.infer(tensor)
        times.append(engine.last_invoke_ms)
    return times


def evaluate_model(path: str | Path, records: list, threads: int = 1, latency_runs: int = 50) -> Scores:
    """mAP@0.5 and mAP@0.5:0.95 over ``records`` (train.records.Record) and the p50 invoke latency."""
    engine = Engine(path, threads=threads)
    adapter = adapter_for(engine.info.task)
    options = {"score": SCORE_THRESHOLD, "iou": IOU_THRESHOLD, "max_detections": 100}
    predictions, truths = [], []
    for rec in records:
        detections, _ = engine.run_frame(read_bgr(rec.image), adapter, options)
        predictions.append(detections)
        truths.append((rec.boxes, rec.class_ids))
    result = mean_average_precision(truths, predictions)
    times = invoke_latency_ms(engine, read_bgr(records[0].image), latency_runs)
    return Scores(result.map50, result.map50_95, float(np.median(times)), latency_runs, len(records))
