"""Keep a live source alive: when it fails, reopen it with back-off and record the gap.

``Reconnecting(open_source, uri)`` wraps any live source (camera, RTSP, GStreamer). A read that returns None
or raises ``SourceError`` / ``OSError`` closes the source, waits (0.25 s, doubling up to ``max_delay``), and
reopens it until it delivers a frame again, ``stop()`` is called, or ``give_up_after`` seconds pass. The gap
(when, how long, why, how many attempts) is kept in ``gaps`` and handed once to the next frame through
``take_gap()``; the pipeline writes it into that frame's JSON line. File sources are never wrapped: a file
that ends has ended.

The first open is retried with the same back-off for up to ``open_timeout`` seconds (a camera that boots
before its RTSP server is the normal case), but only while the source says it is not there yet
(``SourceUnavailable``, ``OSError``); a wrong option fails at once. Each wait is logged once at its start and
once when it ends.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from ..errors import SourceError, SourceUnavailable
from .base import Source, SourceCapabilities

log = logging.getLogger(__name__)


@dataclass
class Gap:
    after_frame: int  # frames delivered before the gap (the next frame's index)
    started: float  # wall-clock time.time() when the failure was seen
    seconds: float  # how long no frame came
    attempts: int  # reopen attempts, the last one successful
    reason: str

    def to_json(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class Reconnecting(Source):
    """A live source that survives failures. Same interface as any source: ``read()``, ``close()``."""

    capabilities = SourceCapabilities(live=True, reconnects=True)

    def __init__(self, open_source: Callable[[], Any], uri: str, *, first_delay: float = 0.25,
                 max_delay: float = 5.0, give_up_after: float | None = None, open_timeout: float = 0.0):
        self._open = open_source
        self.uri = uri
        self.label = redact(uri)  # what logs and errors show: never a password
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.give_up_after = give_up_after
        self.gaps: list[Gap] = []
        self.reconnects = 0
        self._pending: Gap | None = None
        self._delivered = 0
        self._stop = threading.Event()
        self.open_timeout = open_timeout
        self.open_attempts = 1
        self.open_seconds = 0.0
        self._source = self._first_open()
        self.fps = self._source.fps
        self.name = self._source.name or uri
        self.size = self._source.size

    def _first_open(self):
        """Open the source; while it is unavailable, retry with back-off for up to ``open_timeout`` seconds."""
        started = time.monotonic()
        try:
            return self._open()
        except (SourceUnavailable, OSError) as exc:
            if self.open_timeout <= 0:
                if isinstance(exc, SourceUnavailable):
                    raise SourceUnavailable(self._hide(str(exc))) from None
                raise
            reason = self._hide(str(exc))
        log.warning("%s: not available yet (%s); retrying for up to %.0f s (open_timeout=)", self.label, reason,
                    self.open_timeout)
        delay = self.first_delay
        while True:
            left = self.open_timeout - (time.monotonic() - started)
            if left <= 0:
                raise SourceUnavailable(f"{self.label}: still not available after {self.open_timeout:.0f} s and "
                                        f"{self.open_attempts} attempts (last problem: {reason}); raise "
                                        "open_timeout= to wait longer")
            if self._stop.wait(min(delay, left)):
                raise SourceUnavailable(f"{self.label}: stopped while waiting for the source to appear")
            self.open_attempts += 1
            try:
                source = self._open()
            except (SourceUnavailable, OSError) as exc:
                reason = self._hide(str(exc))
                delay = min(delay * 2, self.max_delay)
                continue
            self.open_seconds = time.monotonic() - started
            log.warning("%s: opened after %.1f s (%d attempts)", self.label, self.open_seconds, self.open_attempts)
            return source

    def _hide(self, text: str) -> str:
        return text.replace(self.uri, self.label) if self.uri != self.label else text

    def _read_once(self) -> tuple[np.ndarray | None, str]:
        if self._source is None:
            return None, "source closed"
        try:
            frame = self._source.read()
        except (SourceError, OSError) as exc:
            return None, str(exc)
        return (frame, "") if frame is not None else (None, "the source returned no frame (ended or dropped)")

    def read(self) -> np.ndarray | None:
        frame, reason = self._read_once()
        if frame is not None:
            return self._renumber(frame)
        if self._stop.is_set():
            return None
        return self._recover(reason)

    def _recover(self, reason: str) -> np.ndarray | None:
        reason = self._hide(reason)
        started_wall, started = time.time(), time.monotonic()
        log.warning("%s: %s; reconnecting", self.label, reason)
        self._close_inner()
        delay, attempts = self.first_delay, 0
        while not self._stop.is_set():
            if self.give_up_after is not None and time.monotonic() - started > self.give_up_after:
                raise SourceError(f"{self.label}: no frame for {self.give_up_after:.0f} s after {attempts} "
                                  f"reconnect attempts (last problem: {reason})")
            if self._stop.wait(delay):
                break
            attempts += 1
            try:
                self._source = self._open()
            except (SourceError, OSError) as exc:
                reason = self._hide(str(exc))
                delay = min(delay * 2, self.max_delay)
                continue
            frame, problem = self._read_once()
            if frame is None:
                reason = self._hide(problem)
                self._close_inner()
                delay = min(delay * 2, self.max_delay)
                continue
            gap = Gap(self._delivered, started_wall, time.monotonic() - started, attempts, reason)
            self.gaps.append(gap)
            self._pending = gap
            self.reconnects += 1
            log.warning("%s: back after %.2f s (%d attempts)", self.label, gap.seconds, attempts)
            return self._renumber(frame)
        return None

    def _renumber(self, frame):
        """Frame numbers keep counting across reconnects (a reopened source starts again at 0)."""
        frame.index = self._delivered
        self._delivered += 1
        return frame

    def take_gap(self) -> Gap | None:
        gap, self._pending = self._pending, None
        return gap

    def stop(self) -> None:
        """Ask a pending reconnect loop to give up (called from another thread on shutdown)."""
        self._stop.set()

    def _close_inner(self) -> None:
        if self._source is not None:
            try:
                self._source.close()
            except Exception as exc:  # a dead camera may fail to close; that must not stop the retry
                log.debug("closing %s failed: %s", self.label, exc)
            self._source = None

    def close(self) -> None:
        self._stop.set()
        self._close_inner()


def redact(uri: str) -> str:
    """``rtsp://user:***@host/x`` for ``rtsp://user:secret@host/x``: a URI fit for a log line."""
    return re.sub(r"^([a-z0-9+.-]+://[^/@:]*):[^/@]*@", r"\1:***@", uri, flags=re.IGNORECASE)
