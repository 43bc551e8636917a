"""``python -m edge track``: the tracker on detections in the MOTChallenge text format, without video.

    python -m edge track --detections det.txt --out tracks.txt [--set high_score=0.6,max_lost=20] [--interpolate 20]
                         [--boxes track|detection]

Input lines: ``frame, id, left, top, width, height, score[, ...]`` (frames from 1, pixels; id is ignored,
usually -1). Output lines: ``frame, track_id, left, top, width, height, score, -1, -1, -1``, one per
detection that a confirmed track claimed on that frame, which is what MOTChallenge scoring tools read.

``--boxes track`` (the default) writes each track's Kalman estimate after it was corrected with the
detection it claimed, as SORT and ByteTrack write their results; ``--boxes detection`` writes the claimed
detection's own box unchanged (what the live pipeline's JSON lines carry, with the track id).

``--interpolate N`` (offline only, off by default) adds, after tracking, boxes linearly interpolated across
the gaps inside each track: ByteTrack's published post-processing for its MOT17/MOT20 results (its
``tools/interpolation.py``, run with N = 20): a gap is filled when the frames on either side differ by more
than 1 and less than N, in tracks of more than 5 boxes. It needs the frames after a gap, so it never runs in
the live pipeline.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cli import Command
from .errors import ConfigError, SinkError, SourceError
from .tracker import Tracker, TrackerConfig


@dataclass
class MotDetections:
    frames: np.ndarray  # (N,) int, from 1
    boxes: np.ndarray  # (N, 4) x0 y0 x1 y1
    scores: np.ndarray  # (N,)


def read_mot(path: str | Path) -> MotDetections:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SourceError(f"{path}: no such detections file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read ({exc})") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.replace(" ", "").split(",")
        try:
            values = [float(v) for v in parts[:7]]
        except ValueError:
            raise SourceError(f"{path}:{n}: {line.strip()!r} is not 'frame, id, left, top, width, height, score' "
                              f"(numbers)") from None
        if len(values) < 7:
            raise SourceError(f"{path}:{n}: {len(values)} fields; expected at least 7 "
                              f"(frame, id, left, top, width, height, score)")
        if values[0] < 1 or values[0] != int(values[0]):
            raise SourceError(f"{path}:{n}: frame {parts[0]!r} must be an integer from 1")
        if values[4] <= 0 or values[5] <= 0:
            raise SourceError(f"{path}:{n}: width and height must be positive, got {parts[4]}, {parts[5]}")
        rows.append(values)
    arr = np.array(rows, dtype=np.float64).reshape(-1, 7)
    boxes = np.stack([arr[:, 2], arr[:, 3], arr[:, 2] + arr[:, 4], arr[:, 3] + arr[:, 5]], axis=1)
    return MotDetections(arr[:, 0].astype(np.int64), boxes, arr[:, 6])


BOX_CHOICES = ("track", "detection")


def track_mot(dets: MotDetections, config: TrackerConfig | None = None, boxes_from: str = "track") -> list[tuple]:
    """Run the tracker over every frame 1..last; returns output rows (frame, id, left, top, w, h, score), one
    per detection a confirmed track claimed. ``boxes_from``: ``"track"``, the track's filtered box on that
    frame (Kalman state after the correction, as SORT and ByteTrack output), or ``"detection"``, the box
    of the detection claimed."""
    if boxes_from not in BOX_CHOICES:
        raise ConfigError(f"--boxes: {boxes_from!r} is not one of {', '.join(BOX_CHOICES)}")
    tracker = Tracker(config)
    out = []
    last = int(dets.frames.max()) if len(dets.frames) else 0
    order = np.argsort(dets.frames, kind="stable")
    frames, boxes, scores = dets.frames[order], dets.boxes[order], dets.scores[order]
    starts = np.searchsorted(frames, np.arange(1, last + 2))
    for f in range(1, last + 1):
        sl = slice(starts[f - 1], starts[f])
        b, s = boxes[sl], scores[sl]
        ids = tracker.update(b, s)
        written = b if boxes_from == "detection" else _filtered_per_detection(tracker, len(b))
        for i in np.nonzero(ids >= 0)[0]:
            x0, y0, x1, y1 = written[i].tolist()
            out.append((f, int(ids[i]), x0, y0, x1 - x0, y1 - y0, float(s[i])))
    return out


def _filtered_per_detection(tracker: Tracker, n: int) -> np.ndarray:
    """(n, 4) the filtered box of the track that claimed each detection of this frame (NaN where none did)."""
    out = np.full((n, 4), np.nan)
    filtered = tracker.boxes()
    for k, t in enumerate(tracker.tracks):
        if t.det >= 0:
            out[t.det] = filtered[k]
    return out


INTERPOLATE_MIN_BOXES = 5  # ByteTrack's n_min: tracks of this many boxes or fewer are left as they are


def interpolate_gaps(rows: list[tuple], max_gap: int, min_boxes: int = INTERPOLATE_MIN_BOXES) -> list[tuple]:
    """Tracks (rows of ``track_mot``) with boxes added linearly across each gap inside a track: between two
    boxes of one track on frames f0 < f1 with 1 < f1 - f0 < ``max_gap``, one box per missing frame (score: the
    lower of the two ends). Only tracks of more than ``min_boxes`` boxes. Sorted by frame, then track."""
    by_track: dict[int, list[tuple]] = {}
    for row in rows:
        by_track.setdefault(row[1], []).append(row)
    out = list(rows)
    for tid, track in by_track.items():
        if len(track) <= min_boxes:
            continue
        track.sort(key=lambda r: r[0])
        for a, b in zip(track, track[1:]):
            gap = b[0] - a[0]
            if not 1 < gap < max_gap:
                continue
            start, end = np.array(a[2:6], dtype=np.float64), np.array(b[2:6], dtype=np.float64)
            for j in range(1, gap):
                x, y, w, h = (start + (end - start) * (j / gap)).tolist()
                out.append((a[0] + j, tid, x, y, w, h, min(a[6], b[6])))
    out.sort(key=lambda r: (r[0], r[1]))
    return out


def write_mot(path: str | Path, rows: list[tuple]) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as fh:
            for f, tid, x, y, w, h, s in rows:
                fh.write(f"{f},{tid},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.4f},-1,-1,-1\n")
    except OSError as exc:
        raise SinkError(f"{path}: cannot write the tracks ({exc.strerror or exc})") from None


def parse_settings(text: str | None, where: str) -> dict:
    """``key=value,key=value`` -> dict with bools, ints and floats parsed."""
    table: dict = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"{where}: {pair!r} is not key=value")
        value = value.strip()
        if value.lower() in ("true", "false"):
            table[key.strip()] = value.lower() == "true"
            continue
        for cast in (int, float):
            try:
                table[key.strip()] = cast(value)
                break
            except ValueError:
                pass
        else:
            table[key.strip()] = value
    return table


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detections", required=True, metavar="DET_TXT", help="MOTChallenge detections (det.txt)")
    p.add_argument("--out", required=True, metavar="TRACKS_TXT", help="where to write the tracks")
    p.add_argument("--set", default=None, metavar="K=V,...",
                   help="tracker settings, the keys of a [tracker] table (e.g. high_score=0.6,max_lost=20)")
    p.add_argument("--interpolate", type=int, default=0, metavar="N",
                   help="offline post-processing: fill gaps inside a track linearly when the frames on either "
                        "side differ by less than N (ByteTrack's published results use 20); default 0: off")
    p.add_argument("--boxes", choices=BOX_CHOICES, default="track",
                   help="box written per tracked detection: the track's Kalman estimate after the correction "
                        "(default, as SORT and ByteTrack write) or the detection's own box")


def _main(args: argparse.Namespace) -> int:
    config = TrackerConfig.from_table(parse_settings(args.set, "--set"), "--set")
    if args.interpolate < 0:
        raise ConfigError(f"--interpolate: {args.interpolate} must be 0 (off) or a number of frames (e.g. 20)")
    dets = read_mot(args.detections)
    rows = track_mot(dets, config, args.boxes)
    if args.interpolate:
        rows = interpolate_gaps(rows, args.interpolate)
    write_mot(args.out, rows)
    ids = {r[1] for r in rows}
    print(f"{len(dets.frames)} detections in {int(dets.frames.max()) if len(dets.frames) else 0} frames -> "
          f"{len(rows)} tracked boxes, {len(ids)} tracks; wrote {args.out}")
    return 0


COMMAND = Command("track MOTChallenge detections (det.txt) into tracks (tracks.txt), no video needed",
                  _arguments, _main)
