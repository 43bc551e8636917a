"""The ``?key=value`` options each sink scheme takes: ``edge.schema.Field`` rows (type, range, meaning),
checked by ``edge.uri_options.check_sink_uri`` before anything is opened (and by ``http://`` when it opens).
A scheme that adds an option declares it here; ``rtsp`` is checked by its opener too
(``edge.uri_options.OPEN_SCHEMES``).
"""

from __future__ import annotations

from ..schema import Field
from .segments import _SEGMENT_RE


def _duration_check(text: str) -> str | None:
    m = _SEGMENT_RE.match(text.strip())
    return None if m and float(m.group(1)) > 0 else "a duration such as 60s, 5m or 1h"


SINK_OPTIONS: dict[str, tuple[Field, ...]] = {
    "file": (Field("segment", str, check=_duration_check, expect="a duration such as 60s, 5m or 1h"),),
    "jsonl": (),
    "masks": (),
    "null": (),
    "display": (),
    "http": (Field("token", str, min=1), Field("max_fps", float, above=0, max=1000,
                                                 expect="a number of frames per second in (0, 1000]")),
    "events": (Field("pre", str, check=lambda t: None if t.strip() in ("0", "0s") else _duration_check(t),
                     expect="a duration such as 5s (seconds of video kept before an event)"),
               Field("post", str, check=lambda t: None if t.strip() in ("0", "0s") else _duration_check(t),
                     expect="a duration such as 5s (seconds of video kept after an event)"),
               Field("max_mb", float, above=0, expect="a positive number of megabytes (clips + snapshots)")),
}
