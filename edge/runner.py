"""The simple synchronous loop behind ``edge run``: read -> preprocess -> infer -> decode -> render -> sinks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .results import Detections, FrameResult
from .sinks import Sink, SinkItem
from .sources import Source


@dataclass
class RunSummary:
    frames: int
    seconds: float  # wall time of the whole loop, reading and writing included
    invoke_ms_p50: float
    invoke_ms_p90: float
    fps_end_to_end: float  # frames / wall time
    fps_invoke_only: float  # 1000 / median invoke time: the ceiling the model alone allows
    stage_ms_mean: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in self.stage_ms_mean.items())
        return [
            f"frames: {self.frames} in {self.seconds:.2f} s",
            f"invoke ms: p50 {self.invoke_ms_p50:.1f}, p90 {self.invoke_ms_p90:.1f}",
            f"fps: end-to-end {self.fps_end_to_end:.1f}, invoke-only {self.fps_invoke_only:.1f}",
            f"mean ms per stage: {stages}",
        ]


def make_record(result: FrameResult, task_json: dict) -> dict:
    """The JSON line of one frame, keys in the documented order."""
    return {
        "frame": result.frame, "source": result.source, "task": result.task, **task_json,
        "timing_ms": {k: round(v, 2) for k, v in result.timing_ms.items()},
    }


def run(engine, adapter, source: Source, sinks: list[Sink], options: dict | None = None,
        max_frames: int | None = None, on_frame=None) -> RunSummary:
    """Run every frame of ``source`` (at most ``max_frames``) through the model into every sink."""
    need_image = any(s.needs_image for s in sinks)
    invoke_ms: list[float] = []
    totals: dict[str, float] = {}
    count = 0
    start = time.perf_counter()
    while max_frames is None or count < max_frames:
        t_read = time.perf_counter()
        frame = source.read()
        if frame is None:
            break
        read_ms = (time.perf_counter() - t_read) * 1000
        task_result, timing = engine.run_frame(frame.image, adapter, options)
        h, w = frame.image.shape[:2]
        result = FrameResult(frame.index, frame.source, adapter.task, w, h, timing_ms=dict(timing))
        if isinstance(task_result, Detections):
            result.detections = task_result
        else:
            result.extras[adapter.task] = task_result
        item = SinkItem(result, make_record(result, adapter.to_json(task_result)), fps=source.fps)
        t_out = time.perf_counter()
        if need_image:
            item.image = adapter.render(frame.image, task_result)
        for sink in sinks:
            sink.write(item)
        stages = {"read": read_ms, **timing, "render+write": (time.perf_counter() - t_out) * 1000}
        for k, v in stages.items():
            totals[k] = totals.get(k, 0.0) + v
        invoke_ms.append(engine.last_invoke_ms)
        count += 1
        if on_frame is not None:
            on_frame(result, item.record)
    seconds = time.perf_counter() - start
    return summarize(count, seconds, invoke_ms, totals)


def summarize(count: int, seconds: float, invoke_ms: list[float], totals: dict[str, float]) -> RunSummary:
    inv = np.asarray(invoke_ms or [0.0])
    p50 = float(np.percentile(inv, 50))
    return RunSummary(
        frames=count, seconds=seconds, invoke_ms_p50=p50, invoke_ms_p90=float(np.percentile(inv, 90)),
        fps_end_to_end=count / seconds if seconds > 0 and count else 0.0,
        fps_invoke_only=1000.0 / p50 if p50 > 0 else 0.0,
        stage_ms_mean={k: v / count for k, v in totals.items()} if count else {},
    )
