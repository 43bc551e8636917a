"""Camera sources up to the hardware boundary.

This machine has no Raspberry Pi camera, no /dev/video* device and no Jetson: what can run here does.
* picamera2: ``edge run`` drives a stand-in of the picamera2 package (tests/pipeline/standins, picamera2's
  documented API and array layouts, paced like a sensor) with the real zoo SSD; the source must ask for a
  ``lores`` stream at the model's input size and feed the model from it, cutting the ISP's row padding.
* v4l2 and csi: the real OpenCV V4L2 backend and the real GStreamer tools, so the errors a user meets when a
  camera is missing or a mode is wrong are the ones tested.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.boxes import iou_matrix
from edge.sources.camera import lores_to_bgr, picamera2_config
from edge.errors import ConfigError, SourceError
from edge.sources import open_source
from .pipeline_helpers import edge_cmd, edge_env

STANDINS = Path(__file__).parent / "standins"


def _standin():
    spec = importlib.util.spec_from_file_location("picamera2_standin", STANDINS / "picamera2" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _standin_env(scene: Path, log: Path, cameras: int = 1) -> dict:
    env = edge_env()
    env["PYTHONPATH"] = f"{STANDINS}:{env['PYTHONPATH']}"
    env.update(STANDIN_SCENE=str(scene), STANDIN_LOG=str(log), STANDIN_CAMERAS=str(cameras))
    return env


def _people(jsonl: Path) -> list[list[float]]:
    """The best person box of every frame."""
    boxes = []
    for line in jsonl.read_text().splitlines():
        people = [d for d in json.loads(line)["detections"] if d["label"] == "person"]
        boxes.append(max(people, key=lambda d: d["score"])["box"])
    return boxes


@pytest.mark.parametrize("width, stride", [(300, 320), (224, 256), (256, 256)])
def test_lores_to_bgr_cuts_the_row_padding(zoo, width, stride):
    image = cv2.resize(cv2.imread(str(zoo / "images" / "grace_hopper.bmp")), (width, 200))
    packed = _standin().pack_i420(image, stride)
    assert packed.shape == (300, stride)
    out = lores_to_bgr(packed, width)
    assert out.shape == image.shape
    assert cv2.PSNR(out, image) > 30  # only the 4:2:0 chroma subsampling is lost


def test_picamera2_config_asks_the_isp_for_a_model_sized_lores_stream():
    config = picamera2_config((1280, 720), (257, 257), 25)
    assert config["lores"] == {"size": (258, 258), "format": "YUV420"}
    assert config["main"] == {"size": (1280, 720), "format": "RGB888"}
    assert config["controls"]["FrameDurationLimits"] == (40000, 40000)
    with pytest.raises(ConfigError, match="lores stream 1920x1080 must not be larger than the main stream 1280x720"):
        picamera2_config((1280, 720), (1920, 1080), 30)


def test_picamera2_source_feeds_the_model_from_lores(zoo, ssd, tmp_path):
    scene, log, jsonl = zoo / "images" / "grace_hopper.bmp", tmp_path / "camera.jsonl", tmp_path / "out.jsonl"
    proc = subprocess.run(edge_cmd("run", "--model", str(ssd), "--source", "picamera2://0?width=640&height=480&fps=30",
                                   "--max-frames", "6", "--threads", "2", "--sink", f"jsonl://{jsonl}",
                                   "--summary", str(tmp_path / "s.json"), "--quiet"),
                          capture_output=True, text=True, env=_standin_env(scene, log), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in log.read_text().splitlines()]
    configure = [e for e in events if e["event"] == "configure"]
    assert configure == [{"event": "configure", "main": [640, 480], "main_format": "RGB888", "lores": [300, 300],
                          "lores_format": "YUV420", "lores_stride": 320,
                          "controls": {"FrameDurationLimits": [33333, 33333]}}]
    lores_reads = [e for e in events if e["event"] == "make_array" and e["stream"] == "lores"]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert len(lores_reads) == summary["captured"] >= 6
    assert events[-1]["event"] == "close" and events[-1]["released"] == events[-1]["frames"]  # no request leaked
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert records and {r["source"] for r in records} == {"picamera2://0"}

    # the same scene at the main stream's size through file:// (the model resizes it itself)
    still = tmp_path / "main.png"
    cv2.imwrite(str(still), cv2.resize(cv2.imread(str(scene)), (640, 480), interpolation=cv2.INTER_AREA))
    ref = tmp_path / "ref.jsonl"
    proc = subprocess.run(edge_cmd("run", "--model", str(ssd), "--source", f"file://{still}", "--threads", "2",
                                   "--sink", f"jsonl://{ref}", "--quiet"),
                          capture_output=True, text=True, env=edge_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reference = np.array(_people(ref)[:1], np.float32)
    for box in _people(jsonl):  # in main-stream pixels although the model saw the 300x300 lores frame
        assert iou_matrix(np.array([box], np.float32), reference)[0, 0] > 0.85, (box, reference)


def test_picamera2_without_a_camera_is_named(zoo, ssd, tmp_path):
    env = _standin_env(zoo / "images" / "grace_hopper.bmp", tmp_path / "log.jsonl", cameras=0)
    proc = subprocess.run(edge_cmd("run", "--model", str(ssd), "--source", "picamera2://0", "--max-frames", "1"),
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "picamera2://0: camera 0 is not available" in proc.stderr and "rpicam-hello --list-cameras" in proc.stderr


def test_picamera2_missing_package_says_how_to_install(ssd):
    if importlib.util.find_spec("picamera2") is not None:
        pytest.skip("picamera2 is installed here")
    proc = subprocess.run(edge_cmd("run", "--model", str(ssd), "--source", "picamera2://0", "--max-frames", "1"),
                          capture_output=True, text=True, env=edge_env(), timeout=120)
    assert proc.returncode == 2
    assert "picamera2 is not importable" in proc.stderr and "apt install python3-picamera2" in proc.stderr


@pytest.mark.parametrize("uri, message", [
    ("v4l2:///dev/video9", "no such camera device /dev/video9"),
    ("v4l2:///dev/null", "OpenCV could not open /dev/null with V4L2"),
    ("v4l2:///dev/video0?fourcc=MJPEG", "fourcc must be 4 characters"),
    ("v4l2:///dev/video0?width=wide", "width must be an integer"),
    ("v4l2:///dev/video0?exposure=3", "unknown option(s) exposure"),
    ("csi://left", "csi://N takes a sensor number"),
    ("picamera2://front", "picamera2://N takes a camera number"),
])
def test_camera_uri_errors_are_named(uri, message):
    if uri == "v4l2:///dev/video9" and Path("/dev/video9").exists():
        pytest.skip("/dev/video9 exists on this machine")
    with pytest.raises(SourceError) as err:
        open_source(uri)
    assert message in str(err.value)


def test_csi_without_the_jetson_camera_stack_names_the_missing_element(gst_launch):
    with pytest.raises(SourceError) as err:
        open_source("csi://0?width=1280&height=720&fps=30")
    text = str(err.value)
    assert text.startswith("csi://0")
    assert "nvarguscamerasrc" in text  # GStreamer's own words: no element "nvarguscamerasrc"
