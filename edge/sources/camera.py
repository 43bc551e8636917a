"""Live camera sources: ``picamera2://``, ``v4l2://``, ``csi://``, ``gst://`` and ``rtsp://``.

Every source has the same small interface as the file sources (``edge.sources.base``): ``read() -> Frame | None``,
``close()``, ``fps`` (nominal, 0 if unknown) and ``size`` (width, height); each declares itself ``live``.

* ``picamera2://0?width=1280&height=720&fps=30`` (Raspberry Pi): a ``main`` stream for display and a ``lores``
  stream at the model's input size, so the ISP does the resize; the lores frame of the last read is in
  ``last_lores`` (BGR). picamera2 comes from apt on the Pi and is imported only here, on open.
* ``v4l2:///dev/video0?width=640&height=480&fps=30&fourcc=MJPG`` (USB/UVC) through OpenCV's V4L2 backend.
  If the camera delivers another size than asked, that is an error naming both.
* ``csi://0?width=1280&height=720&fps=30`` (Jetson): an ``nvarguscamerasrc`` GStreamer pipeline.
* ``gst://<pipeline>``: any GStreamer pipeline producing video; BGR conversion and the sink are appended.
  GStreamer pipelines go through OpenCV when cv2 was built with GStreamer (JetPack's OpenCV is), else through
  a ``gst-launch-1.0 ... ! fdsink`` subprocess that writes raw BGR frames into a pipe.
* ``rtsp://host:port/path`` through OpenCV's FFmpeg backend (TCP transport, open/read time-outs).

A server or device that is not there at start is waited for: ``?open_timeout=SECONDS`` retries the first open
with the reconnect back-off (rtsp:// 30 s by default, v4l2:// and csi:// 0 = fail at once); the option is taken
off the URI before it reaches the camera.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from urllib.parse import parse_qsl, urlsplit

import cv2
import numpy as np

from ..errors import ConfigError, SourceError, SourceUnavailable
from ..processes import end_process
from .base import Frame, Source, SourceCapabilities
from .reconnect import Reconnecting

_CAPS_RE = re.compile(r"caps = video/x-raw, format=\(string\)BGR, width=\(int\)(\d+), height=\(int\)(\d+)"
                      r"(?:.*?framerate=\(fraction\)(\d+)/(\d+))?")


def _options(uri: str, allowed: set[str]) -> dict[str, str]:
    query = dict(parse_qsl(urlsplit(uri).query, keep_blank_values=True))
    unknown = set(query) - allowed
    if unknown:
        raise SourceError(f"{uri!r}: unknown option(s) {', '.join(sorted(unknown))}; "
                          f"this source takes {', '.join(sorted(allowed)) or 'none'}")
    return query


def _int_option(uri: str, query: dict, name: str, default: int | None) -> int | None:
    if name not in query:
        return default
    try:
        value = int(query[name])
    except ValueError:
        raise SourceError(f"{uri!r}: {name} must be an integer, got {query[name]!r}") from None
    if value <= 0:
        raise SourceError(f"{uri!r}: {name} must be positive, got {value}")
    return value


def _display_name(uri: str) -> str:
    """The JSON "source" field: the URI without query options or credentials."""
    parts = urlsplit(uri)
    if parts.scheme == "gst":
        return "gst"
    return f"{parts.scheme}://{parts.hostname or parts.netloc}{(':' + str(parts.port)) if parts.port else ''}{parts.path}"


def cv2_has_gstreamer() -> bool:
    info = cv2.getBuildInformation()
    match = re.search(r"GStreamer:\s*(\w+)", info)
    return bool(match and match.group(1).upper() == "YES")


class _CaptureSource(Source):
    """An opened ``cv2.VideoCapture`` treated as a live source."""

    capabilities = SourceCapabilities(live=True)

    def __init__(self, cap: cv2.VideoCapture, uri: str):
        self._cap, self.uri, self.name, self._index = cap, uri, _display_name(uri), 0
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        self._index += 1
        return Frame(image, self._index - 1, self.name)

    def close(self) -> None:
        self._cap.release()


class GstProcessSource(Source):
    """Raw BGR frames from a ``gst-launch-1.0`` child writing into a pipe (no GStreamer in cv2 needed).

    The frame size comes from the negotiated caps that ``gst-launch-1.0 -v`` prints on stdout; the frames come
    through a separate pipe given to ``fdsink``.
    """

    capabilities = SourceCapabilities(live=True)

    def __init__(self, pipeline: str, uri: str, timeout: float = 10.0):
        exe = shutil.which("gst-launch-1.0")
        if exe is None:
            raise SourceError(f"{uri}: gst-launch-1.0 is not installed (apt-get install gstreamer1.0-tools), "
                              "and this OpenCV has no GStreamer support")
        self.uri, self.name, self._index = uri, _display_name(uri), 0
        read_fd, write_fd = os.pipe()
        tail = f" ! videoconvert ! video/x-raw,format=BGR ! fdsink fd={write_fd} sync=false"
        self._proc = subprocess.Popen(
            [exe, "-v", "-e", *_split_pipeline(pipeline + tail)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(write_fd,), text=True, bufsize=1)
        os.close(write_fd)
        self._pipe = os.fdopen(read_fd, "rb", buffering=0)
        self._log: list[str] = []
        found = threading.Event()
        self.size, self.fps = (0, 0), 0.0

        def watch() -> None:
            for line in self._proc.stdout:
                self._log.append(line.rstrip()[-300:])
                del self._log[:-40]
                match = _CAPS_RE.search(line) if "fdsink" in line else None
                if match and not found.is_set():
                    self.size = (int(match.group(1)), int(match.group(2)))
                    if match.group(3) and int(match.group(4)):
                        self.fps = int(match.group(3)) / int(match.group(4))
                    found.set()
            found.set()

        threading.Thread(target=watch, name="gst-log", daemon=True).start()
        if not found.wait(timeout) or self.size == (0, 0):
            self.close()
            raise SourceError(f"{uri}: the GStreamer pipeline did not start within {timeout:.0f} s: "
                              + (" | ".join(self._log[-5:]) or "no output"))
        self._frame_bytes = self.size[0] * self.size[1] * 3

    def read(self) -> Frame | None:
        buf = bytearray(self._frame_bytes)
        view, got = memoryview(buf), 0
        while got < self._frame_bytes:
            n = self._pipe.readinto(view[got:])
            if not n:
                return None  # the pipeline ended or died
            got += n
        self._index += 1
        return Frame(np.frombuffer(buf, np.uint8).reshape(self.size[1], self.size[0], 3), self._index - 1, self.name)

    def close(self) -> None:
        end_process(self._proc, 3)
        self._pipe.close()


def _split_pipeline(text: str) -> list[str]:
    import shlex

    return shlex.split(text)


def open_gstreamer(pipeline: str, uri: str):
    """A GStreamer pipeline (without sink) as a source, through OpenCV if it can, else a subprocess."""
    if cv2_has_gstreamer():
        cap = cv2.VideoCapture(pipeline + " ! videoconvert ! video/x-raw,format=BGR ! appsink drop=1 max-buffers=2",
                               cv2.CAP_GSTREAMER)
        if not cap.isOpened():
            raise SourceError(f"{uri}: OpenCV could not start the GStreamer pipeline {pipeline!r}")
        return _CaptureSource(cap, uri)
    return GstProcessSource(pipeline, uri)


def open_gst(uri: str):
    pipeline = uri[len("gst://"):].strip()
    if not pipeline:
        raise SourceError(f"{uri!r}: gst:// needs a pipeline, e.g. gst://videotestsrc ! video/x-raw,width=640")
    return open_gstreamer(pipeline, uri)


def csi_pipeline(sensor: int, width: int, height: int, fps: int, flip: int = 0) -> str:
    """The Jetson camera pipeline: the ISP (nvarguscamerasrc) to NVMM, converted to BGRx in system memory."""
    return (f"nvarguscamerasrc sensor-id={sensor} ! video/x-raw(memory:NVMM),width={width},height={height},"
            f"framerate={fps}/1,format=NV12 ! nvvidconv flip-method={flip} ! video/x-raw,format=BGRx")


def open_csi(uri: str):
    parts = urlsplit(uri)
    query = _options(uri, {"width", "height", "fps", "flip", "open_timeout"})
    try:
        sensor = int(parts.netloc or "0")
    except ValueError:
        raise SourceError(f"{uri!r}: csi://N takes a sensor number, got {parts.netloc!r}") from None
    pipeline = csi_pipeline(sensor, _int_option(uri, query, "width", 1280), _int_option(uri, query, "height", 720),
                            _int_option(uri, query, "fps", 30), int(query.get("flip", 0)))
    return open_gstreamer(pipeline, uri)


def open_v4l2(uri: str):
    parts = urlsplit(uri)
    device = parts.path or "/dev/video0"
    query = _options(uri, {"width", "height", "fps", "fourcc", "open_timeout"})
    width, height = _int_option(uri, query, "width", None), _int_option(uri, query, "height", None)
    fps = _int_option(uri, query, "fps", None)
    fourcc = query.get("fourcc")
    if fourcc is not None and len(fourcc) != 4:
        raise SourceError(f"{uri!r}: fourcc must be 4 characters such as MJPG or YUYV, got {fourcc!r}")
    if not os.path.exists(device):
        raise SourceUnavailable(f"{uri}: no such camera device {device} (is the camera plugged in? see ls /dev/video*)")
    cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
    if not cap.isOpened():
        raise SourceUnavailable(f"{uri}: OpenCV could not open {device} with V4L2 (busy or not a capture device?)")
    if fourcc is not None:
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*fourcc))
    if width:
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
    if height:
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    if fps:
        cap.set(cv2.CAP_PROP_FPS, fps)
    source = _CaptureSource(cap, uri)
    if (width and source.size[0] != width) or (height and source.size[1] != height):
        source.close()
        raise SourceError(f"{uri}: asked for {width}x{height}, the camera offers {source.size[0]}x{source.size[1]} "
                          "(list its modes with v4l2-ctl --list-formats-ext)")
    return source


def open_rtsp(uri: str, timeout_ms: int = 5000):
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    cap = cv2.VideoCapture(uri, cv2.CAP_FFMPEG,
                           [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])
    if not cap.isOpened():
        cap.release()
        raise SourceUnavailable(f"{uri}: could not open the RTSP stream within {timeout_ms / 1000:.0f} s "
                          "(server down, wrong path, or a firewall)")
    return _CaptureSource(cap, uri)


class Picamera2Source(Source):
    """Raspberry Pi camera through picamera2: ``main`` for display, ``lores`` at the model's input size."""

    capabilities = SourceCapabilities(live=True, lores=True)

    def __init__(self, uri: str, lores_size: tuple[int, int] | None = None):
        query = _options(uri, {"width", "height", "fps"})
        netloc = urlsplit(uri).netloc or "0"
        if not netloc.isdigit():
            raise SourceError(f"{uri!r}: picamera2://N takes a camera number, got {netloc!r}")
        index = int(netloc)
        self.uri, self.name, self._index = uri, _display_name(uri), 0
        self.size = (_int_option(uri, query, "width", 1280), _int_option(uri, query, "height", 720))
        self.fps = float(_int_option(uri, query, "fps", 30))
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError:
            raise SourceError(f"{uri}: picamera2 is not importable; on a Raspberry Pi run "
                              "`sudo apt install python3-picamera2` and create the venv with "
                              "--system-site-packages") from None
        try:
            self._cam = Picamera2(index)
        except (IndexError, RuntimeError) as exc:  # picamera2 raises IndexError when libcamera lists no camera
            raise SourceError(f"{uri}: camera {index} is not available ({exc or type(exc).__name__}); check the "
                              "ribbon cable and `rpicam-hello --list-cameras`") from None
        self._lores_size = lores_size
        self._config: dict | None = None
        self._lores_width = 0
        self.last_lores: np.ndarray | None = None

    def request_model_size(self, size: tuple[int, int]) -> None:
        """Ask for a ``lores`` stream at the model's input size; call before the first read."""
        if self._config is None:
            self._lores_size = tuple(size)

    def _start(self) -> None:
        self._config = picamera2_config(self.size, self._lores_size, self.fps)
        self._cam.configure(self._cam.create_video_configuration(**self._config))
        if "lores" in self._config:
            # libcamera may align the size; the lores array keeps the row padding (stride), cut off after conversion
            self._lores_width = int(self._cam.camera_config["lores"]["size"][0])
        self._cam.start()

    def read(self) -> Frame | None:
        if self._config is None:
            self._start()
        request = self._cam.capture_request()
        try:
            main = request.make_array("main")
            if "lores" in self._config:
                yuv = request.make_array("lores")  # (h * 3 / 2, stride) I420, rows padded to the stride
                self.last_lores = lores_to_bgr(yuv, self._lores_width)
        finally:
            request.release()
        self._index += 1
        # lores: the ISP-resized copy at the model's input size (see ModelChain)
        return Frame(main[:, :, :3] if main.shape[2] == 4 else main, self._index - 1, self.name, lores=self.last_lores)

    def close(self) -> None:
        if self._config is not None:
            self._cam.stop()
        self._cam.close()


