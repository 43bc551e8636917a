"""What sources and sinks share about a URI: its scheme and the rest (``split_uri``), and which file
extensions are images (read by ``file://`` sources, written by ``file://`` and ``masks://`` sinks)."""

from __future__ import annotations

from urllib.parse import urlsplit

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def split_uri(uri: str) -> tuple[str, str]:
    """('file', 'path') for 'file://path' or a plain path; ('rtsp', 'host/x') for 'rtsp://host/x'."""
    if "://" not in uri:
        return "file", uri
    scheme = urlsplit(uri).scheme.lower()
    return scheme, uri.split("://", 1)[1]
