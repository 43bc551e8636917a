"""Zones (polygons) and directed lines over tracked objects: counts, dwell times and events. Pure numpy.

Declared in the pipeline TOML:

    [[zone]]
    name = "door"
    points = [[0.1, 0.2], [0.5, 0.2], [0.5, 0.9], [0.1, 0.9]]
    units = "normalized"        # or "pixels" (the default)
    classes = ["person"]        # labels counted here (default: every class)
    dwell = 5.0                 # seconds inside before a "dwell" event (default: no dwell events)
    anchor = "bottom"           # the point of a box that must be inside: "bottom" centre (default) or "center"
    inertia = 3                 # frames in a row inside (outside) before a track enters (exits); default 1

    [[line]]
    name = "entry"
    points = [[320, 0], [320, 480]]   # a -> b; crossing from the left of a->b to its right counts "in"
    classes = ["person"]

A track is inside a zone when its anchor point is; with ``inertia = N`` it must be inside (outside) N frames
in a row before it enters (exits), so a box that jitters across the border (a person whose feet touch the
frame's edge) does not enter and exit on alternate frames. ``ZoneCounter.update(tracks, t)`` takes the confirmed
tracks matched on this frame and returns the state (``inside``/``in``/``out`` per zone, dwell seconds per
track inside, ``in``/``out`` per line) plus the frame's events: ``enter`` and ``exit`` (a zone), ``cross``
(a line, with ``direction`` in/out) and ``dwell`` (once per visit, when a track has been inside ``dwell``
seconds). A track that the tracker drops while inside a zone exits it (``"reason": "lost"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError

_ZONE_KEYS = {"name", "points", "units", "classes", "dwell", "anchor", "inertia"}
_LINE_KEYS = {"name", "points", "units", "classes", "anchor"}


@dataclass(frozen=True)
class Zone:
    name: str
    points: tuple[tuple[float, float], ...]
    normalized: bool = False
    classes: tuple[str, ...] | None = None  # None: every class
    dwell: float | None = None
    anchor: str = "bottom"
    inertia: int = 1  # consecutive frames on the other side before a track enters or exits


@dataclass(frozen=True)
class Line:
    name: str
    points: tuple[tuple[float, float], tuple[float, float]]
    normalized: bool = False
    classes: tuple[str, ...] | None = None
    anchor: str = "bottom"


@dataclass
class TrackedObject:
    """What the counter needs of a track on one frame."""

    track_id: int
    label: str
    box: tuple[float, float, float, float]  # x0 y0 x1 y1, frame pixels


def _points(entry: dict, here: str, count: int | None, units: str) -> tuple[tuple[float, float], ...]:
    pts = entry.get("points")
    expected = f"exactly {count}" if count else "at least 3"
    if not isinstance(pts, list) or not all(isinstance(p, list) and len(p) == 2 for p in pts):
        raise ConfigError(f"{here}: points must be a list of [x, y] pairs ({expected}), got {pts!r}")
    if (count and len(pts) != count) or (not count and len(pts) < 3):
        raise ConfigError(f"{here}: points has {len(pts)} point(s); expected {expected}")
    out = []
    for p in pts:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p):
            raise ConfigError(f"{here}: point {p!r} is not two numbers")
        if units == "normalized" and not all(0.0 <= v <= 1.0 for v in p):
            raise ConfigError(f"{here}: point {p!r} lies outside 0..1, but units = 'normalized'")
        if units == "pixels" and not all(v >= 0 for v in p):
            raise ConfigError(f"{here}: point {p!r} has a negative pixel coordinate")
        out.append((float(p[0]), float(p[1])))
    if count == 2 and out[0] == out[1]:
        raise ConfigError(f"{here}: the two points are the same; a line needs two distinct points")
    if not count and abs(_area(np.array(out))) < 1e-9:
        raise ConfigError(f"{here}: the polygon has no area (its points are in a line)")
    return tuple(out)


def _common(entry: dict, here: str, keys: set[str], names: set[str]) -> tuple[str, str, tuple | None, str]:
    unknown = set(entry) - keys
    if unknown:
        raise ConfigError(f"{here}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(keys))}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{here}: name = '...' is required (it names the counts in the JSON lines)")
    if name in names:
        raise ConfigError(f"{here}: name {name!r} is used twice")
    units = entry.get("units", "pixels")
    if units not in ("pixels", "normalized"):
        raise ConfigError(f"{here}: units = {units!r}; expected 'pixels' or 'normalized'")
    classes = entry.get("classes")
    if classes is not None:
        if isinstance(classes, str):
            classes = [classes]
        if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
            raise ConfigError(f"{here}: classes must be a non-empty list of labels, got {entry.get('classes')!r}")
        classes = tuple(classes)
    anchor = entry.get("anchor", "bottom")
    if anchor not in ("bottom", "center"):
        raise ConfigError(f"{here}: anchor = {anchor!r}; expected 'bottom' or 'center'")
    return name, units, classes, anchor


def parse_zones(entries, where: str) -> list[Zone]:
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: zone must be an array of tables ([[zone]]), got {type(entries).__name__}")
    zones: list[Zone] = []
    for i, entry in enumerate(entries):
        here = f"{where}: zone {i + 1}"
        name, units, classes, anchor = _common(entry, here, _ZONE_KEYS, {z.name for z in zones})
        here = f"{where}: zone {name!r}"
        dwell = entry.get("dwell")
        if dwell is not None and (isinstance(dwell, bool) or not isinstance(dwell, (int, float)) or dwell <= 0):
            raise ConfigError(f"{here}: dwell must be a positive number of seconds, got {dwell!r}")
        inertia = entry.get("inertia", 1)
        if isinstance(inertia, bool) or not isinstance(inertia, int) or not 1 <= inertia <= 1000:
            raise ConfigError(f"{here}: inertia must be a whole number of frames 1..1000, got {inertia!r}")
        zones.append(Zone(name, _points(entry, here, None, units), units == "normalized", classes,
                          float(dwell) if dwell is not None else None, anchor, inertia))
    return zones


def parse_lines(entries, where: str, taken: set[str] = frozenset()) -> list[Line]:
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: line must be an array of tables ([[line]]), got {type(entries).__name__}")
    lines: list[Line] = []
    for i, entry in enumerate(entries):
        here = f"{where}: line {i + 1}"
        name, units, classes, anchor = _common(entry, here, _LINE_KEYS, {ln.name for ln in lines} | set(taken))
        here = f"{where}: line {name!r}"
        a, b = _points(entry, here, 2, units)
        lines.append(Line(name, (a, b), units == "normalized", classes, anchor))
    return lines


def _area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def inside_polygon(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule for (N, 2) points against an (M, 2) polygon -> (N,) bool."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = poly[:, 0][None, :], poly[:, 1][None, :]
    x1, y1 = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
    straddles = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return (straddles & (x < x_cross)).sum(axis=1) % 2 == 1


def _cross(a, b, p) -> float:
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def crossing(a, b, p, q) -> int:
    """+1 when the step p -> q crosses segment a -> b from its left to its right (image coordinates, y down:
    walking from a to b, the right hand side), -1 for right to left, 0 when it does not cross the segment.
    A point exactly on the line counts as right of it, so a step that ends on the line and the next one that
    leaves it count once between them."""
    right_p, right_q = _cross(a, b, p) >= 0, _cross(a, b, q) >= 0
    if right_p == right_q:
        return 0
    if _cross(p, q, a) * _cross(p, q, b) > 0:
        return 0  # crossed the infinite line beyond the segment's ends
    return 1 if right_q else -1


def anchor_point(box, anchor: str) -> tuple[float, float]:
    x0, y0, x1, y1 = box
    return ((x0 + x1) / 2, y1 if anchor == "bottom" else (y0 + y1) / 2)


@dataclass
class _ZoneState:
    entered: dict[int, float] = field(default_factory=dict)  # track id -> time it entered
    dwelled: set[int] = field(default_factory=set)  # tracks whose dwell event has been sent this visit
    streak: dict[int, int] = field(default_factory=dict)  # frames in a row a track has been on the other side
    count_in: int = 0
    count_out: int = 0


class ZoneCounter:
    def __init__(self, zones: list[Zone], lines: list[Line]):
        self.zones, self.lines = zones, lines
        self._size: tuple[int, int] | None = None
        self._polys: list[np.ndarray] = []
        self._segments: list[tuple[tuple[float, float], tuple[float, float]]] = []
        self._zone_state = [_ZoneState() for _ in zones]
        self._line_counts = [[0, 0] for _ in lines]
        self._last_point: list[dict[int, tuple[float, float]]] = [{} for _ in lines]

    def geometry(self, frame_size: tuple[int, int]):
        """Zone polygons and line segments in pixels of a (width, height) frame."""
        if self._size != frame_size:
            w, h = frame_size
            self._polys = [np.array(z.points, dtype=np.float64) * ((w, h) if z.normalized else (1, 1)) for z in self.zones]
            self._segments = [tuple((p[0] * w, p[1] * h) if ln.normalized else p for p in ln.points)
                              for ln in self.lines]
            self._size = frame_size
        return self._polys, self._segments

    def update(self, objects: list[TrackedObject], alive: set[int], t: float,
               frame_size: tuple[int, int]) -> tuple[dict, list[dict]]:
        """``objects``: confirmed tracks matched on this frame; ``alive``: ids the tracker still keeps (lost ones
        included). Returns (state for the JSON line, events of this frame)."""
        polys, segments = self.geometry(frame_size)
        events: list[dict] = []
        for zone, poly, st in zip(self.zones, polys, self._zone_state):
            here = [o for o in objects if zone.classes is None or o.label in zone.classes]
            pts = np.array([anchor_point(o.box, zone.anchor) for o in here]).reshape(-1, 2)
            inside = inside_polygon(pts, poly) if len(here) else np.zeros(0, bool)
            seen = set()
            for o, ins in zip(here, inside):
                seen.add(o.track_id)
                if bool(ins) == (o.track_id in st.entered):
                    st.streak.pop(o.track_id, None)
                    continue
                st.streak[o.track_id] = st.streak.get(o.track_id, 0) + 1
                if st.streak[o.track_id] < zone.inertia:
                    continue
                del st.streak[o.track_id]
                if ins:
                    st.entered[o.track_id] = t
                    st.count_in += 1
                    events.append(_event("enter", o, t, zone=zone.name))
                else:
                    dwell = t - st.entered.pop(o.track_id)
                    st.dwelled.discard(o.track_id)
                    st.count_out += 1
                    events.append(_event("exit", o, t, zone=zone.name, dwell_s=round(dwell, 2)))
            for tid in [tid for tid in st.streak if tid not in alive]:
                del st.streak[tid]
            for tid in [tid for tid in st.entered if tid not in alive]:  # dropped by the tracker while inside
                dwell = t - st.entered.pop(tid)
                st.dwelled.discard(tid)
                st.count_out += 1
                events.append({"type": "exit", "zone": zone.name, "track_id": tid, "time_s": round(t, 3),
                               "dwell_s": round(dwell, 2), "reason": "lost"})
            if zone.dwell is not None:
                for o in here:
                    tid = o.track_id
                    if tid in st.entered and tid not in st.dwelled and t - st.entered[tid] >= zone.dwell:
                        st.dwelled.add(tid)
                        events.append(_event("dwell", o, t, zone=zone.name, dwell_s=round(t - st.entered[tid], 2)))
        lines_json: dict = {}
        for k, (line, (a, b)) in enumerate(zip(self.lines, segments)):
            last = self._last_point[k]
            for o in objects:
                if line.classes is not None and o.label not in line.classes:
                    continue
                p = anchor_point(o.box, line.anchor)
                if o.track_id in last:
                    d = crossing(a, b, last[o.track_id], p)
                    if d:
                        self._line_counts[k][0 if d > 0 else 1] += 1
                        events.append(_event("cross", o, t, line=line.name, direction="in" if d > 0 else "out"))
                last[o.track_id] = p
            for tid in [tid for tid in last if tid not in alive]:
                del last[tid]
        return self.state(t), events

    def state(self, t: float) -> dict:
        """The counts for the JSON line: ``inside``/``in``/``out`` and dwell seconds (up to ``t``) per zone,
        ``in``/``out`` per line. Also what a frame on which the tracked model did not run reports."""
        state: dict = {}
        if self.zones:
            state["zones"] = {zone.name: {"inside": len(st.entered), "in": st.count_in, "out": st.count_out,
                                          "dwell_s": {str(tid): round(t - t0, 2) for tid, t0 in st.entered.items()}}
                              for zone, st in zip(self.zones, self._zone_state)}
        if self.lines:
            state["lines"] = {line.name: {"in": c[0], "out": c[1]} for line, c in zip(self.lines, self._line_counts)}
        return state


def _event(kind: str, o: TrackedObject, t: float, **extra) -> dict:
    return {"type": kind, **extra, "track_id": o.track_id, "label": o.label, "time_s": round(t, 3),
            "box": [round(float(v), 1) for v in o.box]}
