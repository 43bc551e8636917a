"""Live sources that fail and come back, a disk that fills up, SIGTERM in the middle of a recording."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from .pipeline_helpers import edge_cmd, edge_env, ensure_tool
from edge.errors import SinkError
from edge.sources.camera import open_gst
from edge.sources.reconnect import Reconnecting
from edge.sinks.segments import SegmentedVideoSink
from edge.sinks import SinkItem
from edge.results import FrameResult
from edge.sources.synthetic import render_pattern

RTSP_SERVER = r"""
import sys, gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
server = GstRtspServer.RTSPServer(); server.set_address("127.0.0.1"); server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
                   "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 )")
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _video_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_gst_source_that_dies_is_reopened_and_the_gap_recorded(gst_launch):
    uri = "gst://videotestsrc num-buffers=15 ! video/x-raw,width=160,height=120,framerate=30/1"
    src = Reconnecting(lambda: open_gst(uri), uri, first_delay=0.1)
    frames, gaps = [], []
    while len(frames) < 40:  # each pipeline ends after 15 frames: at least two reconnects
        frame = src.read()
        assert frame is not None
        frames.append(frame.index)
        if (gap := src.take_gap()) is not None:
            gaps.append(gap)
    src.close()
    assert frames == list(range(40))
    assert src.reconnects >= 2 and [g.after_frame for g in gaps[:2]] == [15, 30]
    assert all(g.seconds > 0 and g.attempts >= 1 and "no frame" in g.reason for g in gaps)


def _start_rtsp(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(["/usr/bin/python3", "-c", RTSP_SERVER, str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def test_rtsp_drop_and_return_reaches_the_json_lines(ssd, tmp_path):
    ensure_tool("gst-launch-1.0", "gstreamer1.0-tools")
    ensure_tool("/usr/lib/x86_64-linux-gnu/girepository-1.0/GstRtspServer-1.0.typelib", "gir1.2-gst-rtsp-server-1.0",
                "python3-gi", "gstreamer1.0-rtsp", "gstreamer1.0-plugins-ugly") if sys.platform == "linux" else None
    port = _free_port()
    server = _start_rtsp(port)
    jsonl = tmp_path / "out.jsonl"
    run = subprocess.Popen(edge_cmd("run", "--model", str(ssd), "--threads", "1", "--source",
                                    f"rtsp://127.0.0.1:{port}/cam", "--sink", f"jsonl://{jsonl}", "--quiet"),
                           env=edge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and (not jsonl.exists() or len(jsonl.read_text().splitlines()) < 5):
            time.sleep(0.2)
        server.terminate(); server.wait(10)
        time.sleep(2.0)
        server = _start_rtsp(port)
        deadline = time.time() + 60
        while time.time() < deadline and '"gap"' not in jsonl.read_text():
            time.sleep(0.3)
        time.sleep(1.0)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=60)
    finally:
        server.terminate()
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    recs = [json.loads(x) for x in jsonl.read_text().splitlines()]
    gaps = [r for r in recs if "gap" in r]
    assert len(gaps) >= 1, err[-2000:]
    assert gaps[0]["gap"]["seconds"] >= 1.5 and gaps[0]["gap"]["attempts"] >= 1
    assert [r["frame"] for r in recs] == sorted(r["frame"] for r in recs)
    assert "reconnects 1" in out or "reconnects 2" in out


def _item(n: int) -> SinkItem:
    return SinkItem(FrameResult(n, "synthetic", "detect", 320, 240), {}, render_pattern(n, 320, 240), 10.0)


def test_segments_are_closed_and_renamed(tmp_path):
    sink = SegmentedVideoSink(tmp_path / "out.mp4", segment_seconds=1.0)
    for n in range(25):  # 10 fps: two full segments and a half one
        sink.write(_item(n))
    sink.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["out-00000.mp4", "out-00001.mp4", "out-00002.mp4"]
    assert [_video_frames(tmp_path / n) for n in names] == [10, 10, 5]


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.decode().strip()}); needs root")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_full_disk_reports_and_keeps_earlier_segments(tiny_disk):
    sink = SegmentedVideoSink(tiny_disk / "out.mp4", segment_seconds=1.0)
    with pytest.raises(SinkError) as err:
        for n in range(10_000):
            sink.write(_item(n))
    sink.close()
    assert "disk full" in str(err.value) and "segment(s) are complete and playable" in str(err.value)
    done = sorted(tiny_disk.glob("out-*.mp4"))
    assert len(done) >= 1 and not list(tiny_disk.glob(".*partial*")) and not list(tiny_disk.glob(".*reserve"))
    frames = [_video_frames(p) for p in done]  # full segments, then the one the disk stopped: closed, shorter
    assert all(n == 10 for n in frames[:-1]) and 1 <= frames[-1] <= 10, frames


def test_sigterm_mid_run_leaves_playable_video(ssd, tmp_path):
    video = tmp_path / "out.mp4"
    proc = subprocess.Popen(edge_cmd("run", "--model", str(ssd), "--threads", "1", "--source",
                                     "synthetic://?width=320&height=240&fps=15", "--sink", f"file://{video}",
                                     "--quiet"), env=edge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(6)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    frames = int(out.split("frames: ")[1].split()[0])
    assert frames > 0 and _video_frames(video) == frames
