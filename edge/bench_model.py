"""Timing one model: interpreter init, first (warm-up) invoke, steady-state latency and a thread sweep.

Latency is ``Interpreter.invoke()`` alone (the engine's ``last_invoke_ms``), on a real frame prepared once;
throughput is invokes per second back to back on one interpreter.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError, EdgeError
from .schema import MAX_THREADS


@dataclass
class Latency:
    runs: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    throughput_fps: float


def latency_stats(times_ms: list[float], wall_s: float) -> Latency:
    if not times_ms:
        raise ConfigError("no timed runs: --runs must be 1 or more")
    t = np.asarray(times_ms, np.float64)
    return Latency(len(t), float(np.percentile(t, 50)), float(np.percentile(t, 90)), float(np.percentile(t, 99)),
                   float(t.mean()), float(t.min()), float(t.max()), len(t) / wall_s if wall_s > 0 else 0.0)


def parse_threads(text: str | None, cores: int) -> list[int]:
    """``"1,2,4"`` -> [1, 2, 4]; None -> 1..cores."""
    if not text:
        return list(range(1, cores + 1))
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--threads {text!r}: expected comma-separated integers like 1,2,4") from None
    if not values or min(values) < 1 or max(values) > MAX_THREADS:
        raise ConfigError(f"--threads {text!r}: every value must lie in 1..{MAX_THREADS} (4 per CPU, at least 64)")
    return sorted(set(values))


def sample_frame(engine, image: np.ndarray | None = None) -> np.ndarray:
    """The frame we time on: the given image, else a fixed random frame at the model's input size."""
    if image is not None:
        return image
    w, h = engine.input_size
    return np.random.default_rng(0).integers(0, 256, (h or 224, w or 224, 3), dtype=np.uint8)


def time_model(path: Path, threads: int, delegate: str, runs: int, warmup: int,
               image: np.ndarray | None = None) -> dict:
    from .engine import Engine

    t0 = time.perf_counter()
    engine = Engine(path, threads=threads, delegate=delegate)
    init_ms = (time.perf_counter() - t0) * 1000.0
    tensor, _ = engine.prepare(sample_frame(engine, image))
    engine.infer(tensor)
    first_ms = engine.last_invoke_ms
    for _ in range(max(0, warmup - 1)):
        engine.infer(tensor)
    times = []
    start = time.perf_counter()
    for _ in range(runs):
        engine.infer(tensor)
        times.append(engine.last_invoke_ms)
    wall = time.perf_counter() - start
    return {"threads": threads, "delegate": engine.delegate, "init_ms": init_ms, "first_invoke_ms": first_ms,
            "warmup_runs": warmup, **asdict(latency_stats(times, wall))}


def delegates_available(model: Path) -> dict[str, str]:
    """Which delegates load here with this model: "ok" or the one-line reason they do not."""
    from .engine import Engine

    out = {}
    for name in ("cpu", "gpu", "edgetpu"):
        try:
            Engine(model, threads=1, delegate=name)
            out[name] = "ok"
        except EdgeError as exc:
            out[name] = str(exc).split(";")[0]
    return out
