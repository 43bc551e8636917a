"""A stand-in for the ``picamera2`` package, for tests on machines without a Raspberry Pi camera.

It is NOT edge code and never ships: tests put its folder first on PYTHONPATH. It offers the part of
picamera2's API that ``edge.sources.camera.Picamera2Source`` uses, with the data layout picamera2 documents:

* ``create_video_configuration(main=, lores=, controls=, buffer_count=)`` returns the configuration dict;
* ``configure(config)`` checks it as the Pi ISP would (main in an RGB format, lores only YUV420, lores not
  larger than main, even sizes) and fills in each stream's ``stride`` (rows padded to 64 bytes, as the ISP
  does for a 300-pixel-wide lores stream);
* ``capture_request().make_array("main")`` is (h, w, 3) in BGR byte order (picamera2's "RGB888");
  ``make_array("lores")`` is I420 shaped ``(h * 3 / 2, stride)`` with the padding left in, like picamera2.

The scene is the image named by ``STANDIN_SCENE`` (resized to each stream, the ISP's job), shifted by one pixel
per frame so frames differ. ``STANDIN_CAMERAS`` says how many cameras exist (0: none, as on an unplugged Pi).
Requests are paced at the frame duration of the ``FrameDurationLimits`` control, as a sensor would deliver them.
``STANDIN_LOG``, if set, receives one JSON line per call (configure, make_array) so a test can see what the
source asked for.
"""

from __future__ import annotations

import json
import os
import time

import cv2
import numpy as np

_RGB_FORMATS = {"RGB888", "BGR888", "XRGB8888", "XBGR8888"}


def _log(event: str, **data) -> None:
    path = os.environ.get("STANDIN_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"event": event, **data}) + "\n")


def _stride(width: int) -> int:
    return (width + 63) // 64 * 64


def pack_i420(bgr: np.ndarray, stride: int) -> np.ndarray:
    """BGR -> I420 laid out as picamera2 returns it: Y rows ``stride`` long, U and V rows ``stride / 2`` long."""
    h, w = bgr.shape[:2]
    planar = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)  # (h * 3 / 2, w), unpadded
    y = np.zeros((h, stride), np.uint8)
    y[:, :w] = planar[:h]
    chroma = []
    for k in range(2):
        plane = planar[h + k * h // 4: h + (k + 1) * h // 4].reshape(h // 2, w // 2)
        padded = np.zeros((h // 2, stride // 2), np.uint8)
        padded[:, : w // 2] = plane
        chroma.append(padded.reshape(h // 4, stride))
    return np.vstack([y, *chroma])


class _Request:
    def __init__(self, cam: "Picamera2"):
        self._cam = cam
        self._shift = cam.frames

    def make_array(self, name: str) -> np.ndarray:
        config = self._cam.camera_config[name]
        w, h = config["size"]
        scene = np.roll(self._cam.scene, self._shift, axis=1)
        image = cv2.resize(scene, (w, h), interpolation=cv2.INTER_AREA)
        _log("make_array", stream=name, size=[w, h])
        if config["format"] == "YUV420":
            return pack_i420(image, config["stride"])
        return image if config["format"] in ("RGB888", "BGR888") else cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)

    def release(self) -> None:
        self._cam.released += 1


class Picamera2:
    def __init__(self, camera_num: int = 0):
        if camera_num >= int(os.environ.get("STANDIN_CAMERAS", "1")):
            raise IndexError("list index out of range")  # what picamera2 raises when libcamera lists no camera
        scene = cv2.imread(os.environ["STANDIN_SCENE"])
        if scene is None:
            raise RuntimeError(f"STANDIN_SCENE {os.environ['STANDIN_SCENE']!r} is not an image")
        self.scene, self.frames, self.released = scene, 0, 0
        self.camera_config: dict | None = None
        self.started = False
        self._next = 0.0

    def create_video_configuration(self, main=None, lores=None, controls=None, buffer_count=6, **_):
        return {"use_case": "video", "main": dict(main or {"size": (1280, 720), "format": "XBGR8888"}),
                "lores": dict(lores) if lores else None, "controls": dict(controls or {}), "buffer_count": buffer_count}

    def configure(self, config: dict) -> None:
        main, lores = config["main"], config.get("lores")
        if main["format"] not in _RGB_FORMATS:
            raise RuntimeError(f"main format {main['format']} is not an RGB format")
        if lores is not None:
            if lores["format"] != "YUV420":
                raise RuntimeError(f"lores format {lores['format']} unsupported: the ISP's lores is YUV420 only")
            if lores["size"][0] > main["size"][0] or lores["size"][1] > main["size"][1]:
                raise RuntimeError("lores larger than main")
            if lores["size"][0] % 2 or lores["size"][1] % 2:
                raise RuntimeError(f"lores size {lores['size']} must be even")
            lores["stride"] = _stride(lores["size"][0])
        main["stride"] = main["size"][0] * 3
        self.camera_config = config
        _log("configure", main=list(main["size"]), main_format=main["format"],
             lores=list(lores["size"]) if lores else None, lores_format=lores["format"] if lores else None,
             lores_stride=lores["stride"] if lores else None, controls={k: list(v) for k, v in config["controls"].items()})

    def start(self) -> None:
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def capture_request(self) -> _Request:
        if not self.started:
            raise RuntimeError("Camera not started")
        period = self.camera_config["controls"].get("FrameDurationLimits", (33333, 33333))[0] / 1e6
        now = time.monotonic()
        if now < self._next:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + period
        self.frames += 1
        return _Request(self)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        _log("close", frames=self.frames, released=self.released)
