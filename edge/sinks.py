"""Result sinks, chosen by URI: ``file://out.mp4`` (annotated video), ``file://out.jpg`` (annotated image,
the latest frame), ``file://folder/`` (one annotated image per frame), ``jsonl://out.jsonl`` (one JSON
object per frame). Same small interface as sources: ``write(item)``, ``close()``, context manager;
``needs_image`` tells the pipeline whether to render. New schemes use ``register_sink``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

import cv2
import numpy as np

from .errors import SinkError
from .results import FrameResult
from .sources import IMAGE_SUFFIXES, split_uri

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")


@dataclass
class SinkItem:
    result: FrameResult
    record: dict  # the JSON line for this frame
    image: np.ndarray | None = None  # the annotated frame (BGR), when some sink needs it
    fps: float | None = None  # the source's nominal frame rate


class Sink:
    needs_image = True
    name = ""

    def write(self, item: SinkItem) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoFileSink(Sink):
    """mp4v-encoded video at the source's frame rate (25 fps when unknown); opened on the first frame."""

    def __init__(self, path: Path, default_fps: float = 25.0):
        self.path, self.name, self.default_fps = path, str(path), default_fps
        self._writer = None
        self._size = None
        self.frames = 0
        _check_parent(path)

    def write(self, item: SinkItem) -> None:
        img = item.image
        h, w = img.shape[:2]
        if self._writer is None:
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self.path), fourcc, float(item.fps or self.default_fps), (w, h))
            if not self._writer.isOpened():
                self._writer = None
                raise SinkError(f"{self.path}: cannot open for writing as mp4v video")
            self._size = (w, h)
        elif (w, h) != self._size:
            img = cv2.resize(img, self._size)
        self._writer.write(img)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if not self.path.exists() or self.path.stat().st_size == 0:
                raise SinkError(f"{self.path}: the video writer produced no data (disk full or unwritable?)")


class ImageFileSink(Sink):
    """Writes the annotated frame to one image file, replacing it on each frame (a snapshot)."""

    def __init__(self, path: Path):
        self.path, self.name = path, str(path)
        _check_parent(path)

    def write(self, item: SinkItem) -> None:
        _imwrite(self.path, item.image)


class ImageFolderSink(Sink):
    """One annotated image per frame; named after the source image, or frame_NNNNNN.jpg for video."""

    def __init__(self, folder: Path):
        self.folder, self.name = folder, str(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"{folder}: cannot create the output folder ({exc.strerror})") from None

    def write(self, item: SinkItem) -> None:
        src = Path(item.result.source)
        if src.suffix.lower() in IMAGE_SUFFIXES:
            name = src.name
        else:
            name = f"frame_{item.result.frame:06d}.jpg"
        _imwrite(self.folder / name, item.image)


class JsonlSink(Sink):
    needs_image = False

    def __init__(self, path: Path):
        self.path, self.name = path, str(path)
        try:
            self._fh = open(path, "w", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"{path}: cannot open for writing ({exc.strerror})") from None

    def write(self, item: SinkItem) -> None:
        try:
            self._fh.write(json.dumps(item.record, separators=(", ", ": ")) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise SinkError(f"{self.path}: write failed ({exc.strerror})") from None

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError as exc:
                raise SinkError(f"{self.path}: write failed ({exc.strerror})") from None
            finally:
                self._fh = None


def _check_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise SinkError(f"{path}: the folder {path.parent} does not exist")


def _imwrite(path: Path, img: np.ndarray) -> None:
    try:
        ok = cv2.imwrite(str(path), img)
    except cv2.error as exc:
        raise SinkError(f"{path}: cannot write image ({str(exc).strip().splitlines()[-1]})") from None
    if not ok:
        raise SinkError(f"{path}: cannot write image (unwritable folder, unknown extension or disk full)")


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


_FACTORIES: dict[str, Callable[[str, str], Sink]] = {}


def register_sink(scheme: str, factory: Callable[[str, str], Sink]) -> None:
    _FACTORIES[scheme] = factory


register_sink("file", lambda uri, rest: open_file_sink(Path(unquote(rest)).expanduser(), rest.endswith("/")))
register_sink("jsonl", lambda uri, rest: JsonlSink(Path(unquote(rest)).expanduser()))
register_sink("masks", lambda uri, rest: __import__("edge.mask_sink").mask_sink.open_mask_sink(uri, rest))
register_sink("null", lambda uri, rest: __import__("edge.display").display.NullSink())
register_sink("display", lambda uri, rest: __import__("edge.display").display.open_display(uri, rest))
register_sink("http", lambda uri, rest: __import__("edge.web").web.open_web(uri, rest))
register_sink("file", lambda uri, rest: __import__("edge.segments").segments.open_video_sink(uri, rest))  # + ?segment=


def open_sink(uri: str) -> Sink:
    scheme, rest = split_uri(uri)
    if scheme not in _FACTORIES:
        raise SinkError(f"sink {uri!r}: unknown scheme {scheme!r}; known: {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[scheme](uri, rest)
