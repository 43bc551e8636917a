"""``events://DIR[?pre=5s&post=5s&max_mb=500]``: zone/line events as JSON lines, with snapshots and clips.

Writes into DIR:

* ``events.jsonl``: one JSON object per event (enter / exit / cross / dwell, from edge.zones), with the frame,
  the source, and the files below (paths relative to DIR);
* ``snapshots/<stamp>-<type>-<track>-full.jpg`` (the annotated frame) and ``...-crop.jpg`` (the object's box,
  with a margin, from the frame before drawing);
* with ``pre=`` and/or ``post=``: ``clips/<stamp>.mp4``, the annotated video from ``pre`` seconds before the
  first event (a ring buffer of frames held in memory) to ``post`` seconds after the last event that falls
  inside the clip: events close together share one clip. Without them no video is written, so a recording
  exists only around events.

``max_clip=`` (default 60s) bounds one clip: while events keep coming, a clip that reaches ``max_clip`` is
finished and the next frames go to a new clip (without pre-roll: they follow on directly), so no single file
grows without limit; the event lines name the clip they fall in.

A clip is written under a temporary name (``clips/.<stamp>.partial.mp4``), read back, and renamed when complete,
so a file named ``*.mp4`` is always whole; a partial file left by a run that died is deleted when the sink
opens again. ``max_mb=`` bounds the disk use of clips and snapshots together:
after each finished clip or snapshot the oldest clips are deleted first (then the oldest snapshots) until
the total fits; a clip being written is never touched. The event lines stay (they are small); a line may name
a clip that the quota has since deleted.

A full disk never leaves a half-written clip: each clip is written under an ``edge.sinks.video_guard.DiskGuard``
(free space checked before every frame, room for the index kept aside). When the room runs out the clip is
closed there, read back and given its final name (playable, the frames so far), a warning names it, and
``clips_cut_short`` counts it; while the disk stays full no new clip is opened (``clips_skipped``) and a
snapshot that cannot be written is left out of its event line (``snapshots_skipped``), but the event lines
go on. The counts are logged again when the sink closes.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import cv2
import numpy as np

from ..errors import SinkError
from ..safe_write import make_durable
from .base import Sink, SinkItem
from .segments import parse_duration
from .video_guard import DiskGuard, playable_frames

_KEYS = {"pre", "post", "max_mb", "max_clip"}
DEFAULT_MAX_CLIP_S = 60.0
log = logging.getLogger(__name__)


class EventSink(Sink):
    def __init__(self, folder: Path, pre: float = 0.0, post: float = 0.0, max_mb: float | None = None,
                 default_fps: float = 25.0, max_clip: float = DEFAULT_MAX_CLIP_S):
        if not max_clip > 0:
            raise SinkError(f"events://{folder}: max_clip must be a positive duration, got {max_clip!r}")
        self.folder, self.name = folder, f"events://{folder}"
        self.pre, self.post, self.default_fps, self.max_clip = pre, post, default_fps, max_clip
        self.max_bytes = None if max_mb is None else int(max_mb * 1024 * 1024)
        self.clips_on = pre > 0 or post > 0
        try:
            (folder / "snapshots").mkdir(parents=True, exist_ok=True)
            if self.clips_on:
                (folder / "clips").mkdir(exist_ok=True)
                for stale in (folder / "clips").glob(".*.partial.mp4"):  # left by a run that died mid-clip:
                    stale.unlink(missing_ok=True)  # never completable, never playable
            self._fh = open(folder / "events.jsonl", "a", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"{folder}: cannot create the events folder ({exc.strerror})") from None
        self._ring: collections.deque = collections.deque()
        self._writer = None
        self._guard: DiskGuard | None = None
        self._partial: Path | None = None
        self._final: Path | None = None
        self._end_frame = 0
        self._frames = 0
        self._fps = default_fps
        self._size: tuple[int, int] | None = None
        self._count = 0
        self.finished: list[Path] = []
        self.events_written = 0
        self.clips_cut_short = 0  # closed early (playable) because the disk was full
        self.clips_skipped = 0  # events that found the disk full and got no clip
        self.snapshots_skipped = 0
        self._clip_ok = self._snapshot_ok = True  # the last clip / snapshot could be started / written

    # ------------------------------------------------------------------ per frame

    def write(self, item: SinkItem) -> None:
        img = item.image
        if self._size is None:
            self._size = (img.shape[1], img.shape[0])
            self._fps = float(item.fps or self.default_fps)
            self._ring = collections.deque(maxlen=int(round(self.pre * self._fps)))
        frame = item.result.frame
        events = item.record.get("events") or []
        if img.shape[1::-1] != self._size:
            img = cv2.resize(img, self._size)
        if events and self.clips_on:
            self._end_frame = frame + int(round(self.post * self._fps))
            if self._writer is None:
                self._open_clip(frame)
        if self._writer is not None and self._frames >= self._max_frames():
            self._open_clip(frame)  # events keep the clip open past max_clip: finish it, go on in a new one
        if self._writer is not None:
            self._write_frame(img)
        elif self.clips_on:
            self._ring.append(img.copy())
        clip_name = str(self._final.relative_to(self.folder)) if self._writer is not None else None
        for ev in events:
            self._write_event(ev, item, clip_name)
        if self._writer is not None and frame >= self._end_frame:
            self._finish_clip()

    def _max_frames(self) -> int:
        return max(1, int(round(self.max_clip * self._fps)))

    def _write_event(self, ev: dict, item: SinkItem, clip_name: str | None) -> None:
        self._count += 1
        stamp = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(item.record.get('time', time.time())))}" \
                f"-f{item.result.frame:06d}-{self._count:04d}"
        base = f"{stamp}-{ev['type']}-{ev.get('track_id')}"
        line = {"frame": item.result.frame, "source": item.result.source, "time": item.record.get("time"), **ev}
        full = Path("snapshots") / f"{base}-full.jpg"
        if self._snapshot(self.folder / full, item.image):
            line["snapshot"] = str(full)
        raw = item.frame
        if "box" in ev and raw is not None:
            crop = Path("snapshots") / f"{base}-crop.jpg"
            if self._snapshot(self.folder / crop, _crop(raw, ev["box"])):
                line["crop"] = str(crop)
        if clip_name:
            line["clip"] = clip_name
        try:
            self._fh.write(json.dumps(line) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise SinkError(f"{self.folder / 'events.jsonl'}: write failed ({exc.strerror})") from None
        self.events_written += 1
        self._enforce_quota()

    def _snapshot(self, path: Path, img: np.ndarray) -> bool:
        """Write one snapshot; on a full disk: a counted warning and False (the event line goes on without it)."""
        try:
            _imwrite(path, img)
            self._snapshot_ok = True
            return True
        except SinkError as exc:
            path.unlink(missing_ok=True)
            if not _disk_full(self.folder):
                raise
            self.snapshots_skipped += 1
            if self.snapshots_skipped == 1 or self._snapshot_ok:  # once per spell of full disk, all counted
                log.warning("%s: disk full: snapshot %s not written (%d snapshot(s) skipped so far): %s", self.name,
                            path.name, self.snapshots_skipped, exc)
            self._snapshot_ok = False
            return False

    # ------------------------------------------------------------------ clips

    def _open_clip(self, frame: int) -> None:
        """Start a clip (with the pre-roll); finishes the one being written first. On a full disk: no clip,
        a counted warning, and the pre-roll is kept for the next event."""
        if self._writer is not None:
            self._finish_clip()
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-f{frame:06d}"
        final = self.folder / "clips" / f"{stamp}.mp4"
        partial = self.folder / "clips" / f".{stamp}.partial.mp4"
        w, h = self._size
        try:
            guard = DiskGuard(partial, w * h * 3)
        except SinkError as exc:
            self._skip_clip(final, exc)
            return
        try:
            guard.check(len(self._ring))
        except SinkError as exc:
            guard.release()
            self._skip_clip(final, exc)
            return
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), self._fps, self._size)
        if not writer.isOpened():
            guard.release()
            raise SinkError(f"{partial}: cannot open for writing as mp4v video")
        self._writer, self._guard, self._final, self._partial, self._frames = writer, guard, final, partial, 0
        self._clip_ok = True
        while self._ring and self._writer is not None:  # the pre-roll
            self._write_frame(self._ring.popleft())

    def _skip_clip(self, final: Path, exc: SinkError) -> None:
        self.clips_skipped += 1
        if self._clip_ok:  # once per spell of full disk (later ones counted, summed up at close)
            log.warning("%s: disk full: no clip %s for this event (%d clip(s) skipped so far): %s", self.name,
                        final.name, self.clips_skipped, exc)
        self._clip_ok = False

    def _write_frame(self, img: np.ndarray) -> None:
        """One frame into the clip, under the disk guard: when the room runs out the clip is finished here."""
        try:
            self._guard.check(self._frames)
        except SinkError as exc:
            final, frames = self._final, self._frames
            if frames:
                self._finish_clip()
            else:
                self._discard_clip()
            self.clips_cut_short += 1
            log.warning("%s: disk full: clip %s closed early with its %d frames, playable (%d clip(s) cut short "
                        "so far): %s", self.name, final.name, frames, self.clips_cut_short, exc)
            return
        self._writer.write(img)
        self._frames += 1
        self._guard.wrote(self._frames)

    def _discard_clip(self) -> None:
        writer, self._writer = self._writer, None
        self._release_guard()
        writer.release()
        self._partial.unlink(missing_ok=True)

    def _release_guard(self) -> None:
        if self._guard is not None:
            self._guard.release()
            self._guard = None

    def _finish_clip(self) -> None:
        writer, partial, final, frames = self._writer, self._partial, self._final, self._frames
        self._writer = None
        self._release_guard()  # the room kept for the index, freed just before the index is written
        writer.release()
        readable = playable_frames(partial) > 0
        if not readable:
            partial.unlink(missing_ok=True)
            raise SinkError(f"{final}: the clip ({frames} frames) could not be written completely (disk full?)")
        make_durable(partial)  # the final name only ever points at data that is on the disk
        os.replace(partial, final)
        self.finished.append(final)
        self._enforce_quota()

    # ------------------------------------------------------------------ quota

    def _enforce_quota(self) -> None:
        if self.max_bytes is None:
            return
        clips = sorted((p for p in (self.folder / "clips").glob("*.mp4") if not p.name.startswith(".")),
                       key=lambda p: (p.stat().st_mtime, p.name)) if self.clips_on else []
        snaps = sorted((self.folder / "snapshots").glob("*.jpg"), key=lambda p: (p.stat().st_mtime, p.name))
        total = sum(p.stat().st_size for p in [*clips, *snaps])
        for victim in [*clips, *snaps]:  # oldest clips first, then oldest snapshots
            if total <= self.max_bytes:
                break
            total -= victim.stat().st_size
            victim.unlink(missing_ok=True)

    def close(self) -> None:
        try:
            if self._writer is not None:
                if self._frames:
                    self._finish_clip()
                else:
                    self._discard_clip()
        finally:
            if self.clips_cut_short or self.clips_skipped or self.snapshots_skipped:
                log.warning("%s: the disk was full: %d clip(s) cut short, %d clip(s) skipped, %d snapshot(s) "
                            "skipped", self.name, self.clips_cut_short, self.clips_skipped, self.snapshots_skipped)
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def _crop(image: np.ndarray, box, margin: float = 0.1) -> np.ndarray:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    l, t = int(max(0, x0 - mx)), int(max(0, y0 - my))
    r, b = int(min(w, x1 + mx)), int(min(h, y1 + my))
    return image[t:max(b, t + 1), l:max(r, l + 1)]


def _disk_full(folder: Path, room: int = 1024 * 1024) -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < room


def _imwrite(path: Path, img: np.ndarray) -> None:
    try:
        ok = cv2.imwrite(str(path), img)
    except cv2.error as exc:
        raise SinkError(f"{path}: cannot write the snapshot ({str(exc).strip().splitlines()[-1]})") from None
    if not ok:
        raise SinkError(f"{path}: cannot write the snapshot (unwritable folder or disk full)")


def open_event_sink(uri: str, rest: str) -> EventSink:
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    folder = unquote(rest.split("?", 1)[0])
    if not folder:
        raise SinkError(f"{uri!r}: give a folder, e.g. events://events/?pre=5s&post=5s")
    unknown = set(query) - _KEYS
    if unknown:
        raise SinkError(f"{uri!r}: unknown option(s) {', '.join(sorted(unknown))}; events:// takes "
                        f"{', '.join(sorted(_KEYS))}")
    pre = _duration(query.get("pre"), "pre", uri)
    post = _duration(query.get("post"), "post", uri)
    max_mb = None
    if "max_mb" in query:
        try:
            max_mb = float(query["max_mb"])
        except ValueError:
            max_mb = -1.0
        if not max_mb > 0:
            raise SinkError(f"{uri!r}: max_mb={query['max_mb']!r} must be a positive number of megabytes")
    max_clip = DEFAULT_MAX_CLIP_S
    if "max_clip" in query:
        max_clip = _duration(query["max_clip"], "max_clip", uri)
        if not max_clip > 0:
            raise SinkError(f"{uri!r}: max_clip={query['max_clip']!r} must be a positive duration, e.g. 60s")
    return EventSink(Path(folder).expanduser(), pre, post, max_mb, max_clip=max_clip)


def _duration(text: str | None, key: str, uri: str) -> float:
    if text is None:
        return 0.0
    if text.strip() in ("0", "0s"):
        return 0.0
    try:
        return parse_duration(text, uri)
    except SinkError:
        raise SinkError(f"{uri!r}: {key}={text!r} is not a duration; expected e.g. {key}=5s, 0.5m") from None