def lores_to_bgr(yuv420: np.ndarray, width: int) -> np.ndarray:
    """picamera2's YUV420 (I420) array, ``(height * 3 / 2, stride)``, to a BGR image ``width`` pixels wide.

    Each Y row is ``stride`` bytes and each U/V row ``stride / 2``, so converting the whole array as an image
    ``stride`` wide is exact; the padding columns are cut off afterwards.
    """
    bgr = cv2.cvtColor(yuv420, cv2.COLOR_YUV2BGR_I420)  # I420: U before V (OpenCV's YUV420p means YV12)
    return np.ascontiguousarray(bgr[:, :width]) if width and bgr.shape[1] > width else bgr


def picamera2_config(main_size: tuple[int, int], lores_size: tuple[int, int] | None, fps: float) -> dict:
    """Keyword arguments for ``Picamera2.create_video_configuration``: BGR main, YUV420 lores (the only
    lores format every Pi ISP supports), frame rate fixed through the frame-duration limits."""
    config: dict = {"main": {"size": tuple(main_size), "format": "RGB888"},
                    "controls": {"FrameDurationLimits": (int(1e6 / fps), int(1e6 / fps))}, "buffer_count": 4}
    if lores_size is not None:
        w, h = lores_size
        if w > main_size[0] or h > main_size[1]:
            raise ConfigError(f"the lores stream {w}x{h} must not be larger than the main stream "
                              f"{main_size[0]}x{main_size[1]}")
        config["lores"] = {"size": (w + (w % 2), h + (h % 2)), "format": "YUV420"}
    return config


