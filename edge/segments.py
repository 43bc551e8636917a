"""``file://out.mp4?segment=60s``: video in segments, each closed and playable on its own.

Segments are named ``out-00000.mp4``, ``out-00001.mp4``, ... . A restart over the same path continues the
numbering after the highest segment (or unfinished ``.partial`` file) already there, and says so: no earlier
segment is ever overwritten. Each is written under a temporary name
(``.out-00000.partial.mp4``) and renamed when closed, so a file with the final name is always a finished,
playable video: if the process dies, every earlier segment is intact and only the one being written is lost.
A segment's length is video time (frames / fps), so 60 s of a 30 FPS stream is 1800 frames.

A full disk (or a size limit) is a ``SinkError`` naming the segment; finished segments are left as they are.
OpenCV's writer does not report write errors, so free space is checked every ``check_every`` frames and every
closed segment is opened again and its frames counted before it gets its final name.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import cv2

from .errors import SinkError
from .safe_write import make_durable
from .sinks import Sink, SinkItem

log = logging.getLogger(__name__)
_SEGMENT_RE = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 1}


def parse_duration(text: str, uri: str) -> float:
    m = _SEGMENT_RE.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise SinkError(f"{uri!r}: segment={text!r} is not a duration; expected e.g. segment=60s, 5m or 1h")
    return float(m.group(1)) * _UNIT[m.group(2)]


class SegmentedVideoSink(Sink):
    def __init__(self, path: Path, segment_seconds: float, default_fps: float = 25.0, min_free_bytes: int = 256 * 1024,
                 check_every: int = 10):
        self.path, self.name = path, f"{path}?segment={segment_seconds:g}s"
        self.segment_seconds = segment_seconds
        self.default_fps = default_fps
        self.min_free_bytes = min_free_bytes
        self.check_every = check_every
        if not path.parent.is_dir():
            raise SinkError(f"{path}: the folder {path.parent} does not exist")
        if path.suffix.lower() != ".mp4":
            raise SinkError(f"{path}: segmented video must be .mp4, got {path.suffix!r}")
        self.finished: list[Path] = []
        self._writer = None
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
        self._check_space()
        self._partial = self._partial_path(self._index)
        self._writer = cv2.VideoWriter(str(self._partial), cv2.VideoWriter_fourcc(*"mp4v"), self._fps, size)
        if not self._writer.isOpened():
            self._writer = None
            raise SinkError(f"{self._partial}: cannot open for writing as mp4v video")
        self._frames = 0

    def _check_space(self) -> None:
        free = shutil.disk_usage(self.path.parent).free
        if free < self.min_free_bytes:
            raise SinkError(f"{self.path.parent}: disk full ({free} bytes free, need at least "
                            f"{self.min_free_bytes}); stopped in segment {self.segment_path(self._index).name}, "
                            f"{len(self.finished)} earlier segment(s) are complete")

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
        self._writer.write(img)
        self._frames += 1
        try:
            if self._frames % self.check_every == 0:
                self._check_space()
        except SinkError:
            self._abandon()
            raise
        if self._frames >= self.segment_seconds * self._fps:
            self._finish()

    def _finish(self) -> None:
        """Close the current segment, check it can be read back, give it its final name."""
        writer, partial, frames = self._writer, self._partial, self._frames
        self._writer = None
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
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._partial is not None:
            self._partial.unlink(missing_ok=True)

    def close(self) -> None:
        if self._writer is not None and self._frames:
            self._finish()
        self._abandon()


def open_video_sink(uri: str, rest: str) -> Sink:
    """``file://`` sinks: with ``?segment=`` a SegmentedVideoSink, otherwise edge.sinks' file sinks."""
    from .sinks import open_file_sink

    parts = urlsplit(uri) if "://" in uri else urlsplit("file://" + uri)
    query = dict(parse_qsl(parts.query))
    path_text = unquote(rest.split("?", 1)[0])
    if not query:
        return open_file_sink(Path(path_text).expanduser(), path_text.endswith("/"))
    unknown = set(query) - {"segment"}
    if unknown:
        raise SinkError(f"{uri!r}: unknown option(s) {', '.join(sorted(unknown))}; file:// takes segment=")
    return SegmentedVideoSink(Path(path_text).expanduser(), parse_duration(query["segment"], uri))
