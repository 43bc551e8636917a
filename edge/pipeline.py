"""The threaded pipeline behind ``edge run``: capture -> inference -> output, joined by bounded queues.

* capture thread: ``source.read()``, stamps each frame with its capture time;
* inference thread: every model of the ``ModelChain`` on the frame, one ``FrameResult`` for all of them;
* output thread: render (only if a sink shows images), write every sink, measure glass-to-glass latency.

On a live source (camera, RTSP, synthetic) a full queue drops its OLDEST frame, so what reaches the sinks
is never stale; drops are counted. On a file nothing is dropped: the reader waits. Every frame carries its
stage times (capture, pre, infer, post, render, sink) and latency; ``PipelineStats`` keeps the totals.
SIGINT / SIGTERM (or ``stop()``) end it cleanly: capture stops, queued frames are finished, sinks are
closed (videos get their index and stay playable).
"""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import EdgeError
from .model_chain import ModelChain
from .pipeline_stats import PipelineStats
from .results import FrameResult
from .sinks import Sink, SinkItem
from .sources import Frame, Source

_END = object()


class DropQueue:
    """A bounded FIFO. ``put(item, drop_oldest=True)`` evicts the oldest item instead of waiting."""

    def __init__(self, size: int):
        self._items: collections.deque = collections.deque()
        self._size = size
        self._cond = threading.Condition()

    def put(self, item, drop_oldest: bool, stop: threading.Event | None = None, carry=None) -> int:
        """``carry(evicted, item)`` hands what an evicted item must not lose (a reconnection gap) to ``item``."""
        with self._cond:
            dropped = 0
            if drop_oldest:
                while len(self._items) >= self._size:
                    evicted = self._items.popleft()
                    if carry is not None and evicted is not _END:
                        carry(evicted, item)
                    dropped += 1
            else:
                while len(self._items) >= self._size and not (stop is not None and stop.is_set()):
                    self._cond.wait(0.1)
            self._items.append(item)
            self._cond.notify_all()
            return dropped

    def put_end(self) -> None:
        with self._cond:  # the end marker never waits and is never dropped
            self._items.append(_END)
            self._cond.notify_all()

    def get(self):
        with self._cond:
            while not self._items:
                self._cond.wait()
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


def _carry_gap(evicted: "Captured", item: "Captured") -> None:
    """A frame dropped under load must not take the record of a reconnection gap with it: the next frame
    written carries it (when both have one, the newer keeps its own and the older under "also")."""
    if evicted.gap is not None:
        item.gap = evicted.gap if item.gap is None else item.gap | {"also": evicted.gap}


@dataclass
class Captured:
    frame: Frame
    t_capture: float  # time.monotonic() when the frame was in hand
    wall: float  # time.time() of the same moment
    capture_ms: float
    gap: dict | None = None
    timing_ms: dict = field(default_factory=dict)