def open_picamera2(uri: str, lores_size: tuple[int, int] | None = None):
    return Picamera2Source(uri, lores_size)


# scheme -> opener; open_live wraps these in Reconnecting (all but picamera2)
OPENERS = {
    "picamera2": open_picamera2,
    "v4l2": open_v4l2,
    "csi": open_csi,
    "gst": open_gst,
    "rtsp": open_rtsp,
}


def open_live(uri: str, rest: str = ""):
    """A camera / stream URI opened with reconnect-on-failure (see edge.sources.reconnect)."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme not in OPENERS:
        raise SourceError(f"{uri!r}: not a camera scheme; known: {', '.join(sorted(OPENERS))}")
    if scheme == "picamera2":
        return Picamera2Source(uri)  # libcamera recovers itself; a lost Pi camera needs a restart
    open_timeout = DEFAULT_OPEN_TIMEOUT.get(scheme, 0.0)
    if scheme in DEFAULT_OPEN_TIMEOUT:
        uri, given = split_open_timeout(uri)
        open_timeout = given if given is not None else open_timeout
    return Reconnecting(lambda: OPENERS[scheme](uri), uri, open_timeout=open_timeout)


# schemes that take ?open_timeout= (seconds to wait for a server or device absent at start), and its default
DEFAULT_OPEN_TIMEOUT = {"rtsp": 30.0, "v4l2": 0.0, "csi": 0.0}


def split_open_timeout(uri: str) -> tuple[str, float | None]:
    """The URI without its ``open_timeout=`` option (other options kept in order), and that option's value."""
    given = [v for k, v in parse_qsl(urlsplit(uri).query, keep_blank_values=True) if k == "open_timeout"]
    if not given:
        return uri, None
    try:
        seconds = float(given[-1])
    except ValueError:
        seconds = float("nan")
    if not (0 <= seconds <= 86400):
        raise SourceError(f"{uri!r}: open_timeout must be a number of seconds from 0 to 86400, got {given[-1]!r}")
    base, _, query = uri.partition("?")
    rest = "&".join(p for p in query.split("&") if p.split("=", 1)[0] != "open_timeout")
    return base + ("?" + rest if rest else ""), seconds
