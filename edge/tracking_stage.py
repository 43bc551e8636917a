"""The tracker, zones and lines as a stage of the model chain (edge.model_chain).

    [tracker]                 # or `edge run --track [k=v,...]`
    model = "detect"          # the detect model whose boxes are tracked (default: the first detect model)
    high_score = 0.5          # ... any key of edge.tracker.TrackerConfig

The tracked model decodes down to ``low_score`` (so the tracker sees the weak boxes ByteTrack uses); its
output keeps the detections at or above the model's own ``score`` plus the weaker ones a confirmed track
claimed, each with its ``track_id``. Models that run ``on`` its boxes (a pose on each person) run after this
stage, so their crops carry the person's id. Zones and lines ([[zone]], [[line]], edge.zones) count the
tracked objects; their state goes into every JSON line, their events into the line of the frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ConfigError
from .render import color_for
from .results import Detections
from .tracker import Tracker, TrackerConfig, TrackState
from .zones import Line, TrackedObject, Zone, ZoneCounter


@dataclass(frozen=True)
class TrackingSetup:
    config: TrackerConfig
    model: str | None = None  # None: the first detect model

    @classmethod
    def from_table(cls, table, where: str) -> "TrackingSetup":
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [tracker] must be a table of settings, got {table!r}")
        table = dict(table)
        model = table.pop("model", None)
        if model is not None and (not isinstance(model, str) or not model):
            raise ConfigError(f"{where}: model must name a [[model]] (its name), got {model!r}")
        return cls(TrackerConfig.from_table(table, where), model)


@dataclass
class TrackingResult:
    state: dict  # {"zones": {...}, "lines": {...}} for the JSON line
    events: list[dict]
    trails: dict[int, list[tuple[float, float]]]  # track id -> recent box centres (confirmed, seen this frame)


class TrackingStage:
    def __init__(self, setup: TrackingSetup, zones: list[Zone] = (), lines: list[Line] = ()):
        self.setup = setup
        self.tracker = Tracker(setup.config)
        self.counter = ZoneCounter(list(zones), list(lines)) if (zones or lines) else None
        self.keep_score = 0.0  # the tracked model's own score threshold (set by the chain)
        self._t0 = time.monotonic()

    def apply(self, dets: Detections, frame_size: tuple[int, int], t: float | None = None):
        """Track ``dets`` (decoded down to low_score); returns (detections with track ids, TrackingResult)."""
        t = time.monotonic() - self._t0 if t is None else t
        ids = self.tracker.update(dets.boxes, dets.scores, dets.class_ids)
        keep = (dets.scores >= self.keep_score) | (ids >= 0)
        out = dets[keep]  # carries every per-detection field
        out.track_ids = ids[keep]
        trails = {}
        objects = []
        by_id = {tr.id: tr for tr in self.tracker.tracks if tr.id >= 0}
        for i in np.nonzero(out.track_ids >= 0)[0]:
            tid = int(out.track_ids[i])
            objects.append(TrackedObject(tid, out.label(int(i)), tuple(float(v) for v in out.boxes[i])))
            trails[tid] = list(by_id[tid].trail)
        state, events = ({}, [])
        if self.counter is not None:
            alive = {tr.id for tr in self.tracker.tracks if tr.id >= 0 and tr.state is not TrackState.REMOVED}
            state, events = self.counter.update(objects, alive, t, frame_size)
        return out, TrackingResult(state, events, trails)

    def idle(self, t: float | None = None) -> TrackingResult:
        """A frame on which the tracked model did not run (its ``when`` gate closed): the tracker does not
        advance, the zones and lines report their counts unchanged (dwell times still grow), no events."""
        t = time.monotonic() - self._t0 if t is None else t
        return TrackingResult(self.counter.state(t) if self.counter is not None else {}, [], {})

    def render(self, image: np.ndarray, result: TrackingResult) -> np.ndarray:
        """Trails of the tracks, zone outlines and line segments with their counts."""
        h, w = image.shape[:2]
        thick = max(1, round(min(h, w) / 300))
        scale = max(0.4, min(h, w) / 900)
        for tid, pts in result.trails.items():
            if len(pts) >= 2:
                cv2.polylines(image, [np.round(np.array(pts)).astype(np.int32)], False, color_for(tid), thick,
                              cv2.LINE_AA)
        if self.counter is None:
            return image
        polys, segments = self.counter.geometry((w, h))
        zones = result.state.get("zones", {})
        for zone, poly in zip(self.counter.zones, polys):
            c = zones.get(zone.name, {})
            cv2.polylines(image, [np.round(poly).astype(np.int32)], True, (0, 200, 255), thick, cv2.LINE_AA)
            _label(image, f"{zone.name}: inside {c.get('inside', 0)} in {c.get('in', 0)} out {c.get('out', 0)}",
                   poly.min(axis=0), scale, (0, 200, 255))
        lines = result.state.get("lines", {})
        for line, (a, b) in zip(self.counter.lines, segments):
            c = lines.get(line.name, {})
            pa, pb = tuple(int(round(v)) for v in a), tuple(int(round(v)) for v in b)
            cv2.line(image, pa, pb, (255, 0, 255), thick + 1, cv2.LINE_AA)
            mid = np.array([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2])
            d = np.array([b[0] - a[0], b[1] - a[1]])
            normal = np.array([-d[1], d[0]]) / max(1e-6, float(np.hypot(*d)))  # towards the "in" side (right)
            tip = mid + normal * 25
            cv2.arrowedLine(image, tuple(int(v) for v in mid), tuple(int(v) for v in tip), (255, 0, 255), thick,
                            cv2.LINE_AA, tipLength=0.4)
            _label(image, f"{line.name}: in {c.get('in', 0)} out {c.get('out', 0)}", mid + 5, scale, (255, 0, 255))
        return image


def _label(image: np.ndarray, text: str, at, scale: float, color) -> None:
    h, w = image.shape[:2]
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = int(min(max(0, at[0]), max(0, w - tw - 2)))
    y = int(min(max(th + base, at[1] + th + base), h - 2))
    cv2.rectangle(image, (x, y - th - base), (x + tw + 2, y + 2), color, -1)
    cv2.putText(image, text, (x + 1, y - base + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
