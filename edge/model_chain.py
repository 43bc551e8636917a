"""Several models on one frame, in declared order; their results travel together.

Each model runs on the whole frame, or (``on = "detect:person"``) on crops around the boxes of an earlier
model, with a transform that maps its output straight to full-frame pixels. A ``when`` gate (e.g.
``brightness < 60``) skips a model on frames that do not need it. An ``enhance`` model's image replaces the
frame for the models after it and for the rendered output.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from .engine import Engine
from .errors import ConfigError
from .metadata import read_labels
from .model_checks import check_labels_cover, check_on_label
from .pipeline_config import ModelSpec
from .preprocess import Transform
from .results import Detections
from .tasks import adapter_for, task_names


@dataclass
class ChainOutput:
    image: np.ndarray  # the frame the models saw last (enhanced when an enhance model ran)
    results: dict[str, object] = field(default_factory=dict)  # model name -> result (list of results for crops)
    timing_ms: dict[str, float] = field(default_factory=dict)  # pre / infer / post summed over models
    per_model_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    brightness: float | None = None
    tracking: object | None = None  # edge.tracking_stage.TrackingResult when a tracker ran


class _Stage:
    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.engine = Engine(spec.path, threads=spec.threads, delegate=spec.delegate, fallback=spec.fallback)
        if spec.labels is not None:
            self.engine.info = self.engine.info.with_overrides(labels=read_labels(spec.labels),
                                                               labels_source=str(spec.labels))
        if spec.task or spec.normalisation:
            self.engine.info = self.engine.info.with_overrides(task=spec.task, normalisation=spec.normalisation)
        task = self.engine.info.task
        if not task:
            why = self.engine.info.plan.recognised_by if self.engine.info.plan else "its metadata does not say"
            raise ConfigError(f"{spec.path}: cannot tell how to decode this model: {why}; "
                              f"give --task {task_names()} if one of the decoders fits (in a "
                              f"config file: task = '...' for model {spec.name!r}; docs/models.md lists the "
                              f"supported families)")
        self.task = task
        self.adapter = adapter_for(task)
        if task == "detect" and not self.engine.info.labels:
            raise ConfigError(f"{spec.path}: the model carries no labels; give --labels FILE (one label per line)")
        check_labels_cover(self.engine.info, spec.options)


class ModelChain:
    def __init__(self, specs: list[ModelSpec], tracking=None):
        self.stages = [_Stage(s) for s in specs]
        tasks = {s.spec.name: s.task for s in self.stages}
        for stage in self.stages:
            if stage.spec.on_model and tasks[stage.spec.on_model] != "detect":
                raise ConfigError(f"model {stage.spec.name!r}: on = {stage.spec.on_model!r} must name a detect "
                                  f"model, it is a {tasks[stage.spec.on_model]} model")
            if stage.spec.on_label:
                detector = next(s for s in self.stages if s.spec.name == stage.spec.on_model)
                check_on_label(stage.spec.on_label, detector.engine.info, stage.spec.name,
                               f"{stage.spec.on_model}:{stage.spec.on_label}")
        self.tracking = tracking  # edge.tracking_stage.TrackingStage or None
        self.tracked: str | None = None
        if tracking is not None:
            self._attach_tracker(tracking, tasks)

    def _attach_tracker(self, tracking, tasks: dict[str, str]) -> None:
        """The tracked detect model decodes down to the tracker's low_score; its own score is kept for output."""
        name = tracking.setup.model or next((n for n, t in tasks.items() if t == "detect"), None)
        if name is None:
            raise ConfigError("[tracker]: no detect model to track (models: "
                              + ", ".join(f"{n} ({t})" for n, t in tasks.items()) + ")")
        if name not in tasks:
            raise ConfigError(f"[tracker]: model = {name!r} is not a declared model "
                              f"(declared: {', '.join(tasks)})")
        if tasks[name] != "detect":
            raise ConfigError(f"[tracker]: model = {name!r} is a {tasks[name]} model; the tracker needs a detect model")
        stage = next(s for s in self.stages if s.spec.name == name)
        from .tasks.detect import DEFAULTS

        given = stage.spec.options.get("score")
        score = float(given if given is not None else stage.engine.info.decode.get("score", DEFAULTS["score"]))
        tracking.keep_score = score
        stage.spec = replace(stage.spec, options={**stage.spec.options,
                                                  "score": min(score, tracking.setup.config.low_score)})
        self.tracked = name

    @property
    def primary(self) -> _Stage:
        return self.stages[0]

    def run(self, image: np.ndarray, lores: np.ndarray | None = None, t: float | None = None) -> ChainOutput:
        """All models on ``image``. ``lores`` is the camera's own model-sized copy of the frame (picamera2's
        lores stream): the first model reads it instead of resizing, when the sizes match. ``t``: the frame's
        time in seconds (for dwell times; default: the clock)."""
        out = ChainOutput(image, timing_ms={"pre": 0.0, "infer": 0.0, "post": 0.0})
        for stage in self.stages:
            spec = stage.spec
            if spec.when is not None:
                if out.brightness is None:
                    out.brightness = float(out.image[::4, ::4].mean())
                if not spec.when.passes(out.brightness):
                    out.skipped.append(spec.name)
                    if spec.name == self.tracked:  # the counts still go into this frame's JSON line
                        out.tracking = self.tracking.idle(t)
                    continue
            if spec.on_model:
                result, timing = self._run_on_boxes(stage, out)
            elif lores is not None and stage is self.stages[0] and _lores_fits(stage, lores):
                result, timing = self._run_on_lores(stage, out.image, lores)
            else:
                result, timing = stage.engine.run_frame(out.image, stage.adapter, spec.options)
            if spec.name == self.tracked and isinstance(result, Detections):
                t0 = time.perf_counter()
                result, out.tracking = self.tracking.apply(result, (out.image.shape[1], out.image.shape[0]), t)
                timing = {**timing, "post": timing.get("post", 0.0) + (time.perf_counter() - t0) * 1000}
            out.results[spec.name] = result
            out.per_model_ms[spec.name] = timing
            for key in ("pre", "infer", "post"):
                out.timing_ms[key] += timing.get(key, 0.0)
            if stage.task == "enhance":
                enhanced = getattr(result, "image", result)
                if isinstance(enhanced, np.ndarray) and enhanced.ndim == 3:
                    out.image = enhanced
        return out

    def _run_on_lores(self, stage: _Stage, image: np.ndarray, lores: np.ndarray):
        inference = stage.engine.run(lores)  # already at input size: no resize, only colour + dtype
        t2 = time.perf_counter()
        h, w = image.shape[:2]
        iw, ih = inference.transform.input_size
        full = Transform((w, h), (iw, ih), iw / w, ih / h)
        result = stage.adapter.decode(inference.outputs, stage.engine.info, (w, h),
                                      {**stage.spec.options, "transform": full})
        return result, {**inference.timing, "post": (time.perf_counter() - t2) * 1000}

    def _run_on_boxes(self, stage: _Stage, out: ChainOutput):
        spec = stage.spec
        dets = out.results.get(spec.on_model)
        timing = {"pre": 0.0, "infer": 0.0, "post": 0.0}
        results: list[dict] = []
        if not isinstance(dets, Detections):
            return results, timing  # the detector was gated off on this frame
        h, w = out.image.shape[:2]
        order = np.argsort(-dets.scores)
        for i in order:
            if spec.on_label is not None and dets.label(int(i)) != spec.on_label:
                continue
            if len(results) >= spec.max_boxes:
                break
            if hasattr(stage.adapter, "run_on_detection"):  # models that cut their own (rotated) crop
                result, t = stage.adapter.run_on_detection(stage.engine, out.image, dets, int(i), spec.options)
                for key in timing:
                    timing[key] += t[key]
                if result is not None:
                    results.append({"box": [float(v) for v in dets.boxes[i]], "result": result})
                continue
            x0, y0, x1, y1 = crop_box(dets.boxes[i], (w, h), stage.engine.input_size)
            inference = stage.engine.run(out.image[y0:y1, x0:x1])
            t2 = time.perf_counter()
            # the crop's transform shifted by the crop origin maps model outputs to full-frame pixels
            t = inference.transform
            full = Transform((w, h), t.input_size, t.scale_x, t.scale_y,
                             t.pad_x - x0 * t.scale_x, t.pad_y - y0 * t.scale_y)
            result = stage.adapter.decode(inference.outputs, stage.engine.info, (w, h),
                                          {**spec.options, "transform": full})
            results.append({"box": [float(v) for v in dets.boxes[i]], "result": result})
            if dets.track_ids is not None:  # a top-down result keeps its object's track id
                results[-1]["track_id"] = int(dets.track_ids[i]) if dets.track_ids[i] >= 0 else None
            timing["pre"] += inference.timing["pre"]
            timing["infer"] += inference.timing["infer"]
            timing["post"] += (time.perf_counter() - t2) * 1000
        return results, timing

    def to_json(self, out: ChainOutput) -> dict:
        """The task keys of the frame's JSON line: the first model's at the top level (as a one-model run
        writes them), every other model under ``models.<name>``."""
        record: dict = {}
        for n, stage in enumerate(self.stages):
            name = stage.spec.name
            if name not in out.results:
                continue
            result = out.results[name]
            if isinstance(result, list):
                body = {"on": f"{stage.spec.on_model}:{stage.spec.on_label or '*'}",
                        "crops": [{"box": [round(v, 1) for v in r["box"]],
                                   **({"track_id": r["track_id"]} if "track_id" in r else {}),
                                   **stage.adapter.to_json(r["result"])}
                                  for r in result]}
            else:
                body = stage.adapter.to_json(result)
            if n == 0:
                record.update(body)
            else:
                record.setdefault("models", {})[name] = body
        if out.skipped:
            record["skipped"] = list(out.skipped)
        if out.tracking is not None:
            record.update(out.tracking.state)  # zones / lines: counts on every line
            if out.tracking.events:
                record["events"] = out.tracking.events
        return record

    def render(self, out: ChainOutput) -> np.ndarray:
        image = out.image
        for stage in self.stages:
            result = out.results.get(stage.spec.name)
            if result is None or stage.task == "enhance":
                continue
            if isinstance(result, list):
                for r in result:
                    image = stage.adapter.render(image, r["result"], stage.spec.options)
            else:
                image = stage.adapter.render(image, result, stage.spec.options)
        if out.tracking is not None:
            image = self.tracking.render(image if image is not out.image else image.copy(), out.tracking)
        return image


def _lores_fits(stage: _Stage, lores: np.ndarray) -> bool:
    return stage.engine.info.input.resize == "stretch" and (lores.shape[1], lores.shape[0]) == stage.engine.input_size


def crop_box(box, frame_size: tuple[int, int], input_size: tuple[int, int], margin: float = 0.15) -> tuple[int, int, int, int]:
    """Pixel crop around ``box`` grown by ``margin`` and widened to the model's aspect ratio, inside the frame."""
    w, h = frame_size
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    bw, bh = max(2.0, (x1 - x0) * (1 + 2 * margin)), max(2.0, (y1 - y0) * (1 + 2 * margin))
    aspect = input_size[0] / input_size[1]
    if bw / bh < aspect:
        bw = bh * aspect
    else:
        bh = bw / aspect
    left, top = int(max(0, round(cx - bw / 2))), int(max(0, round(cy - bh / 2)))
    right, bottom = int(min(w, round(cx + bw / 2))), int(min(h, round(cy + bh / 2)))
    return left, top, max(right, left + 2), max(bottom, top + 2)
