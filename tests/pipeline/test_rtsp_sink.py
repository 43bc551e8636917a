"""The rtsp:// sink: the annotated stream as H.264 through GStreamer's RTSP server, read back by ffmpeg."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pytest

from .pipeline_helpers import edge_cmd, edge_env, ensure_tool
from .test_live_failures import _free_port
from edge.errors import ConfigError, SinkError
from edge.results import FrameResult
from edge.sinks import SinkItem, open_sink
from edge.sources.synthetic import frame_number_mark, render_pattern

CLASSIFIER = "models/mobilenet_v2_1.0_224_quant.tflite"  # draws its top labels in white at the top left
W, H = 320, 240


def _tools() -> str:
    ensure_tool("/usr/lib/x86_64-linux-gnu/girepository-1.0/GstRtspServer-1.0.typelib", "gir1.2-gst-rtsp-server-1.0",
                "python3-gi", "gstreamer1.0-rtsp", "gstreamer1.0-plugins-ugly")
    return ensure_tool("ffmpeg", "ffmpeg")


class Viewer:
    """ffmpeg as an RTSP client, decoding to raw BGR frames; each frame kept with its arrival time."""

    def __init__(self, url: str, frames: int):
        self.proc = subprocess.Popen(["ffmpeg", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
                                      "-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        size = W * H * 3
        while True:
            buf = self.proc.stdout.read(size)
            if buf is None or len(buf) < size:
                return
            self.frames.append(np.frombuffer(buf, np.uint8).reshape(H, W, 3))
            self.times.append(time.monotonic())

    def wait_frames(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.frames) < n and time.monotonic() < deadline and (self.proc.poll() is None or
                                                                        self._thread.is_alive()):
            time.sleep(0.05)

    def finish(self, timeout: float = 90) -> str:
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(10)
        return self.proc.stderr.read().decode(errors="replace")


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


def _overlay_pixels(frame: np.ndarray) -> tuple[int, int]:
    """Near-white pixels at the top left (where the five label lines are drawn) and below them. The synthetic
    pattern is at most 191 in every channel, so only the overlay's white text gets above 215."""
    white = frame.min(axis=2) > 215
    return int(white[:100, :].sum()), int(white[110:, :].sum())


@pytest.mark.gstreamer
def test_two_clients_get_the_annotated_stream_and_one_that_stalls_then_leaves_stops_nobody(zoo):
    _tools()
    port = _free_port()
    url = f"rtsp://127.0.0.1:{port}/cam"
    run = subprocess.Popen(edge_cmd("run", "--model", str(zoo / CLASSIFIER), "--task", "classify", "--labels",
                                    str(zoo / "labels/imagenet_labels.txt"), "--threads", "1", "--source",
                                    f"synthetic://?width={W}&height={H}&fps=15", "--sink", url, "--quiet"),
                           env=edge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_listening(port, run)
        stays, leaves = Viewer(url, 75), Viewer(url, 1000)
        leaves.wait_frames(10)
        assert len(leaves.frames) >= 10, leaves.finish(1)
        leaves.proc.send_signal(signal.SIGSTOP)  # a client that stops reading ...
        stalled_at = time.monotonic()
        time.sleep(3.0)
        leaves.proc.send_signal(signal.SIGKILL)  # ... and then vanishes without a TEARDOWN
        left_at = time.monotonic()
        leaves.finish(10)
        err = stays.finish()
        assert len(stays.frames) == 75, err
        late = Viewer(url, 10)  # the server still takes new clients after one vanished
        late_err = late.finish()
        assert len(late.frames) == 10, late_err
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err
    assert "Traceback" not in err
    # the viewer that stayed kept receiving while the other one was stalled
    during_stall = sum(stalled_at <= t < left_at for t in stays.times)
    assert during_stall >= 10, (during_stall, stays.times[0], stalled_at, left_at)
    # the frames change: the synthetic counter moves on (read back from its 8x8 grey mark)
    marks = [frame_number_mark(f) for f in stays.frames]
    assert len(set(marks)) >= 40, marks
    # the mark is a grey level (frame number mod 256), read back through H.264: a loaded encoder blurs it by a
    # level or two, so a repeated frame can read 2 below the last one; steps are taken signed, mod 256
    steps = [(b - a + 128) % 256 - 128 for a, b in zip(marks, marks[1:])]
    assert min(steps) >= -4, steps  # frames in order (up to the compression's blur)
    assert max(steps) <= 30, steps  # no stall of the pipeline: never two seconds without a new frame
    # and they carry the overlay: the classifier's white label text, and none of it outside its corner
    corner, rest = zip(*(_overlay_pixels(f) for f in stays.frames))
    assert sum(c > 15 for c in corner) >= 0.9 * len(corner), corner
    assert max(rest) <= 5, rest
    assert np.abs(stays.frames[-1].astype(int) - stays.frames[0].astype(int)).mean() > 5


def _feed(sink, stop: threading.Event) -> None:
    n = 0
    while not stop.wait(1 / 15):
        sink.write(SinkItem(FrameResult(n, "synthetic", "detect", W, H), {}, render_pattern(n, W, H), 15.0))
        n += 1


@pytest.mark.gstreamer
def test_user_and_password_are_required_when_given():
    _tools()
    sink = open_sink("rtsp://viewer:s3cret@127.0.0.1:0/cam")
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(sink, stop), daemon=True)
    feeder.start()
    try:
        anonymous = Viewer(f"rtsp://127.0.0.1:{sink.port}/cam", 5)
        wrong = Viewer(f"rtsp://viewer:guess@127.0.0.1:{sink.port}/cam", 5)
        good = Viewer(f"rtsp://viewer:s3cret@127.0.0.1:{sink.port}/cam", 5)
        anonymous_err, wrong_err, good_err = anonymous.finish(), wrong.finish(), good.finish()
    finally:
        stop.set()
        feeder.join(5)
        sink.close()
    assert len(good.frames) == 5, good_err
    assert anonymous.frames == [] and "401" in anonymous_err, anonymous_err
    assert wrong.frames == [] and "401" in wrong_err, wrong_err


@pytest.mark.gstreamer
def test_a_missing_encoder_is_named():
    _tools()
    if subprocess.run(["gst-inspect-1.0", "v4l2h264enc"], capture_output=True).returncode == 0:
        pytest.skip("this machine has v4l2h264enc")
    with pytest.raises(SinkError, match="H.264 encoder 'v4l2h264enc' is not available"):
        open_sink("rtsp://127.0.0.1:0/cam?encoder=v4l2h264enc")


@pytest.mark.parametrize("uri, message", [
    ("rtsp://0.0.0.0:8554/cam", "reachable from the network; give a user and password"),
    ("rtsp://127.0.0.1:8554/cam?bitrate=9", "unknown option(s) bitrate"),
    ("rtsp://127.0.0.1:8554/cam?fps=0", "fps must be an integer from 1 to 240"),
    ("rtsp://127.0.0.1:8554/cam?kbps=lots", "kbps must be an integer"),
    ("rtsp://127.0.0.1:8554/cam?encoder=nvenc", "encoder='nvenc'; expected one of auto"),
    ("rtsp://127.0.0.1:99999/cam", "the port must be a number"),
])
def test_bad_rtsp_sink_uris_are_named_before_anything_starts(uri, message):
    with pytest.raises(ConfigError) as err:
        open_sink(uri)
    assert message in str(err.value)