class Pipeline:
    def __init__(self, source: Source, chain: ModelChain, sinks: list[Sink], *, live: bool | None = None,
                 queue_size: int | None = None, max_frames: int | None = None, options: dict | None = None, on_record=None):
        self.source, self.chain, self.sinks = source, chain, sinks
        self.live = source.capabilities.live if live is None else live
        # live: one frame waits at most, so results stay fresh; files: a little read-ahead, nothing dropped
        self.queue_size = queue_size or (1 if self.live else 4)
        self.max_frames = max_frames
        self.stats = PipelineStats()
        self.on_record = on_record
        self._stop = threading.Event()
        self._q_in = DropQueue(self.queue_size)
        self._q_out = DropQueue(self.queue_size)
        self._errors: list[BaseException] = []
        self._need_image = any(s.capabilities.needs_image for s in sinks)
        if source.capabilities.lores:
            source.request_model_size(chain.primary.engine.input_size)
        for sink in sinks:
            if sink.capabilities.stats:
                sink.attach_stats(self.stats)

    def stop(self) -> None:
        """Stop capturing; frames already captured are finished and the sinks closed."""
        self._stop.set()
        self.source.stop()

    # ------------------------------------------------------------------ stages

    def _capture(self) -> None:
        count = 0
        try:
            while not self._stop.is_set() and (self.max_frames is None or count < self.max_frames):
                t0 = time.perf_counter()
                frame = self.source.read()
                if frame is None:
                    break
                t1 = time.perf_counter()
                gap = self.source.take_gap() if self.source.capabilities.reconnects else None
                item = Captured(frame, time.monotonic(), time.time(), (t1 - t0) * 1000,
                                gap.to_json() if gap is not None else None)
                if gap is not None:
                    self.stats.on_gap(gap.seconds)
                if frame.damaged:
                    self.stats.on_damaged(frame.damaged, frame.index)
                self.stats.on_capture()
                dropped = self._q_in.put(item, drop_oldest=self.live, stop=self._stop, carry=_carry_gap)
                if dropped:
                    self.stats.on_drop("capture", dropped)
                self.stats.on_queue("capture", len(self._q_in))
                count += 1
            self.stats.ended_early = self.source.ended_early
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._q_in.put_end()

    def _infer(self) -> None:
        try:
            while (item := self._q_in.get()) is not _END:
                if self._errors:
                    continue  # drain after a failure elsewhere
                out = self.chain.run(item.frame.image, item.frame.lores, self._frame_time(item))
                h, w = item.frame.image.shape[:2]
                primary = self.chain.primary
                result = FrameResult(item.frame.index, item.frame.source, primary.task, w, h,
                                     timing_ms={"capture": item.capture_ms, **out.timing_ms},
                                     models=out.results, chain=out)
                dropped = self._q_out.put((item, result), drop_oldest=self.live, stop=None,
                                          carry=lambda old, new: _carry_gap(old[0], new[0]))
                if dropped:
                    self.stats.on_drop("output", dropped)
                self.stats.on_queue("output", len(self._q_out))
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._q_out.put_end()

    def _frame_time(self, item: Captured) -> float:
        """Seconds for dwell times: video time (frame / fps) on a file, the capture clock on a live source."""
        fps = self.source.fps
        if not self.live and fps:
            return item.frame.index / fps
        return item.t_capture

    def _output(self) -> None:
        fps = self.source.fps or None
        while (entry := self._q_out.get()) is not _END:
            if self._errors:
                continue
            item, result = entry
            try:
                self._emit(item, result, fps)
            except BaseException as exc:
                self._fail(exc)

    def _emit(self, item: Captured, result: FrameResult, fps: float | None) -> None:
        out = result.chain
        t0 = time.perf_counter()
        image = self.chain.render(out) if self._need_image else None
        t1 = time.perf_counter()
        result.timing_ms["render"] = (t1 - t0) * 1000
        record = make_record(result, self.chain.to_json(out))
        record["time"] = round(item.wall, 3)
        record["latency_ms"] = round((time.monotonic() - item.t_capture) * 1000, 2)
        if item.gap is not None:
            record["gap"] = item.gap
        if item.frame.damaged:
            record["damaged"] = item.frame.damaged
        sink_item = SinkItem(result, record, image, fps, frame=out.image)
        for sink in self.sinks:
            sink.write(sink_item)
        t2 = time.perf_counter()
        result.timing_ms["sink"] = (t2 - t1) * 1000
        self.stats.on_frame(result.timing_ms, (time.monotonic() - item.t_capture) * 1000)
        if self.on_record is not None:
            self.on_record(record)

    def _fail(self, exc: BaseException) -> None:
        self._errors.append(exc)
        self.stop()

    # ------------------------------------------------------------------ running

    def run(self, handle_signals: bool = True) -> dict:
        """Run to the end of the source (or a stop / signal); returns ``stats.summary()``.

        The first error of any stage is raised after every thread has finished and every sink is closed.
        """
        previous = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: self.stop())
        threads = [threading.Thread(target=fn, name=f"edge-{fn.__name__.strip('_')}", daemon=True)
                   for fn in (self._capture, self._infer, self._output)]
        cv_threads = cv2.getNumThreads()
        cv2.setNumThreads(opencv_threads(self.chain))
        try:
            for t in threads:
                t.start()
            pumps = [s for s in self.sinks if s.capabilities.main_thread]  # GUI sinks: driven from this thread
            for t in threads:
                while t.is_alive():
                    t.join(0.01 if pumps else 0.2)
                    for sink in pumps:
                        if sink.pump():
                            self.stop()
            for sink in pumps:
                sink.pump()  # the last frame stays on screen until the window closes
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            cv2.setNumThreads(cv_threads)
            self.stats.finished = time.monotonic()
            self._close_all()
        if self._errors:
            raise self._errors[0]
        return self.stats.summary()

    def _close_all(self) -> None:
        for closer in [*(s.close for s in self.sinks), self.source.close]:
            try:
                closer()
            except EdgeError as exc:
                self._errors.append(exc)


def opencv_threads(chain: ModelChain) -> int:
    """OpenCV's worker threads while the pipeline runs: the cores the interpreters leave free, at least one.

    The interpreter's thread pool (XNNPACK) busy-waits between its own work items; OpenCV resizing and
    converting in parallel on the same cores preempts those workers and slows every invoke more than the
    parallel resize gains (measured with ``edge bench-pipeline``, docs/pipeline-benchmark.md).
    """
    cores = os.cpu_count() or 1
    used = max((stage.engine.threads or cores for stage in chain.stages), default=1)
    return max(1, cores - used)


def make_record(result: FrameResult, task_json: dict) -> dict:
    """The JSON line of one frame, keys in the documented order."""
    return {
        "frame": result.frame, "source": result.source, "task": result.task, **task_json,
        "timing_ms": {k: round(v, 2) for k, v in result.timing_ms.items()},
    }
