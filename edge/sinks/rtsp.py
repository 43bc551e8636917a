"""``rtsp://127.0.0.1:8554/cam``: the annotated stream as H.264 over RTSP, for VLC, ffmpeg, an NVR.

    rtsp://127.0.0.1:8554/cam                      loopback only (the default)
    rtsp://viewer:SECRET@0.0.0.0:8554/cam          reachable from the network: RTSP basic auth is required
    rtsp://127.0.0.1:8554/cam?fps=15&kbps=2000&encoder=auto

Options: ``fps`` (the nominal rate in the stream's caps and the key-frame interval, default 15), ``kbps``
(encoder bit rate, default 2000), ``encoder`` (``auto``: the first of x264enc, openh264enc, v4l2h264enc that
GStreamer has). The user and password can also come from EDGE_RTSP_USER / EDGE_RTSP_PASSWORD, which keeps
them out of the process list.

GStreamer's RTSP server (gst-rtsp-server) is reached through its Python bindings, which Debian ships for the
system Python only (python3-gi, gir1.2-gst-rtsp-server-1.0), not for a venv. So the server runs as a child
process (``edge/sinks/rtsp_server.py``, stdlib + gi) under the first Python that has them: EDGE_GI_PYTHON, this
interpreter, or /usr/bin/python3. The pipeline never waits for it: ``write`` puts the frame in a one-frame
slot (a newer frame replaces an unsent one, counted in ``dropped``) and a writer thread ships the slot to the
child; the child's appsrc drops rather than blocks too. All clients share one encoder; a client that
disconnects, or stalls, affects nobody else. Without clients, one frame a second is shipped, only so that
the next client starts with a recent picture.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import cv2
import numpy as np

from ..errors import ConfigError, SinkError
from ..network import is_loopback
from ..processes import end_process
from .base import Sink, SinkCapabilities, SinkItem

log = logging.getLogger(__name__)

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
ENCODERS = ("auto", "x264enc", "openh264enc", "v4l2h264enc")
_PACKAGES = "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-ugly"


def gi_python() -> str:
    """A Python that can import ``gi`` (GStreamer's bindings): EDGE_GI_PYTHON, this one, or the system's."""
    if os.environ.get("EDGE_GI_PYTHON"):
        return os.environ["EDGE_GI_PYTHON"]
    if importlib.util.find_spec("gi") is not None:
        return sys.executable
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and os.path.exists(candidate):
            return candidate
    raise SinkError(f"rtsp:// sink: no Python with GStreamer's bindings; apt-get install {_PACKAGES}")


class RtspSink(Sink):
    capabilities = SinkCapabilities(serves=True)

    def __init__(self, host: str = "127.0.0.1", port: int = 8554, path: str = "/cam", *, user: str | None = None,
                 password: str | None = None, fps: int = 15, kbps: int = 2000, encoder: str = "auto",
                 start_timeout: float = 20.0):
        self._writer: threading.Thread | None = None  # ships frames to the server child, once it listens
        if not is_loopback(host) and not (user and password):
            raise ConfigError(f"rtsp://{host}:{port}{path}: the stream would be reachable from the network; give a "
                              "user and password (rtsp://USER:PASSWORD@HOST:PORT/PATH or EDGE_RTSP_USER and "
                              "EDGE_RTSP_PASSWORD), or bind 127.0.0.1")
        self.host, self.path = host, path
        self.clients = 0
        self.sent = 0
        self.dropped = 0
        self._size: tuple[int, int] | None = None
        self._slot: np.ndarray | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._failure: str | None = None
        self._errors: list[str] = []
        env = dict(os.environ)
        env.pop("EDGE_RTSP_USER", None), env.pop("EDGE_RTSP_PASSWORD", None)
        if user and password:
            env.update(EDGE_RTSP_USER=user, EDGE_RTSP_PASSWORD=password)
        label = f"rtsp://{host}:{port}{path}"
        try:
            self._proc = subprocess.Popen([gi_python(), str(SERVER_SCRIPT), host, str(port), path, str(fps), encoder,
                                           str(kbps)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, env=env)
        except OSError as exc:
            raise SinkError(f"{label}: cannot start the RTSP server process ({exc})") from None
        ready = threading.Event()
        self.port = 0
        threading.Thread(target=self._watch_stdout, args=(ready,), name="rtsp-out", daemon=True).start()
        threading.Thread(target=self._watch_stderr, name="rtsp-err", daemon=True).start()
        if not ready.wait(start_timeout) or not self.port:
            self._stop_child()
            time.sleep(0.1)  # let the stderr reader take the child's last words
            why = self._errors[-1] if self._errors else f"no answer within {start_timeout:.0f} s"
            raise SinkError(f"{label}: the RTSP server did not start: {why}")
        self.name = f"rtsp://{host}:{self.port}{path}"
        self._writer = threading.Thread(target=self._ship, name="rtsp-frames", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------ the pipeline side: never blocks

    def write(self, item: SinkItem) -> None:
        if self._failure is not None:
            raise SinkError(f"{self.name}: {self._failure}")
        image = item.image
        if image is None:
            return
        h, w = image.shape[:2]
        if self._size is None:
            self._size = (w + w % 2, h + h % 2)  # I420 needs even sizes
        if (w, h) != self._size:
            image = cv2.resize(image, self._size)
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self._slot = image
            self._cond.notify()

    # ------------------------------------------------------------------ the child side

    def _ship(self) -> None:
        last = 0.0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._slot is not None)
                if self._closed:
                    return
                image, self._slot = self._slot, None
            now = time.monotonic()
            if self.clients == 0 and now - last < 1.0:
                continue  # nobody watches: keep only a recent picture for the next client
            last = now
            h, w = image.shape[:2]
            try:
                self._proc.stdin.write(struct.pack("<II", w, h) + np.ascontiguousarray(image).tobytes())
                self._proc.stdin.flush()
                self.sent += 1
            except (BrokenPipeError, ValueError, OSError):
                self._failure = "the RTSP server process ended: " + (self._errors[-1] if self._errors else
                                                                     f"exit status {self._proc.poll()}")
                return

    def _watch_stdout(self, ready: threading.Event) -> None:
        for raw in self._proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("ready "):
                self.port = int(line.split()[1])
                ready.set()
            elif line.startswith("clients "):
                self.clients = int(line.split()[1])
        ready.set()

    def _watch_stderr(self) -> None:
        for raw in self._proc.stderr:
            line = raw.decode(errors="replace").strip()
            if line:
                self._errors = (self._errors + [line[-300:]])[-20:]
                log.debug("rtsp server: %s", line)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join(5)
        self._stop_child()

    def _stop_child(self) -> None:
        try:
            self._proc.stdin.close()  # the server ends when its input does
        except OSError:
            pass
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            end_process(self._proc, 5)


def _int(uri: str, query: dict, name: str, default: int, low: int, high: int) -> int:
    if name not in query:
        return default
    try:
        value = int(query[name])
    except ValueError:
        raise ConfigError(f"{uri!r}: {name} must be an integer from {low} to {high}, got {query[name]!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{uri!r}: {name} must be an integer from {low} to {high}, got {value}")
    return value


def open_rtsp_sink(uri: str, rest: str = "") -> RtspSink:
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(query) - {"fps", "kbps", "encoder"}
    if unknown:
        raise ConfigError(f"{uri!r}: unknown option(s) {', '.join(sorted(unknown))}; rtsp:// sinks take fps=, "
                          "kbps=, encoder=")
    try:
        port = parts.port if parts.port is not None else 8554
    except ValueError:
        raise ConfigError(f"{uri!r}: the port must be a number 0..65535") from None
    encoder = query.get("encoder", "auto")
    if encoder not in ENCODERS:
        raise ConfigError(f"{uri!r}: encoder={encoder!r}; expected one of {', '.join(ENCODERS)}")
    path = parts.path if parts.path not in ("", "/") else "/cam"
    user = unquote(parts.username) if parts.username else os.environ.get("EDGE_RTSP_USER")
    password = unquote(parts.password) if parts.password else os.environ.get("EDGE_RTSP_PASSWORD")
    return RtspSink(parts.hostname or "127.0.0.1", port, path, user=user, password=password,
                    fps=_int(uri, query, "fps", 15, 1, 240), kbps=_int(uri, query, "kbps", 2000, 50, 100000),
                    encoder=encoder)
