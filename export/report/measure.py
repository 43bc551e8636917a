"""Measure one variant file: metric through edge (export.evaluate), size, gzip size, sparsity, latency, coverage."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

import numpy as np

from edge.engine import Engine
from edge.errors import EdgeError

from ..calibration import read_bgr
from ..evaluate import evaluate_model, invoke_latency_ms
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
    metric: str = "map50"
    map50: float | None = None
    map50_95: float | None = None
    images: int = 0
    latency: list[Latency] = field(default_factory=list)
    # target -> {"fraction", "supported", "total", "unsupported": {op: why}}; fraction None (with a "note") where
    # the target cannot run this format at all (a float model on the Edge TPU)
    coverage: dict = field(default_factory=dict)
    error: str | None = None  # why the file could not be scored (kept in the report, not hidden)
    # Filled in against the float32 row of the trained model by the report:
    drop_points: float | None = None  # (float32 map50 - this map50) * 100; positive = worse than float32
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


def measure(variant: Variant, records: list, options: MeasureOptions) -> Row:
    """One row of the report. The metric is export.evaluate.evaluate_model: edge Engine + adapter + edge.metrics."""
    data = variant.path.read_bytes()
    row = Row(variant.label, variant.mode, variant.format, str(variant.path), size_bytes=len(data),
              gzip_bytes=gzip_size(data))
    sparse = tflite_sparsity(data)
    row.sparsity = round(sparse.overall, 4)
    row.sparsity_prunable = round(sparse.of([l.name for l in sparse.layers if l.kind != "DEPTHWISE_CONV_2D"]), 4)
    for target in options.targets:
        row.coverage[target] = _coverage(target, data, str(variant.path), variant.format)
    try:
        scores = evaluate_model(variant.path, records, threads=max(options.threads), latency_runs=1)
        row.map50, row.map50_95, row.images = scores.map50, scores.map50_95, scores.images
        frame = read_bgr(records[0].image)
        for threads in options.threads:
            engine = Engine(variant.path, threads=threads)
            row.quantization = engine.info.quantization
            times = invoke_latency_ms(engine, frame, options.latency_runs)
            row.latency.append(Latency(threads, round(float(np.percentile(times, 50)), 3),
                                       round(float(np.percentile(times, 90)), 3), len(times)))
    except EdgeError as exc:  # e.g. an edgetpu-compiled file on a host without the accelerator
        row.error = str(exc)
    return row


def compare_to_reference(rows: list[Row]) -> Row | None:
    """Fill drop and size ratios against the trained model's float32 row; returns that row (None if absent)."""
    ref = next((r for r in rows if r.mode == "" and r.format == "float32" and r.error is None), None)
    if ref is None:
        return None
    for r in rows:
        r.size_ratio = round(r.size_bytes / ref.size_bytes, 4)
        r.gzip_ratio = round(r.gzip_bytes / ref.gzip_bytes, 4)
        if r.map50 is not None and ref.map50 is not None:
            r.drop_points = round(100 * (ref.map50 - r.map50), 3)
    return ref
