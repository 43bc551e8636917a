"""Frame sources, chosen by URI scheme: ``file://clip.mp4``, ``file://photo.jpg``, ``file://folder/``.

A plain path means ``file://``. Every source has the same small interface: ``read() -> Frame | None``
(None at the end), ``close()``, context manager and iteration. New schemes (cameras, RTSP, GStreamer)
register a factory with ``register_source("scheme", factory)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np

from .errors import SourceError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8, H x W x 3
    index: int  # 0-based position in the source
    source: str  # what the JSON "source" field says: the clip or image file name
    timestamp_ms: float | None = None  # position in the stream, when known


class Source:
    """Base class: subclasses implement ``read`` and, if they hold resources, ``close``."""

    name = ""
    fps: float | None = None  # nominal frame rate, when the source knows it

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame


class VideoFileSource(Source):
    def __init__(self, path: Path):
        self.path, self.name = path, path.name
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{path}: cannot open as a video (not a video file, or a codec OpenCV lacks)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None
        self._index = 0
        self._first = self._grab()
        if self._first is None:
            self.close()
            raise SourceError(f"{path}: opened as a video but no frame could be decoded")

    def _grab(self) -> Frame | None:
        ok, img = self._cap.read()
        if not ok or img is None:
            return None
        frame = Frame(img, self._index, self.name, float(self._cap.get(cv2.CAP_PROP_POS_MSEC)))
        self._index += 1
        return frame

    def read(self) -> Frame | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        return self._grab() if self._cap is not None else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFilesSource(Source):
    """One image file, or every image in a folder (sorted by name)."""

    def __init__(self, paths: list[Path], name: str):
        self.paths, self.name, self._i = paths, name, 0

    def read(self) -> Frame | None:
        if self._i >= len(self.paths):
            return None
        path = self.paths[self._i]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SourceError(f"{path}: cannot decode as an image")
        frame = Frame(img, self._i, path.name)
        self._i += 1
        return frame


def open_file(path: Path) -> Source:
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise SourceError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return ImageFilesSource(images, path.name)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFilesSource([path], path.name)
    return VideoFileSource(path)


_FACTORIES: dict[str, Callable[[str, str], Source]] = {}


def register_source(scheme: str, factory: Callable[[str, str], Source]) -> None:
    """``factory(uri, rest)`` is called with the whole URI and the part after ``scheme://``."""
    _FACTORIES[scheme] = factory


register_source("file", lambda uri, rest: open_file(Path(unquote(rest)).expanduser()))
register_source("synthetic", lambda uri, rest: __import__("edge.synthetic").synthetic.SyntheticSource.open(uri))
for _scheme in ("picamera2", "v4l2", "csi", "gst", "rtsp"):  # cameras and streams, reopened when they fail
    register_source(_scheme, lambda uri, rest: __import__("edge.camera").camera.open_live(uri, rest))


def split_uri(uri: str) -> tuple[str, str]:
    """('file', 'path') for 'file://path' or a plain path; ('rtsp', 'host/x') for 'rtsp://host/x'."""
    if "://" not in uri:
        return "file", uri
    scheme = urlsplit(uri).scheme.lower()
    return scheme, uri.split("://", 1)[1]


def open_source(uri: str) -> Source:
    scheme, rest = split_uri(uri)
    if scheme not in _FACTORIES:
        raise SourceError(f"source {uri!r}: unknown scheme {scheme!r}; known: {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[scheme](uri, rest)
