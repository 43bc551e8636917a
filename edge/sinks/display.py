"""``null://`` (discard everything: for benchmarks) and ``display://`` (a window, where there is a screen)."""

from __future__ import annotations

import os
import threading

import cv2

from ..errors import SinkError
from .base import Sink, SinkCapabilities, SinkItem


class NullSink(Sink):
    """Takes results and throws them away; nothing is rendered for it."""

    capabilities = SinkCapabilities(needs_image=False)
    name = "null"

    def __init__(self):
        self.frames = 0

    def write(self, item: SinkItem) -> None:
        self.frames += 1


class DisplaySink(Sink):
    """An OpenCV window showing the annotated frames. ``q`` or Esc in the window stops the pipeline.

    GUI toolkits (OpenCV's Qt and GTK backends) must be driven from the thread that created the window, the
    main thread: Qt blocks a ``cv2.imshow`` from another thread until the main thread runs its event loop,
    which a pipeline waiting on its threads never does (a deadlock). So ``write`` (the output thread) only keeps
    the newest image, and ``pump`` (called by the pipeline's main thread while it waits) shows it and reads keys.
    """

    capabilities = SinkCapabilities(main_thread=True)

    def __init__(self, title: str = "edge"):
        self.name = f"display://{title}"
        self.title = title
        self.closed_by_user = False
        self.shown = 0
        self._latest = None
        self._lock = threading.Lock()
        if os.name != "nt" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise SinkError("display://: no screen (DISPLAY and WAYLAND_DISPLAY are unset); "
                            "use http://127.0.0.1:8080 to watch from a browser instead")
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)  # no Qt toolbar
        except cv2.error:
            raise SinkError("display://: this OpenCV has no GUI support (opencv-python-headless); install "
                            "opencv-python instead, or watch through the http:// sink") from None

    def write(self, item: SinkItem) -> None:
        with self._lock:
            self._latest = item.image

    def pump(self) -> bool:
        """Show the newest frame and poll the keyboard (main thread only). True once the user asked to stop."""
        with self._lock:
            image, self._latest = self._latest, None
        if image is not None:
            cv2.imshow(self.title, image)
            self.shown += 1
        if (cv2.waitKey(1) & 0xFF) in (ord("q"), 27):
            self.closed_by_user = True
        return self.closed_by_user

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:
            pass


def open_display(uri: str, rest: str) -> DisplaySink:
    return DisplaySink(rest.strip("/") or "edge")
