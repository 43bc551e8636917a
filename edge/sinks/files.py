"""File sinks: ``file://out.mp4`` (annotated video), ``file://out.mp4?segment=60s`` (video in segments,
``edge.sinks.segments``), ``file://out.jpg`` (annotated image, the latest frame), ``file://folder/`` (one
annotated image per frame), ``jsonl://out.jsonl`` (one JSON object per frame).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import cv2
import numpy as np

from ..errors import SinkError
from ..safe_write import LineAppender, make_durable, replace_atomically, run_stamp, unused_path
from ..uri import IMAGE_SUFFIXES
from .base import Sink, SinkCapabilities, SinkItem
from .segments import SegmentedVideoSink, parse_duration
from .video_guard import DiskGuard, playable_frames

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")
log = logging.getLogger(__name__)


class VideoFileSink(Sink):
    """mp4v-encoded video at the source's frame rate (25 fps when unknown); opened on the first frame.

    A restart never overwrites an earlier recording: when ``path`` exists the video goes to
    ``STEM-YYYYmmdd-HHMMSS.mp4`` beside it, and a warning names it. A full disk never costs the recording:
    OpenCV's writer reports no error, and once one write of its muxer fails the index written at close is lost
    too, so the sink does not let the disk fill under it (edge.sinks.video_guard.DiskGuard). When the room is gone it
    closes the file (playable, every frame written so far) and raises a ``SinkError`` saying so.
    """

    def __init__(self, path: Path, default_fps: float = 25.0):
        _check_parent(path)
        chosen = unused_path(path)
        if chosen != path:
            log.warning("%s exists (an earlier recording, kept as it is): recording to %s", path, chosen.name)
        self.asked, self.path, self.name, self.default_fps = path, chosen, str(chosen), default_fps
        self._writer = None
        self._guard: DiskGuard | None = None
        self._size = None
        self.frames = 0

    def write(self, item: SinkItem) -> None:
        img = item.image
        h, w = img.shape[:2]
        if self._writer is None:
            self._guard = DiskGuard(self.path, raw_frame_bytes=w * h * 3)
            self._guard.check(self.frames)
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self.path), fourcc, float(item.fps or self.default_fps), (w, h))
            if not self._writer.isOpened():
                self._writer = None
                self._guard.release()
                raise SinkError(f"{self.path}: cannot open for writing as mp4v video")
            self._size = (w, h)
        elif (w, h) != self._size:
            img = cv2.resize(img, self._size)
        try:
            self._guard.check(self.frames)
        except SinkError as exc:
            self._finish()
            raise SinkError(f"{exc}; stopped recording: {self.path} is closed with the {self.frames} frames "
                            f"written so far and stays playable") from None
        self._writer.write(img)
        self.frames += 1
        self._guard.wrote(self.frames)

    def _finish(self) -> None:
        writer, self._writer = self._writer, None
        self._guard.release()  # the room kept for the index, freed just before the index is written
        writer.release()
        if not self.path.exists() or self.path.stat().st_size == 0:
            raise SinkError(f"{self.path}: the video writer produced no data (disk full or unwritable?)")
        make_durable(self.path)
        if not playable_frames(self.path):
            raise SinkError(f"{self.path}: closed after {self.frames} frames but cannot be read back "
                            f"({shutil.disk_usage(self.path.parent).free} bytes free: disk full?)")

    def close(self) -> None:
        if self._writer is not None:
            self._finish()


class ImageFileSink(Sink):
    """Writes the annotated frame to one image file, replacing it on each frame (a snapshot)."""

    def __init__(self, path: Path):
        self.path, self.name = path, str(path)
        _check_parent(path)

    def write(self, item: SinkItem) -> None:
        _imwrite(self.path, item.image)


class ImageFolderSink(Sink):
    """One annotated image per frame; named after the source image, or frame_NNNNNN.jpg for video. When an
    earlier run left frame_*.jpg in the folder, this run's are frame_YYYYmmdd-HHMMSS_NNNNNN.jpg (logged)."""

    def __init__(self, folder: Path):
        self.folder, self.name = folder, str(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"{folder}: cannot create the output folder ({exc.strerror})") from None
        self._prefix = "frame_"
        if next(folder.glob("frame_*.jpg"), None) is not None:
            self._prefix = f"frame_{run_stamp()}_"
            log.warning("%s: holds frames of an earlier run (kept): this run's are %sNNNNNN.jpg", folder,
                        self._prefix)

    def write(self, item: SinkItem) -> None:
        src = Path(item.result.source)
        if src.suffix.lower() in IMAGE_SUFFIXES:
            name = src.name
        else:
            name = f"{self._prefix}{item.result.frame:06d}.jpg"
        _imwrite(self.folder / name, item.image)


