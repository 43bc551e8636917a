"""Score a .tflite exactly as the device runs it: edge Engine + the task's adapter, then edge's metrics.

One scorer per task in ``SCORERS``: it runs every validation item through ``Engine.run_frame`` with the
adapter the model's own metadata names, and returns the task's metrics (numpy, edge/metrics.py and
edge/metrics_tasks.py, the same functions train's validation uses):

* detect: mAP@0.5 and mAP@0.5:0.95;
* pose: PCK@0.2 (torso-normalised) and COCO OKS AP, top-down on each labelled person's crop;
* segment: mIoU and pixel accuracy against each mask at its own resolution, 255 ignored;
* enhance: PSNR and SSIM of the enhanced frame against its normal-light pair (plus the darkened input's
  PSNR and both mean brightnesses), at the frame's full resolution;
* classify: top-1 and top-5 accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edge.engine import Engine
from edge.metrics import mean_average_precision
from edge.metrics_tasks import (PoseGroundTruth, confusion_matrix, mean_brightness, oks_ap, pck, psnr,
                                scores_from_confusion, ssim, topk_accuracy)
from edge.tasks import adapter_for

from .calibration import read_bgr
from .task_data import TaskData, high_image

# The same thresholds as train's validation, so export figures compare with run.json's metrics.
from train.evaluate import IOU_THRESHOLD, SCORE_THRESHOLD  # noqa: E402


@dataclass(frozen=True)
class Scores:
    map50: float
    map50_95: float
    latency_p50_ms: float
    latency_runs: int
    images: int


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


def _score_detect(engine: Engine, adapter, data: TaskData, items: list) -> dict:
    options = {"score": SCORE_THRESHOLD, "iou": IOU_THRESHOLD, "max_detections": 100}
    predictions, truths = [], []
    for rec in items:
        detections, _ = engine.run_frame(data.frame(rec), adapter, options)
        predictions.append(detections)
        truths.append((rec.boxes, rec.class_ids))
    return mean_average_precision(truths, predictions).as_dict()


def _score_pose(engine: Engine, adapter, data: TaskData, items: list) -> dict:
    from train.pose.data import crop_to_image, crop_transform

    gts, preds, ap_gt, ap_pred = [], [], [], []
    for item in items:
        poses, _ = engine.run_frame(data.frame(item), adapter, {})
        kp = poses.keypoints[0].astype(np.float64)
        kp[:, :2] = crop_to_image(kp[:, :2], crop_transform(item.person.box, item.size))
        gt = PoseGroundTruth(item.person.keypoints, item.person.area, item.person.box)
        gts.append(gt), preds.append(kp)
        ap_gt.append([gt]), ap_pred.append([(kp, float(kp[:, 2].mean()))])
    return {"pck": pck(gts, preds, 0.2, "torso").pck, **oks_ap(ap_gt, ap_pred).as_dict()}


def _score_segment(engine: Engine, adapter, data: TaskData, items: list) -> dict:
    from train.segment.data import load_sample

    n = len(engine.info.labels)
    conf = np.zeros((n, n), np.int64)
    for sample in items:
        image_rgb, mask = load_sample(sample)
        seg, _ = engine.run_frame(np.ascontiguousarray(image_rgb[..., ::-1]), adapter, {})
        conf += confusion_matrix(mask, seg.class_map, n)
    return scores_from_confusion(conf).as_dict()


def _score_enhance(engine: Engine, adapter, data: TaskData, items: list) -> dict:
    res: dict[str, list] = {"psnr": [], "ssim": [], "psnr_in": [], "mean_in": [], "mean_out": []}
    for item in items:
        low = data.frame(item)
        out, _ = engine.run_frame(low, adapter, {"enhance_below": None})
        res["mean_in"].append(mean_brightness(low))
        res["mean_out"].append(mean_brightness(out.image))
        high = high_image(item)
        if high is not None:
            res["psnr"].append(psnr(out.image, high))
            res["ssim"].append(ssim(out.image, high))
            res["psnr_in"].append(psnr(low, high))
    return {k: float(np.mean(v)) for k, v in res.items() if v}


def _score_classify(engine: Engine, adapter, data: TaskData, items: list) -> dict:
    n = len(engine.info.labels)
    scores = np.zeros((len(items), n), np.float32)
    for row, item in enumerate(items):
        result, _ = engine.run_frame(data.frame(item), adapter, {"top_k": n})
        scores[row, result.class_ids] = result.scores
    return {**topk_accuracy(scores, np.array([c for _, c in items]), ks=(1, 5)),
            "predictions": [int(c) for c in np.argmax(scores, axis=1)]}


Scorer = Callable[[Engine, object, TaskData, list], dict]
SCORERS: dict[str, Scorer] = {
    "detect": _score_detect, "pose": _score_pose, "segment": _score_segment, "enhance": _score_enhance,
    "classify": _score_classify,
}
# The metric each task is summarised by (float vs int8 in reports), in the order shown.
HEADLINE: dict[str, tuple[str, ...]] = {
    "detect": ("map50", "map50_95"), "pose": ("oks_ap", "pck"), "segment": ("miou", "pixel_accuracy"),
    "enhance": ("psnr", "ssim"), "classify": ("top1", "top5"),
}


def evaluate_task(path: str | Path, data: TaskData, items: list, threads: int = 1,
                  latency_runs: int = 50) -> TaskScores:
    """The model's task metrics over ``items`` (validation items of ``data``) and its p50 invoke latency."""
    engine = Engine(path, threads=threads)
    task = engine.info.task
    metrics = SCORERS[task](engine, adapter_for(task), data, items)
    predictions = metrics.pop("predictions", None)
    times = invoke_latency_ms(engine, data.frame(items[0]), latency_runs)
    return TaskScores({k: float(v) for k, v in metrics.items()}, float(np.median(times)), latency_runs, len(items),
                      predictions)


def evaluate_model(path: str | Path, records: list, threads: int = 1, latency_runs: int = 50) -> Scores:
    """Detection only: mAP@0.5 and mAP@0.5:0.95 over ``records`` (train.records.Record) and p50 latency."""
    data = TaskData([], records, lambda rec: read_bgr(rec.image), "")
    s = evaluate_task(path, data, records, threads, latency_runs)
    return Scores(s.metrics["map50"], s.metrics["map50_95"], s.latency_p50_ms, s.latency_runs, s.images)
