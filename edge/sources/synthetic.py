"""``synthetic://`` : a moving test pattern with a frame counter, any size and rate.

``synthetic://?width=640&height=480&fps=30`` paces frames like a camera (a live source: the pipeline drops
the oldest frame when it falls behind). ``fps=0`` produces frames as fast as they are asked for.
``frames=N`` ends the stream after N frames (default: never). Every frame carries its number, drawn as text
and encoded in the top-left 8x8 pixels as grey level ``n % 256``, so tests can read it back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import cv2
import numpy as np

from ..errors import SourceError
from .base import Frame, Source, SourceCapabilities

_ALLOWED = {"width", "height", "fps", "frames"}


@dataclass(frozen=True)
class SyntheticOptions:
    width: int = 640
    height: int = 480
    fps: float = 30.0
    frames: int | None = None

    @classmethod
    def from_uri(cls, uri: str) -> "SyntheticOptions":
        parts = urlsplit(uri)
        if parts.scheme != "synthetic":
            raise SourceError(f"{uri!r}: expected a synthetic:// URI")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(query) - _ALLOWED
        if unknown:
            raise SourceError(f"{uri!r}: unknown option(s) {', '.join(sorted(unknown))}; "
                              f"synthetic:// takes {', '.join(sorted(_ALLOWED))}")
        try:
            width = int(query.get("width", cls.width))
            height = int(query.get("height", cls.height))
            fps = float(query.get("fps", cls.fps))
            frames = int(query["frames"]) if "frames" in query else None
        except ValueError as exc:
            raise SourceError(f"{uri!r}: width, height and frames must be integers and fps a number ({exc})") from None
        if not (16 <= width <= 8192 and 16 <= height <= 8192):
            raise SourceError(f"{uri!r}: width and height must lie in 16..8192, got {width}x{height}")
        if fps < 0:
            raise SourceError(f"{uri!r}: fps must be >= 0 (0 = as fast as possible), got {fps}")
        if frames is not None and frames < 1:
            raise SourceError(f"{uri!r}: frames must be >= 1, got {frames}")
        return cls(width, height, fps, frames)


def render_pattern(n: int, width: int, height: int) -> np.ndarray:
    """Frame ``n`` of the pattern (BGR uint8): colour bars that scroll, a bouncing square, the counter."""
    xs = (np.arange(width, dtype=np.int32) + 4 * n) % width
    bars = (xs * 8 // width).astype(np.uint8)  # 8 vertical bars
    palette = np.array([[255, 255, 255], [0, 255, 255], [255, 255, 0], [0, 255, 0],
                        [255, 0, 255], [0, 0, 255], [255, 0, 0], [40, 40, 40]], np.uint8)
    frame = np.repeat(palette[bars][None, :, :], height, axis=0)
    frame = (frame.astype(np.uint16) * 3 // 4).astype(np.uint8)
    side = max(8, min(width, height) // 5)
    span_x, span_y = max(1, width - side), max(1, height - side)
    x = abs((7 * n) % (2 * span_x) - span_x)
    y = abs((5 * n) % (2 * span_y) - span_y)
    frame[y:y + side, x:x + side] = (20, 20, 20)
    scale = max(0.5, height / 320)
    cv2.putText(frame, f"{n:06d}", (12, int(40 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                max(1, int(3 * scale)), cv2.LINE_AA)
    frame[:8, :8] = n % 256
    return frame


def frame_number_mark(frame: np.ndarray) -> int:
    """The ``n % 256`` a synthetic frame carries in its top-left corner (robust to mild compression)."""
    return int(round(float(frame[2:6, 2:6].mean())))


class SyntheticSource(Source):
    """A camera stand-in. ``read()`` returns the next frame (paced at ``fps``) or None after ``frames``."""

    capabilities = SourceCapabilities(live=True)
    name = "synthetic"

    def __init__(self, options: SyntheticOptions):
        self.options = options
        self.fps = options.fps or None
        self.size = (options.width, options.height)
        self._n = 0
        self._start: float | None = None
        self._closed = False

    @classmethod
    def open(cls, uri: str) -> "SyntheticSource":
        return cls(SyntheticOptions.from_uri(uri))

    def read(self) -> Frame | None:
        o = self.options
        if self._closed or (o.frames is not None and self._n >= o.frames):
            return None
        now = time.monotonic()
        if self._start is None:
            self._start = now
        if o.fps > 0:
            due = self._start + self._n / o.fps
            if due > now:
                time.sleep(due - now)
            elif now - due > 1.0:  # the reader fell far behind: a camera does not queue old frames
                self._start = now - self._n / o.fps
        frame = Frame(render_pattern(self._n, o.width, o.height), self._n, "synthetic",
                      1000.0 * self._n / o.fps if o.fps else None)
        self._n += 1
        return frame

    def close(self) -> None:
        self._closed = True


def open_synthetic(uri: str, rest: str = "") -> SyntheticSource:
    """The ``synthetic://`` opener of ``edge.sources``."""
    return SyntheticSource.open(uri)
