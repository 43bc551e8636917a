"""Result sinks, chosen by URI scheme; the last stage of the data path (source -> pipeline -> sinks).

* ``base``: ``SinkItem`` (what each frame hands a sink), the ``Sink`` interface and the capabilities a sink
  declares;
* ``files``: ``file://out.mp4`` (annotated video), ``file://out.jpg`` (the latest frame), ``file://folder/``
  (one image per frame), ``jsonl://out.jsonl`` (one JSON object per frame); ``segments``: ``file://out.mp4?
  segment=60s``; ``video_guard``: the disk guard that keeps every video playable when the disk fills;
* ``masks``: ``masks://DIR``, segmentation class maps and instance masks as PNGs;
* ``events``: ``events://DIR``, zone and line events with snapshots and clips;
* ``display``: ``display://`` (a window) and ``null://`` (discard: benchmarks);
* ``web`` (+ ``web_gate``): ``http://HOST:PORT``, a live page; ``rtsp`` (+ ``rtsp_server``): ``rtsp://``, H.264;
* ``options``: the ``?key=value`` options each scheme takes (checked by ``edge.uri_options``).

``open_sink(uri)`` opens one; new schemes use ``register_sink("scheme", factory)``. Every sink module but
``files`` (and the ``segments`` and ``video_guard`` it uses) is imported only when its scheme is opened.
"""

from __future__ import annotations

import importlib
from typing import Callable

from ..errors import SinkError
from ..uri import split_uri
from .base import Sink, SinkCapabilities, SinkItem
from .files import VIDEO_SUFFIXES, open_file_uri, open_jsonl

__all__ = ["VIDEO_SUFFIXES", "Sink", "SinkCapabilities", "SinkItem", "open_sink", "register_sink"]

_FACTORIES: dict[str, Callable[[str, str], Sink]] = {}


def register_sink(scheme: str, factory: Callable[[str, str], Sink]) -> None:
    """``factory(uri, rest)`` is called with the whole URI and the part after ``scheme://``."""
    _FACTORIES[scheme] = factory


register_sink("file", open_file_uri)  # a video (?segment= too), an image, a folder of images, .jsonl
register_sink("jsonl", open_jsonl)
register_sink("masks", lambda uri, rest: importlib.import_module("edge.sinks.masks").open_mask_sink(uri, rest))
register_sink("null", lambda uri, rest: importlib.import_module("edge.sinks.display").NullSink())
register_sink("display", lambda uri, rest: importlib.import_module("edge.sinks.display").open_display(uri, rest))
register_sink("http", lambda uri, rest: importlib.import_module("edge.sinks.web").open_web(uri, rest))
register_sink("rtsp", lambda uri, rest: importlib.import_module("edge.sinks.rtsp").open_rtsp_sink(uri, rest))
register_sink("events", lambda uri, rest: importlib.import_module("edge.sinks.events").open_event_sink(uri, rest))


def open_sink(uri: str) -> Sink:
    scheme, rest = split_uri(uri)
    if scheme not in _FACTORIES:
        raise SinkError(f"sink {uri!r}: unknown scheme {scheme!r}; known: {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[scheme](uri, rest)
