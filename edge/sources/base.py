"""What every frame source is: ``read() -> Frame | None`` (None at the end), ``close()``, context manager and
iteration, plus what it declares it can do (``capabilities``), so the pipeline asks instead of probing.

A source class sets ``capabilities = SourceCapabilities(...)`` once; the pipeline reads it:

* ``live``: frames come at the source's own pace (a camera, a stream, a paced synthetic source); a full queue
  drops its oldest frame so results stay fresh. A file is not live: the reader waits, nothing is dropped.
* ``lores``: told the model's input size before the first read (``request_model_size``), the source delivers a
  second, ISP-resized copy of each frame at that size in ``Frame.lores`` (picamera2's lores stream).
* ``reconnects``: the source reopens itself when it fails (``edge.sources.reconnect``): ``stop()`` ends a
  pending wait from another thread, ``take_gap()`` hands each outage once, to the next frame's JSON line.

The values every source has, known or not: ``name``, ``fps`` (nominal frame rate), ``size`` (width, height)
and ``ended_early`` (a file that stopped before its index said).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8, H x W x 3
    index: int  # 0-based position in the source
    source: str  # what the JSON "source" field says: the clip or image file name
    timestamp_ms: float | None = None  # position in the stream, when known
    damaged: dict | None = None  # frames skipped just before this one: {"skipped_frames", "from_ms", "to_ms"}
    lores: np.ndarray | None = None  # the same frame at the model's input size (BGR), from a ``lores`` source


@dataclass(frozen=True)
class SourceCapabilities:
    live: bool = False  # paced by the source: a full queue drops the oldest frame
    lores: bool = False  # request_model_size(size) before the first read gives Frame.lores at that size
    reconnects: bool = False  # reopens itself on failure: stop() and take_gap() do something


class Source:
    """Base class: subclasses implement ``read`` and, if they hold resources, ``close``."""

    capabilities = SourceCapabilities()
    name = ""
    fps: float | None = None  # nominal frame rate, when the source knows it
    size: tuple[int, int] | None = None  # (width, height), when known before the first frame
    ended_early: dict | None = None  # a file that ended before the frames its index lists

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def request_model_size(self, size: tuple[int, int]) -> None:
        """The model's input size, given before the first read to a ``lores`` source; others ignore it."""

    def stop(self) -> None:
        """Called from another thread on shutdown: a source that may wait (to reconnect) stops waiting."""

    def take_gap(self):
        """The outage before the frame just read (``edge.sources.reconnect.Gap``), once; None if there was none."""
        return None

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame
