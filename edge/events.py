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

A clip is written under a temporary name (``clips/.<stamp>.partial.mp4``), read back, and renamed when complete,
so a file named ``*.mp4`` is always whole; a partial file left by a run that died is deleted when the sink
opens again. ``max_mb=`` bounds the disk use of clips and snapshots together:
after each finished clip or snapshot the oldest clips are deleted first (then the oldest snapshots) until
the total fits; a clip being written is never touched. The event lines stay (they are small); a line may name
a clip that the quota has since deleted.
"""

from __future__ import annotations

import collections
import json
import os
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import cv2
import numpy as np

from .errors import SinkError
from .safe_write import make_durable
from .segments import parse_duration
from .sinks import Sink, SinkItem

_KEYS = {"pre", "post", "max_mb"}


class EventSink(Sink):
    needs_image = True

    def __init__(self, folder: Path, pre: float = 0.0, post: float = 0.0, max_mb: float | None = None,
                 default_fps: float = 25.0):
        self.folder, self.name = folder, f"events://{folder}"
        self.pre, self.post, self.default_fps = pre, post, default_fps
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
        self._partial: Path | None = None
        self._final: Path | None = None
        self._end_frame = 0
        self._frames = 0
        self._fps = default_fps
        self._size: tuple[int, int] | None = None
        self._count = 0
        self.finished: list[Path] = []
        self.events_written = 0

    # ------------------------------------------------------------------ per frame

    def write(self, item: SinkItem) -> None:
        img = item.image
        if self._size is None:
            self._size = (img.shape[1], img.shape[0])
            self._fps = float(item.fps or self.default_fps)
            self._ring = collections.deque(maxlen=int(round(self.pre * self._fps)))
        frame = item.result.frame
        events = item.record.get("events") or []
        clip_name = None
        if events and self.clips_on:
            if self._writer is None:
                self._open_clip(frame)
            self._end_frame = frame + int(round(self.post * self._fps))
            clip_name = str(self._final.relative_to(self.folder))
        if self._writer is not None:
            self._writer.write(img if (img.shape[1], img.shape[0]) == self._size else cv2.resize(img, self._size))
            self._frames += 1
        elif self.clips_on:
            self._ring.append(img.copy())
        for ev in events:
            self._write_event(ev, item, clip_name)
        if self._writer is not None and frame >= self._end_frame:
            self._finish_clip()

    def _write_event(self, ev: dict, item: SinkItem, clip_name: str | None) -> None:
        self._count += 1
        stamp = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(item.record.get('time', time.time())))}" \
                f"-f{item.result.frame:06d}-{self._count:04d}"
        base = f"{stamp}-{ev['type']}-{ev.get('track_id')}"
        full = Path("snapshots") / f"{base}-full.jpg"
        _imwrite(self.folder / full, item.image)
        line = {"frame": item.result.frame, "source": item.result.source, "time": item.record.get("time"), **ev,
                "snapshot": str(full)}
        raw = getattr(item.result.extras.get("chain"), "image", None)
        if "box" in ev and isinstance(raw, np.ndarray):
            crop = Path("snapshots") / f"{base}-crop.jpg"
            _imwrite(self.folder / crop, _crop(raw, ev["box"]))
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

    # ------------------------------------------------------------------ clips

    def _open_clip(self, frame: int) -> None:
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-f{frame:06d}"
        self._final = self.folder / "clips" / f"{stamp}.mp4"
        self._partial = self.folder / "clips" / f".{stamp}.partial.mp4"
        self._writer = cv2.VideoWriter(str(self._partial), cv2.VideoWriter_fourcc(*"mp4v"), self._fps, self._size)
        if not self._writer.isOpened():
            self._writer = None
            raise SinkError(f"{self._partial}: cannot open for writing as mp4v video")
        self._frames = 0
        while self._ring:  # the pre-roll
            self._writer.write(self._ring.popleft())
            self._frames += 1

    def _finish_clip(self) -> None:
        writer, partial, final, frames = self._writer, self._partial, self._final, self._frames
        self._writer = None
        writer.release()
        cap = cv2.VideoCapture(str(partial))
        readable = cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) > 0 and cap.read()[0]
        cap.release()
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
                    self._writer.release()
                    self._partial.unlink(missing_ok=True)
                    self._writer = None
        finally:
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
    return EventSink(Path(folder).expanduser(), pre, post, max_mb)


def _duration(text: str | None, key: str, uri: str) -> float:
    if text is None:
        return 0.0
    if text.strip() in ("0", "0s"):
        return 0.0
    try:
        return parse_duration(text, uri)
    except SinkError:
        raise SinkError(f"{uri!r}: {key}={text!r} is not a duration; expected e.g. {key}=5s, 0.5m") from None
