"""What every result sink is: ``write(item)`` for each frame, ``close()`` once (a context manager too), plus
what it declares it needs or does (``capabilities``), so the pipeline asks instead of probing.

A sink class sets ``capabilities = SinkCapabilities(...)`` once; the pipeline reads it:

* ``needs_image``: the pipeline renders the annotated frame for it (``SinkItem.image``); when no sink of a run
  needs one, nothing is rendered (JSON lines, masks, ``null://``).
* ``stats``: it shows the pipeline's running figures; ``attach_stats(stats)`` is called before the first frame
  (the web page's /stats.json).
* ``main_thread``: a GUI window that must be driven from the main thread: while the pipeline runs, ``pump()``
  is called there (shows the newest frame, reads keys) and returns True once the user asked to stop.
* ``serves``: a server others connect to (``http://``, ``rtsp://``); ``edge run`` prints its address
  (``name``) once it listens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..results import FrameResult


@dataclass
class SinkItem:
    result: FrameResult
    record: dict  # the JSON line for this frame
    image: np.ndarray | None = None  # the annotated frame (BGR), when some sink needs it
    fps: float | None = None  # the source's nominal frame rate
    frame: np.ndarray | None = None  # the frame the models saw (BGR, enhanced if a model did), not annotated


@dataclass(frozen=True)
class SinkCapabilities:
    needs_image: bool = True  # SinkItem.image: the annotated frame is rendered for it
    stats: bool = False  # attach_stats(stats) before the first frame
    main_thread: bool = False  # pump() from the main thread while the pipeline runs
    serves: bool = False  # listens for clients: edge run prints its address


class Sink:
    capabilities = SinkCapabilities()
    name = ""

    def write(self, item: SinkItem) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def attach_stats(self, stats) -> None:
        """The pipeline's ``PipelineStats``, given to a ``stats`` sink before the first frame."""

    def pump(self) -> bool:
        """Main thread only, for a ``main_thread`` sink: show what is pending; True once the user asked to stop."""
        return False

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