class JsonlSink(Sink):
    """One JSON object per line, appended: a restart over the same path keeps every earlier line, a full disk
    never leaves a partial line (see edge.safe_write.LineAppender)."""

    capabilities = SinkCapabilities(needs_image=False)

    def __init__(self, path: Path):
        self.path, self.name = path, str(path)
        self._out = LineAppender(path)
        if self._out.kept_bytes:
            log.warning("%s: appending after %d bytes from earlier runs (kept)", path, self._out.kept_bytes)

    def write(self, item: SinkItem) -> None:
        self._out.append(json.dumps(item.record, separators=(", ", ": ")))

    def close(self) -> None:
        self._out.close()


def _check_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise SinkError(f"{path}: the folder {path.parent} does not exist")


def _imwrite(path: Path, img: np.ndarray) -> None:
    """Encode, then replace ``path`` as a whole: a full disk leaves the earlier image, never half of one."""
    try:
        ok, data = cv2.imencode(path.suffix or ".jpg", img)
    except cv2.error as exc:
        raise SinkError(f"{path}: cannot encode the image ({str(exc).strip().splitlines()[-1]})") from None
    if not ok:
        raise SinkError(f"{path}: cannot encode the image as {path.suffix!r}")
    replace_atomically(path, data.tobytes())


def open_file_sink(path: Path, folder: bool = False) -> Sink:
    """``folder`` is True when the URI ended with "/", which always means a folder of images."""
    suffix = path.suffix.lower()
    if folder:
        return ImageFolderSink(path)
    if suffix in VIDEO_SUFFIXES:
        return VideoFileSink(path)
    if suffix in IMAGE_SUFFIXES:
        return ImageFileSink(path)
    if suffix == ".jsonl":
        return JsonlSink(path)
    if path.is_dir() or not suffix:
        return ImageFolderSink(path)
    raise SinkError(
        f"{path}: cannot tell what to write from the extension {suffix!r}; use a video "
        f"({', '.join(VIDEO_SUFFIXES)}), an image ({', '.join(IMAGE_SUFFIXES)}), a folder, or jsonl://FILE"
    )


def open_file_uri(uri: str, rest: str) -> Sink:
    """``file://`` sinks: with ``?segment=`` a SegmentedVideoSink, otherwise one of the sinks above."""
    parts = urlsplit(uri) if "://" in uri else urlsplit("file://" + uri)
    query = dict(parse_qsl(parts.query))
    path_text = unquote(rest.split("?", 1)[0])
    if not query:
        return open_file_sink(Path(path_text).expanduser(), path_text.endswith("/"))
    unknown = set(query) - {"segment"}
    if unknown:
        raise SinkError(f"{uri!r}: unknown option(s) {', '.join(sorted(unknown))}; file:// takes segment=")
    return SegmentedVideoSink(Path(path_text).expanduser(), parse_duration(query["segment"], uri))


def open_jsonl(uri: str, rest: str) -> JsonlSink:
    return JsonlSink(Path(unquote(rest)).expanduser())
