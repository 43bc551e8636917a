"""The ``?key=value`` options each source scheme takes: ``edge.schema.Field`` rows (type, range, meaning),
checked by ``edge.uri_options.check_source_uri`` before anything is opened. A scheme that adds an option
declares it here; ``rtsp`` and ``gst`` are checked by their openers too (``edge.uri_options.OPEN_SCHEMES``).
"""

from __future__ import annotations

from ..schema import Field

_SIZE = dict(min=16, max=8192)
_OPEN_TIMEOUT = Field("open_timeout", float, min=0, max=86400, doc="seconds to wait for a device absent at start")


def _fourcc_check(text: str) -> str | None:
    return None if len(text) == 4 and text.isascii() else "4 characters such as MJPG or YUYV"


SOURCE_OPTIONS: dict[str, tuple[Field, ...]] = {
    "file": (Field("loop", str, choices=("0", "1")),
             Field("max_fps", float, above=0, max=1000, doc="hand out at most this many frames a second")),
    "synthetic": (Field("width", int, **_SIZE), Field("height", int, **_SIZE), Field("fps", float, min=0, max=1000),
                  Field("frames", int, min=1)),
    "v4l2": (Field("width", int, **_SIZE), Field("height", int, **_SIZE), Field("fps", int, min=1, max=1000),
             Field("fourcc", str, check=_fourcc_check, expect="4 characters such as MJPG or YUYV"), _OPEN_TIMEOUT),
    "csi": (Field("width", int, **_SIZE), Field("height", int, **_SIZE), Field("fps", int, min=1, max=1000),
            Field("flip", int, min=0, max=7, doc="nvvidconv flip-method"), _OPEN_TIMEOUT),
    "picamera2": (Field("width", int, **_SIZE), Field("height", int, **_SIZE), Field("fps", int, min=1, max=1000)),
    "rtsp": (_OPEN_TIMEOUT,),
    "gst": (),
}
