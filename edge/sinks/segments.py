"""``file://out.mp4?segment=60s``: video in segments, each closed and playable on its own.

Segments are named ``out-00000.mp4``, ``out-00001.mp4``, ... . A restart over the same path continues the
numbering after the highest segment (or unfinished ``.partial`` file) already there, and says so: no earlier
segment is ever overwritten. Each is written under a temporary name
(``.out-00000.partial.mp4``) and renamed when closed, so a file with the final name is always a finished,
playable video: if the process dies, every earlier segment is intact and only the one being written is lost.
A segment's length is video time (frames / fps), so 60 s of a 30 FPS stream is 1800 frames.

A full disk is a ``SinkError`` naming the segment. OpenCV's writer does not report write errors (and one failed
write loses the segment's index), so each segment is written under an ``edge.sinks.video_guard.DiskGuard``: the free
space is checked before every frame and room for the index is reserved; when it runs out, the current segment
is closed with the frames it has, renamed like the others, and the sink stops. Every closed segment is also
opened again before it gets its final name; one that cannot be read back (a file-size limit) is removed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import cv2

from ..errors import SinkError
from ..safe_write import make_durable
from .base import Sink, SinkItem
from .video_guard import DiskGuard

log = logging.getLogger(__name__)
_SEGMENT_RE = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 1}


def parse_duration(text: str, uri: str) -> float:
    m = _SEGMENT_RE.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise SinkError(f"{uri!r}: segment={text!r} is not a duration; expected e.g. segment=60s, 5m or 1h")
    return float(m.group(1)) * _UNIT[m.group(2)]


class SegmentedVideoSink(Sink):
    def __init__(self, path: Path, segment_seconds: float, default_fps: float = 25.0):
        self.path, self.name = path, f"{path}?segment={segment_seconds:g}s"
        self.segment_seconds = segment_seconds
        self.default_fps = default_fps
        if not path.parent.is_dir():
            raise SinkError(f"{path}: the folder {path.parent} does not exist")
        if path.suffix.lower() != ".mp4":
            raise SinkError(f"{path}: segmented video must be .mp4, got {path.suffix!r}")
        self.finished: list[Path] = []
        self._writer = None
        self._guard: DiskGuard | None = None
        self._partial: Path | None = None
        self._frames = 0
        self._fps = default_fps
        self._size: tuple[int, int] | None = None
        self._index = self._next_free_index()
        if self._index:
            log.warning("%s: segments up to %05d exist (earlier runs, kept): continuing with %s", path,
                        self._index - 1, self.segment_path(self._index).name)

    def _next_free_index(self) -> int:
        pattern = re.compile(rf"^\.?{re.escape(self.path.stem)}-(\d{{5,}})(?:\.partial)?\.mp4$")
        taken = [int(m.group(1)) for p in self.path.parent.iterdir() if (m := pattern.match(p.name))]
        return max(taken, default=-1) + 1

    def segment_path(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.stem}-{index:05d}.mp4")

    def _partial_path(self, index: int) -> Path:
        return self.path.with_name(f".{self.path.stem}-{index:05d}.partial.mp4")

    def _open(self, size: tuple[int, int]) -> None:
        self._partial = self._partial_path(self._index)
        try:
            self._guard = DiskGuard(self._partial, size[0] * size[1] * 3)
            self._guard.check(0)
        except SinkError as exc:
            self._release_guard()
            raise self._stopped(exc) from None
        self._writer = cv2.VideoWriter(str(self._partial), cv2.VideoWriter_fourcc(*"mp4v"), self._fps, size)
        if not self._writer.isOpened():
            self._writer = None
            self._release_guard()
            raise SinkError(f"{self._partial}: cannot open for writing as mp4v video")
        self._frames = 0

    def _stopped(self, exc: SinkError, segment: Path | None = None) -> SinkError:
        where = f"{(segment or self.segment_path(self._index)).name}" + (" (closed with its frames so far)" if segment else "")
        return SinkError(f"{exc}; stopped in segment {where}; {len(self.finished)} segment(s) are complete "
                         f"and playable")

    def _release_guard(self) -> None:
        if self._guard is not None:
            self._guard.release()
            self._guard = None

    def write(self, item: SinkItem) -> None:
        img = item.image
        h, w = img.shape[:2]
        if self._size is None:
            self._size = (w, h)
            self._fps = float(item.fps or self.default_fps)
        elif (w, h) != self._size:
            img = cv2.resize(img, self._size)
        if self._writer is None:
            self._open(self._size)
        try:
            self._guard.check(self._frames)
        except SinkError as exc:
            current = self.segment_path(self._index) if self._frames else None
            if current is not None:
                self._finish()  # the frames of this segment so far: closed, playable, given their final name
            raise self._stopped(exc, current) from None
        self._writer.write(img)
        self._frames += 1
        self._guard.wrote(self._frames)
        if self._frames >= self.segment_seconds * self._fps:
            self._finish()

    def _finish(self) -> None:
        """Close the current segment, check it can be read back, give it its final name."""
        writer, partial, frames = self._writer, self._partial, self._frames
        self._writer = None
        self._release_guard()  # the room kept for the index, freed just before the index is written
        writer.release()
        cap = cv2.VideoCapture(str(partial))
        readable = cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) > 0 and cap.read()[0]
        cap.release()
        final = self.segment_path(self._index)
        if not readable:
            partial.unlink(missing_ok=True)
            free = shutil.disk_usage(self.path.parent).free
            raise SinkError(f"{final}: the segment ({frames} frames) could not be written completely "
                            f"({free} bytes free: disk full or a file-size limit); "
                            f"{len(self.finished)} earlier segment(s) are complete")
        make_durable(partial)  # the final name only ever points at data that is on the disk
        os.replace(partial, final)
        make_durable(final)
        self.finished.append(final)
        self._index += 1

    def _abandon(self) -> None:
        self._release_guard()
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._partial is not None:
            self._partial.unlink(missing_ok=True)

    def close(self) -> None:
        if self._writer is not None and self._frames:
            self._finish()
        self._abandon()
