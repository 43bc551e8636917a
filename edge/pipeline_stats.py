"""Live counters of a running pipeline: FPS, latency, drops, per-stage times, queue depths. Thread-safe.

The web sink shows ``snapshot()``; the CLI prints ``summary()`` at exit.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

STAGES = ("capture", "pre", "infer", "post", "render", "sink")


class PipelineStats:
    def __init__(self, window: int = 120):
        self._lock = threading.Lock()
        self._recent = {name: deque(maxlen=window) for name in STAGES + ("latency",)}
        self._all_latency: list[float] = []
        self._all = {name: [] for name in STAGES}
        self._done_times: deque[float] = deque(maxlen=window)
        self.started = time.monotonic()
        self.finished: float | None = None
        self.captured = 0
        self.processed = 0
        self.drops = {"capture": 0, "output": 0}
        self.queue_max = {"capture": 0, "output": 0}
        self.queue_depth = {"capture": 0, "output": 0}
        self.reconnects = 0
        self.gap_seconds = 0.0
        self.skipped_frames = 0  # undecodable frames of a damaged file, skipped
        self.damaged_stretches = 0
        self.damaged_gaps: list[dict] = []
        self.ended_early: dict | None = None  # set when a file ended before its index said

    def on_capture(self) -> None:
        with self._lock:
            self.captured += 1

    def on_drop(self, queue: str, n: int = 1) -> None:
        with self._lock:
            self.drops[queue] += n

    def on_queue(self, queue: str, depth: int) -> None:
        with self._lock:
            self.queue_depth[queue] = depth
            self.queue_max[queue] = max(self.queue_max[queue], depth)

    def on_gap(self, seconds: float) -> None:
        with self._lock:
            self.reconnects += 1
            self.gap_seconds += seconds

    def on_damaged(self, damaged: dict, frame: int) -> None:
        """A damaged stretch of a file source, skipped just before ``frame`` (the first 100 are listed)."""
        with self._lock:
            self.damaged_stretches += 1
            self.skipped_frames += damaged["skipped_frames"]
            if len(self.damaged_gaps) < 100:
                self.damaged_gaps.append({"before_frame": frame, **damaged})

    def on_frame(self, timing_ms: dict[str, float], latency_ms: float) -> None:
        with self._lock:
            self.processed += 1
            self._done_times.append(time.monotonic())
            for name in STAGES:
                value = float(timing_ms.get(name, 0.0))
                self._recent[name].append(value)
                self._all[name].append(value)
            self._recent["latency"].append(latency_ms)
            self._all_latency.append(latency_ms)

    def fps(self) -> float:
        with self._lock:
            times = list(self._done_times)
        if len(times) < 2 or times[-1] == times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def snapshot(self) -> dict:
        """What the web page shows: recent FPS, latency p50/p95, drops, mean per-stage ms, queue depths."""
        fps = self.fps()
        with self._lock:
            lat = np.array(self._recent["latency"], np.float64)
            return {
                "frames": self.processed, "captured": self.captured, "fps": round(fps, 2),
                "latency_ms": {"p50": _pct(lat, 50), "p95": _pct(lat, 95)},
                "stages_ms": {n: round(float(np.mean(self._recent[n])), 2) if self._recent[n] else 0.0
                              for n in STAGES},
                "drops": dict(self.drops), "queues": dict(self.queue_depth), "queue_max": dict(self.queue_max),
                "reconnects": self.reconnects, "gap_s": round(self.gap_seconds, 2),
                "uptime_s": round(time.monotonic() - self.started, 1),
            }

    def summary(self) -> dict:
        end = self.finished or time.monotonic()
        with self._lock:
            lat = np.array(self._all_latency, np.float64)
            infer = np.array(self._all.get("infer", []), np.float64)
            wall = max(1e-9, end - self.started)
            infer_p50 = _pct(infer, 50)
            return {
                "frames": self.processed, "captured": self.captured, "seconds": round(wall, 2),
                "fps": round(self.processed / wall, 2),
                "infer_ms": {"p50": infer_p50, "p90": _pct(infer, 90)},
                "invoke_fps": round(1000.0 / infer_p50, 2) if infer_p50 else 0.0,
                "latency_ms": {"p50": _pct(lat, 50), "p95": _pct(lat, 95), "max": _pct(lat, 100)},
                "stages_ms": {n: round(float(np.mean(v)), 2) if v else 0.0 for n, v in self._all.items()},
                "drops": dict(self.drops), "queue_max": dict(self.queue_max),
                "reconnects": self.reconnects, "gap_s": round(self.gap_seconds, 2),
                "damaged": {"skipped_frames": self.skipped_frames, "stretches": self.damaged_stretches,
                            "gaps": list(self.damaged_gaps), "ended_early": self.ended_early},
            }


def _pct(values: np.ndarray, q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values.size else 0.0


def format_summary(summary: dict) -> str:
    st = summary["stages_ms"]
    lat = summary["latency_ms"]
    return (f"{summary['frames']} frames in {summary['seconds']} s = {summary['fps']} FPS; "
            f"latency p50 {lat['p50']} ms p95 {lat['p95']} ms; "
            + " ".join(f"{k} {v}" for k, v in st.items()) + " ms; "
            f"drops {summary['drops']['capture'] + summary['drops']['output']}; "
            f"reconnects {summary['reconnects']}")
