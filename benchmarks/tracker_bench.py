"""Per-frame cost of edge.tracker.Tracker.update for N moving objects (default 20), on this CPU.

    PYTHONPATH=. python benchmarks/tracker_bench.py [--objects 20] [--frames 2000]

Objects drift across a 1280x720 frame with noisy boxes; each is missed on 10 % of frames and 10 % of the
detections are low-score (so both association stages work); two false positives per frame. Prints the median
and p90 microseconds per update, wall clock and this thread's CPU time (the CPU time is what the update
costs when the cores are shared with other work), and the same with the objects far apart (every match unambiguous) beside
crowded (boxes overlapping), so the cost of the Hungarian step shows.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np

from edge.tracker import Tracker, TrackerConfig


def scene(n: int, frames: int, spacing: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n)))
    start = np.array([[60 + spacing * (i % cols), 60 + spacing * (i // cols)] for i in range(n)], float)
    vel = np.array([1.5, 0.7]) + rng.uniform(-0.3, 0.3, (n, 2))
    out = []
    for f in range(frames):
        c = start + vel * f + rng.normal(0, 1.0, (n, 2))
        keep = rng.random(n) > 0.1
        c = np.concatenate([c[keep], rng.uniform(0, 1200, (2, 2))])
        boxes = np.stack([c[:, 0] - 20, c[:, 1] - 40, c[:, 0] + 20, c[:, 1] + 40], axis=1)
        scores = np.where(rng.random(len(c)) < 0.1, 0.3, 0.9)
        scores[-2:] = 0.35  # false positives: low score
        out.append((boxes, scores, np.zeros(len(c), np.int64)))
    return out


def bench(frames_data, config: TrackerConfig | None = None) -> np.ndarray:
    tracker = Tracker(config)
    wall, cpu = [], []
    for boxes, scores, classes in frames_data:
        t0, c0 = time.perf_counter(), time.thread_time()
        tracker.update(boxes, scores, classes)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return np.array(wall[10:]) * 1e6, np.array(cpu[10:]) * 1e6


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--objects", type=int, default=20)
    p.add_argument("--frames", type=int, default=2000)
    args = p.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; numpy {np.__version__}")
    plain = TrackerConfig(cascade=False, recover=False)  # the steps before the cascade and the recovery
    for (name, spacing), (label, config) in itertools.product((("apart", 150.0), ("crowded", 30.0)),
                                                               (("defaults", None), ("plain", plain))):
        wall, cpu = bench(scene(args.objects, args.frames, spacing), config)
        print(f"{args.objects} objects, {name:8s} {label:8s}: update median {np.median(wall):5.0f} us wall "
              f"({np.median(cpu):5.0f} us CPU), p90 {np.percentile(wall, 90):5.0f} us wall "
              f"({np.percentile(cpu, 90):5.0f} us CPU) over {len(wall)} frames")


if __name__ == "__main__":
    main()
