"""Multi-object tracking by detection, ByteTrack-style, on any detector's boxes. Pure numpy.

Each frame, ``Tracker.update(boxes, scores, class_ids)`` returns one track id per detection (-1: none yet).

1. Every track's box is predicted one frame ahead by a constant-velocity Kalman filter (edge.kalman).
2. First association, the high-score detections (score >= ``high_score``): with ``cascade`` (the default) the
   tracks matched on the last frame choose first and lost tracks take from what is left (DeepSORT's
   matching cascade: a track seen a moment ago is a surer guess than one whose prediction has drifted for
   frames); without it, confirmed and lost tracks together. Cost 1 - IoU * score (``fuse_score``) or
   1 - IoU, minimum-cost matching (edge.assignment) that only accepts IoU >= ``match_iou``.
3. Second association: confirmed tracks still unmatched against the low-score detections
   (``low_score <= score < high_score``), IoU >= ``low_match_iou``. A low score alone never starts a track,
   but it keeps a partly hidden object's track alive (the ByteTrack idea). (With ``cascade`` this runs
   before the lost tracks' turn in step 2.)
3b. ``recover`` (default on): confirmed and lost tracks still unmatched against the high-score detections
   left, by IoU with the box each track last matched instead of its prediction (OC-SORT's
   observation-centric recovery: a prediction that drifted while the object was hidden misses it).
4. Tentative tracks (seen fewer than ``min_hits`` times) against the high-score detections left,
   IoU >= ``tentative_match_iou``; a tentative track missed once is dropped.
5. High-score detections still unmatched with score >= ``new_track_score`` start tentative tracks (on the
   first frame they are confirmed at once).
6. A confirmed track that is not matched becomes lost; lost for more than ``max_lost`` frames, it is removed.
   A lost track matched again (high-score detections only) is confirmed again with its old id.

The defaults are ByteTrack's published settings plus the two steps above, none chosen on a test set
(docs/tracking.md). ``nsa`` scales the Kalman measurement noise by 1 - score (StrongSORT), off by default.

With ``per_class`` (the default) a track only matches detections of its own class; otherwise classes are
ignored in matching and a track keeps the class it started with.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass, fields

import numpy as np

from . import kalman
from .assignment import assign
from .errors import ConfigError


class TrackState(enum.Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"
    REMOVED = "removed"


@dataclass(frozen=True)
class TrackerConfig:
    # defaults: ByteTrack's published MOT17 settings (the paper; MMTracking's bytetrack config): high 0.6,
    # low 0.1, new tracks at high + 0.1, score-weighted IoU, IoU gates 0.1 / 0.5 / 0.3, 30 frames kept
    high_score: float = 0.6  # detections at or above: first association, may start tracks
    low_score: float = 0.1  # detections in [low_score, high_score): second association only
    new_track_score: float = 0.7  # an unmatched detection at or above starts a track
    match_iou: float = 0.1  # first association: minimum IoU of predicted box and detection
    low_match_iou: float = 0.5  # second association (low-score detections)
    tentative_match_iou: float = 0.3  # tentative tracks against the high-score detections left
    min_hits: int = 2  # matched frames before a track is confirmed (and gets an id in the output)
    max_lost: int = 30  # frames a lost track is kept for re-identification
    per_class: bool = True  # match only detections of the track's class
    fuse_score: bool = True  # high-score association cost 1 - IoU * score instead of 1 - IoU
    cascade: bool = True  # tracks seen on the last frame get the high-score detections before lost tracks do
    recover: bool = True  # tracks still unmatched vs high detections left, by IoU with their last matched box
    nsa: bool = False  # Kalman measurement noise scaled by 1 - score (StrongSORT's NSA Kalman)
    trail: int = 30  # box centres kept per track (for drawing its trail)

    @classmethod
    def from_table(cls, table: dict, where: str) -> "TrackerConfig":
        """A ``[tracker]`` TOML table (or ``--track key=value,...``) -> config; every bad value is a named error."""
        known = {f.name: f for f in fields(cls)}
        unknown = set(table) - set(known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                              f"{', '.join(sorted(known))}")
        values = {}
        for key, value in table.items():
            kind = type(getattr(cls, key))
            if kind is bool:
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
            elif kind is int:
                if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "min_hits" else 0):
                    raise ConfigError(f"{where}: {key} must be an integer >= {1 if key == 'min_hits' else 0}, "
                                      f"got {value!r}")
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                    raise ConfigError(f"{where}: {key} must be a number in 0..1, got {value!r}")
                value = float(value)
            values[key] = value
        config = cls(**values)
        if config.low_score > config.high_score:
            raise ConfigError(f"{where}: low_score ({config.low_score:g}) must not exceed high_score "
                              f"({config.high_score:g})")
        if config.new_track_score < config.high_score:
            raise ConfigError(f"{where}: new_track_score ({config.new_track_score:g}) must be at least high_score "
                              f"({config.high_score:g}): only high-score detections start tracks")
        return config


class Track:
    """One object's bookkeeping. Its Kalman state lives in the tracker's stacked arrays (``Tracker.boxes``)."""

    __slots__ = ("id", "class_id", "state", "hits", "age", "missed", "score", "trail", "det", "seen")

    def __init__(self, class_id: int, score: float, trail: int):
        self.id = -1  # given when confirmed, so ids count confirmed objects only
        self.class_id = class_id
        self.state = TrackState.TENTATIVE
        self.hits, self.age, self.missed = 1, 1, 0
        self.score = score
        self.trail: collections.deque = collections.deque(maxlen=max(1, trail))
        self.det = -1  # index of the detection matched on the current frame
        self.seen = None  # the last detection box matched (x0, y0, x1, y1)


class Tracker:
    def __init__(self, config: TrackerConfig | None = None, noise: kalman.KalmanNoise | None = None):
        self.config = config or TrackerConfig()
        self.noise = noise or kalman.KalmanNoise()
        self.tracks: list[Track] = []  # tentative, confirmed and lost
        self._mean = np.zeros((0, 8))  # Kalman states, row k for tracks[k]
        self._cov = np.zeros((0, 3, 4))  # (pp, pv, vv) per coordinate, edge.kalman
        self.frame = 0
        self._next_id = 1

    def boxes(self) -> np.ndarray:
        """(len(tracks), 4) filtered boxes x0 y0 x1 y1, row k for tracks[k]."""
        return kalman.xyah_to_xyxy(self._mean[:, :4])

    @property
    def confirmed(self) -> list[Track]:
        return [t for t in self.tracks if t.state is TrackState.CONFIRMED]

    def update(self, boxes, scores, class_ids=None) -> np.ndarray:
        """Advance one frame. Returns (N,) int track ids aligned with the detections (-1: no confirmed track)."""
        cfg = self.config
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        class_ids = (np.zeros(len(boxes), np.int64) if class_ids is None
                     else np.asarray(class_ids, dtype=np.int64).reshape(-1))
        if not (len(scores) == len(boxes) == len(class_ids)):
            raise ValueError(f"Tracker.update: {len(boxes)} boxes, {len(scores)} scores, {len(class_ids)} classes")
        self.frame += 1
        tracks = self.tracks
        mean, cov = self._predict()
        predicted = kalman.xyah_to_xyxy(mean[:, :4])
        track_class = np.array([t.class_id for t in tracks], dtype=np.int64)
        states = [t.state for t in tracks]
        state = np.array([st is TrackState.CONFIRMED for st in states], dtype=bool)
        lost = np.array([st is TrackState.LOST for st in states], dtype=bool)
        det_of = np.full(len(tracks), -1, dtype=np.int64)  # matched detection per track
        iou = iou_matrix(predicted, boxes)  # every track against every detection, once per frame
        if cfg.per_class:
            iou[track_class[:, None] != class_ids[None, :]] = 0.0
        ctx = (iou, scores, det_of)
        high = np.nonzero(scores >= cfg.high_score)[0]
        low = np.nonzero((scores >= cfg.low_score) & (scores < cfg.high_score))[0]
        if cfg.cascade:  # 2. tracked vs high, 3. tracked still unmatched vs low, 2. lost vs high left
            high = self._associate(np.nonzero(state)[0], high, ctx, cfg.match_iou, cfg.fuse_score)
            self._associate(np.nonzero(state & (det_of < 0))[0], low, ctx, cfg.low_match_iou, False)
            high = self._associate(np.nonzero(lost)[0], high, ctx, cfg.match_iou, cfg.fuse_score)
        else:
            # 2. confirmed + lost vs high
            high = self._associate(np.nonzero(state | lost)[0], high, ctx, cfg.match_iou, cfg.fuse_score)
            # 3. confirmed (not lost) still unmatched vs low
            self._associate(np.nonzero(state & (det_of < 0))[0], low, ctx, cfg.low_match_iou, False)
        if cfg.recover and len(high):  # 3b. by the box each track last matched
            rows = np.nonzero((state | lost) & (det_of < 0))[0]
            if len(rows):
                last_seen = np.array([tracks[k].seen for k in rows], dtype=np.float64)
                iou_seen = np.zeros_like(iou)
                iou_seen[rows] = iou_matrix(last_seen, boxes)
                if cfg.per_class:
                    iou_seen[track_class[:, None] != class_ids[None, :]] = 0.0
                high = self._associate(rows, high, (iou_seen, scores, det_of), cfg.match_iou, cfg.fuse_score)
        # 4. tentative vs high left
        tentative = np.nonzero(~state & ~lost)[0]
        high = self._associate(tentative, high, ctx, cfg.tentative_match_iou, cfg.fuse_score)
        matched = np.nonzero(det_of >= 0)[0]
        if len(matched):
            mean[matched], cov[matched] = kalman.update(mean[matched], cov[matched],
                                                        kalman.xyxy_to_xyah(boxes[det_of[matched]]), self.noise,
                                                        scores[det_of[matched]] if cfg.nsa else None)
        score_list = scores.tolist()
        for t, d in zip(tracks, det_of.tolist()):
            t.det = d
            if d >= 0:
                t.seen = boxes[d]
                t.hits += 1
                t.missed = 0
                t.score = score_list[d]
                if t.state is TrackState.LOST or (t.state is TrackState.TENTATIVE and t.hits >= cfg.min_hits):
                    t.state = TrackState.CONFIRMED
                if t.id < 0 and t.state is TrackState.CONFIRMED:
                    t.id, self._next_id = self._next_id, self._next_id + 1
            elif t.state is TrackState.TENTATIVE:
                t.state = TrackState.REMOVED  # a tentative track missed once is dropped
            else:
                t.missed += 1
                t.state = TrackState.REMOVED if t.missed > cfg.max_lost else TrackState.LOST
        keep = [k for k, t in enumerate(tracks) if t.state is not TrackState.REMOVED]
        tracks = [tracks[k] for k in keep]
        mean, cov = mean[keep], cov[keep]
        # 5. new tracks
        new = [int(i) for i in high if score_list[i] >= cfg.new_track_score]
        if new:
            new_mean, new_cov = kalman.initiate(kalman.xyxy_to_xyah(boxes[new]), self.noise)
            mean, cov = np.concatenate([mean, new_mean]), np.concatenate([cov, new_cov])
            trusted = cfg.min_hits <= 1 or self.frame == 1  # at the start, a detection is trusted at once
            for i in new:
                t = Track(int(class_ids[i]), score_list[i], cfg.trail)
                t.det, t.seen = i, boxes[i]
                if trusted:
                    t.state = TrackState.CONFIRMED
                    t.id, self._next_id = self._next_id, self._next_id + 1
                tracks.append(t)
        self.tracks, self._mean, self._cov = tracks, mean, cov
        ids = [-1] * len(boxes)
        centres = ((boxes[:, :2] + boxes[:, 2:]) / 2).tolist()
        for t in tracks:
            if t.det >= 0 and t.state is TrackState.CONFIRMED:
                ids[t.det] = t.id
                t.trail.append(tuple(centres[t.det]))
        return np.array(ids, dtype=np.int64)

    def _predict(self) -> tuple[np.ndarray, np.ndarray]:
        """Every track one frame ahead; returns the stacked means (N, 8) and covariances (N, 3, 4)."""
        if not self.tracks:
            return np.zeros((0, 8)), np.zeros((0, 3, 4))
        mean = self._mean.copy()
        lost = np.array([t.state is TrackState.LOST for t in self.tracks])
        mean[lost, 7] = 0.0  # a track not seen last frame: stop growing/shrinking
        for t in self.tracks:
            t.age += 1
        return kalman.predict(mean, self._cov, self.noise)

    def _associate(self, rows: np.ndarray, det_idx: np.ndarray, ctx, min_iou: float, fuse: bool) -> np.ndarray:
        """Match tracks ``rows`` to detections ``det_idx`` (writes ``det_of``); returns the detections left."""
        iou_all, scores, det_of = ctx
        if len(rows) == 0 or len(det_idx) == 0:
            return det_idx
        iou = iou_all[np.ix_(rows, det_idx)]
        cost = 1.0 - (iou * scores[det_idx][None, :] if fuse else iou)
        cost = np.where(iou >= min_iou, cost, np.inf)
        r, c = assign(cost, 1.0)
        det_of[rows[r]] = det_idx[c]
        return np.delete(det_idx, c)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), x0 y0 x1 y1."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
