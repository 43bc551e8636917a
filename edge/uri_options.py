"""The ``?key=value`` options of every source and sink URI, checked before anything is opened.

``edge run`` calls ``check_source_uri`` and ``check_sink_uri`` on every URI right after reading its options,
before a model, camera, server thread or file is opened, so ``http://127.0.0.1:8080?max_fps=0`` or
``v4l2:///dev/video0?width=wide`` is a one-line error at start-up instead of a crash on the first frame.
The openers (edge.sources, edge.sinks and their modules) keep their own checks. The declared types and
ranges (``edge.schema.Field`` rows per scheme) are in ``edge.sources.options`` and ``edge.sinks.options``;
this module checks URIs against them and makes the cross-checks between URIs (two sinks writing one file,
a sink overwriting the source). An option not declared for its scheme is an error naming the options it
takes, except for the schemes in ``OPEN_SCHEMES`` (whose openers check their own).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import SinkError, SourceError
from .network import is_loopback
from .schema import check_mapping
from .sinks import _FACTORIES as _SINK_FACTORIES
from .sinks import VIDEO_SUFFIXES
from .sinks.options import SINK_OPTIONS
from .sources import _FACTORIES as _SOURCE_FACTORIES
from .sources.options import SOURCE_OPTIONS
from .uri import IMAGE_SUFFIXES

# Schemes whose options are checked by their openers only (a GStreamer pipeline, an RTSP server's own query).
OPEN_SCHEMES = {"rtsp", "gst"}


def _query(uri: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(uri).query, keep_blank_values=True))


def _scheme(uri: str) -> str:
    return urlsplit(uri).scheme.lower() if "://" in uri else "file"


def check_source_uri(uri: str) -> dict:
    """The source URI's known options, converted; SourceError naming the URI, option and what was expected."""
    if not isinstance(uri, str) or not uri:
        raise SourceError(f"source {uri!r}: expected a URI such as file://clip.mp4 or v4l2:///dev/video0")
    scheme = _scheme(uri)
    if scheme not in _SOURCE_FACTORIES:
        raise SourceError(f"source {uri!r}: unknown scheme {scheme!r}; known: {', '.join(sorted(_SOURCE_FACTORIES))}")
    if scheme == "file" and "://" not in uri:
        return {}  # a plain path: a literal '?' may be part of a file name
    return check_mapping(_query(uri), SOURCE_OPTIONS.get(scheme, ()), f"source {uri!r}", error=SourceError,
                         from_text=True, allow_unknown=scheme in OPEN_SCHEMES or scheme not in SOURCE_OPTIONS,
                         word="option")


def check_sink_uri(uri: str, local: bool = True) -> dict:
    """The sink URI's known options, converted; for file sinks on this machine (``local``), that the folder
    to write into exists."""
    if not isinstance(uri, str) or not uri:
        raise SinkError(f"sink {uri!r}: expected a URI such as file://out.mp4 or jsonl://out.jsonl")
    scheme = _scheme(uri)
    if scheme not in _SINK_FACTORIES:
        raise SinkError(f"sink {uri!r}: unknown scheme {scheme!r}; known: {', '.join(sorted(_SINK_FACTORIES))}")
    options = check_mapping(_query(uri), SINK_OPTIONS.get(scheme, ()), f"sink {uri!r}", error=SinkError,
                            from_text=True, allow_unknown=scheme in OPEN_SCHEMES or scheme not in SINK_OPTIONS,
                            word="option")
    if scheme == "http":
        try:
            urlsplit(uri).port
        except ValueError:
            raise SinkError(f"sink {uri!r}: the port must be a number 0..65535") from None
    if scheme == "http" and local:  # a device's service may carry EDGE_WEB_TOKEN in its environment
        _check_web_exposure(uri, options)
    path = sink_file(uri)
    if path is not None and scheme == "file":
        if path.suffix.lower() not in (*VIDEO_SUFFIXES, *IMAGE_SUFFIXES, ".jsonl"):
            raise SinkError(f"sink {uri!r}: cannot tell what to write from the extension {path.suffix!r}; expected a "
                            f"video ({', '.join(VIDEO_SUFFIXES)}), an image ({', '.join(IMAGE_SUFFIXES)}), a "
                            f"folder (file://DIR/), or jsonl://FILE")
    if local and path is not None and not path.parent.is_dir():
        raise SinkError(f"sink {uri!r}: the folder {path.parent} does not exist")
    return options


def _check_web_exposure(uri: str, options: dict) -> None:
    """A page bound beyond loopback needs a token (the web sink refuses it too, but only once it opens)."""
    host = urlsplit(uri).hostname or "127.0.0.1"
    if not is_loopback(host) and not (options.get("token") or os.environ.get("EDGE_WEB_TOKEN")):
        raise SinkError(f"sink {uri!r}: the page would be reachable from the network; give a token "
                        f"(http://HOST:PORT?token=SECRET or EDGE_WEB_TOKEN), or bind 127.0.0.1")


def sink_file(uri: str) -> Path | None:
    """The one file a file:// or jsonl:// sink writes (None for folders and other schemes)."""
    scheme = _scheme(uri)
    if scheme not in ("file", "jsonl"):
        return None
    rest = uri.split("://", 1)[1] if "://" in uri else uri
    text = unquote(rest.split("?", 1)[0])
    if not text or text.endswith("/"):
        return None
    path = Path(text).expanduser()
    if path.is_dir() or (scheme == "file" and not path.suffix):
        return None
    return path


def check_uris(source: str, sinks: list[str]) -> None:
    """Every URI's options, then the cross-checks: no two sinks write the same file, no sink overwrites the
    source file."""
    check_source_uri(source)
    seen: dict[Path, str] = {}
    src = sink_file(source) if _scheme(source) == "file" else None
    for uri in sinks:
        check_sink_uri(uri)
        path = sink_file(uri)
        if path is None:
            continue
        key = path.resolve()
        if key in seen:
            raise SinkError(f"sinks {seen[key]!r} and {uri!r} both write {path}; give each sink its own file")
        if src is not None and src.exists() and key == src.resolve():
            raise SinkError(f"sink {uri!r} would overwrite the source {source!r}")
        seen[key] = uri
