"""Measure one variant file: the task's metrics through edge (export.evaluate), size, gzip size, sparsity, latency,
coverage."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

import numpy as np

from edge.engine import Engine
from edge.errors import EdgeError

from train.tasks import HostTask, TaskData

from ..evaluate import evaluate_task, invoke_latency_ms
from ..formats import FORMATS
from ..optimize.sparsity import tflite_sparsity
from ..targets import TARGET_FORMATS, coverage
from .variants import Variant

TARGETS = tuple(TARGET_FORMATS)


@dataclass(frozen=True)
class MeasureOptions:
    threads: tuple[int, ...]  # thread counts timed, e.g. (1, os.cpu_count())
    latency_runs: int = 50
    targets: tuple[str, ...] = TARGETS


@dataclass
class Latency:
    threads: int
    p50_ms: float
    p90_ms: float
    runs: int


@dataclass
class Row:
    variant: str  # "prune/int8", "float32"
    mode: str
    format: str
    file: str
    quantization: str = ""
    size_bytes: int = 0
    gzip_bytes: int = 0
    sparsity: float = 0.0  # zero weights / all weights of conv, depthwise and dense kernels in the file
    sparsity_prunable: float = 0.0  # the same without depthwise kernels (which tfmot does not prune)
    metric: str | None = None  # the headline metric's key (the task's registry entry), e.g. "map50"
    metrics: dict = field(default_factory=dict)  # every metric the task's scorer measured, through edge
    images: int = 0
    latency: list[Latency] = field(default_factory=list)
    # target -> {"fraction", "supported", "total", "unsupported": {op: why}}; fraction None (with a "note") where
    # the target cannot run this format at all (a float model on the Edge TPU)
    coverage: dict = field(default_factory=dict)
    error: str | None = None  # why the file could not be scored (kept in the report, not hidden)
    # Filled in against the float32 row of the trained model by the report:
    # float32's headline metric minus this one, in the metric's unit (points for shares of 1, dB for PSNR);
    # positive = worse than float32
    drop: float | None = None
    size_ratio: float | None = None
    gzip_ratio: float | None = None

    def latency_at(self, threads: int) -> Latency | None:
        return next((lat for lat in self.latency if lat.threads == threads), None)


def gzip_size(data: bytes) -> int:
    """Bytes after gzip at level 9: what a model costs to ship when zero runs compress (pruning's payoff)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def _coverage(target: str, data: bytes, file: str, fmt: str) -> dict:
    if target == "edgetpu" and fmt in FORMATS and not FORMATS[fmt].input_type:
        return {"fraction": None, "supported": 0, "total": 0, "unsupported": {},
                "note": f"not checked: the Edge TPU runs only full-integer models, and {fmt} is not one"}
    cov = coverage(target, data, file)
    return {"fraction": round(cov.fraction, 4), "supported": len(cov.supported),
            "total": len(cov.supported) + len(cov.unsupported), "unsupported": dict(cov.unsupported)}


def measure(variant: Variant, task_data: TaskData, items: list, options: MeasureOptions) -> Row:
    """One row of the report. The metrics are export.evaluate.evaluate_task: edge Engine + the task's adapter +
    the task's scorer (its registry entry) over ``items``, validation items of ``task_data``."""
    data = variant.path.read_bytes()
    row = Row(variant.label, variant.mode, variant.format, str(variant.path), size_bytes=len(data),
              gzip_bytes=gzip_size(data))
    sparse = tflite_sparsity(data)
    row.sparsity = round(sparse.overall, 4)
    row.sparsity_prunable = round(sparse.of([l.name for l in sparse.layers if l.kind != "DEPTHWISE_CONV_2D"]), 4)
    for target in options.targets:
        row.coverage[target] = _coverage(target, data, str(variant.path), variant.format)
    try:
        scores = evaluate_task(variant.path, task_data, items, threads=max(options.threads), latency_runs=1)
        row.metrics, row.images = {k: round(v, 6) for k, v in scores.metrics.items()}, scores.images
        frame = task_data.frame(items[0])
        for threads in options.threads:
            engine = Engine(variant.path, threads=threads)
            row.quantization = engine.info.quantization
            times = invoke_latency_ms(engine, frame, options.latency_runs)
            row.latency.append(Latency(threads, round(float(np.percentile(times, 50)), 3),
                                       round(float(np.percentile(times, 90)), 3), len(times)))
    except EdgeError as exc:  # e.g. an edgetpu-compiled file on a host without the accelerator
        row.error = str(exc)
    return row


def compare_to_reference(rows: list[Row], task: HostTask) -> Row | None:
    """Fill drops and size ratios against the trained model's float32 row; returns that row (None if absent).
    The drop is of the task's headline metric (None where the run measures none: an unpaired enhancement run)."""
    ref = next((r for r in rows if r.mode == "" and r.format == "float32" and r.error is None), None)
    headline = task.headline(ref.metrics if ref else None)
    for r in rows:
        r.metric = headline.key if headline else None
    if ref is None:
        return None
    for r in rows:
        r.size_ratio = round(r.size_bytes / ref.size_bytes, 4)
        r.gzip_ratio = round(r.gzip_bytes / ref.gzip_bytes, 4)
        if headline and headline.key in r.metrics and headline.key in ref.metrics:
            r.drop = round(headline.difference(ref.metrics[headline.key] - r.metrics[headline.key]), 3)
    return ref
