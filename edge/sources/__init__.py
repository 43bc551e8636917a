"""Frame sources, chosen by URI scheme; the first stage of the data path (source -> pipeline -> sinks).

* ``base``: ``Frame``, the ``Source`` interface and the capabilities a source declares;
* ``files``: ``file://`` clips, images, folders, globs and list files (``?loop=1``), a plain path too;
* ``synthetic``: ``synthetic://``, a paced test pattern (a camera stand-in);
* ``camera``: ``picamera2://``, ``v4l2://``, ``csi://``, ``gst://``, ``rtsp://``, opened through
  ``reconnect`` (reopened with back-off when they fail, the gap recorded).

``open_source(uri)`` opens one; new schemes register a factory with ``register_source("scheme", factory)``.
Camera and synthetic modules are imported only when their scheme is opened.
"""

from __future__ import annotations

import importlib
from typing import Callable

from ..errors import SourceError
from ..uri import IMAGE_SUFFIXES, split_uri
from .base import Frame, Source, SourceCapabilities
from .files import open_file, open_file_uri

__all__ = ["IMAGE_SUFFIXES", "Frame", "Source", "SourceCapabilities", "open_file", "open_source", "register_source",
           "split_uri"]

_FACTORIES: dict[str, Callable[[str, str], Source]] = {}


def register_source(scheme: str, factory: Callable[[str, str], Source]) -> None:
    """``factory(uri, rest)`` is called with the whole URI and the part after ``scheme://``."""
    _FACTORIES[scheme] = factory


register_source("file", lambda uri, rest: open_file_uri(rest))
register_source("synthetic", lambda uri, rest: importlib.import_module("edge.sources.synthetic").open_synthetic(uri, rest))
for _scheme in ("picamera2", "v4l2", "csi", "gst", "rtsp"):  # cameras and streams, reopened when they fail
    register_source(_scheme, lambda uri, rest: importlib.import_module("edge.sources.camera").open_live(uri, rest))


def open_source(uri: str) -> Source:
    scheme, rest = split_uri(uri)
    if scheme not in _FACTORIES:
        raise SourceError(f"source {uri!r}: unknown scheme {scheme!r}; known: {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[scheme](uri, rest)
