"""Sources and sinks declare what they can do (``capabilities``, edge/sources/base.py and edge/sinks/base.py);
the pipeline reads the declarations and never probes an object for methods."""

from __future__ import annotations

import ast
from pathlib import Path

import cv2
import numpy as np

from edge.sinks import SinkCapabilities, open_sink
from edge.sinks.display import DisplaySink
from edge.sinks.events import EventSink
from edge.sinks.rtsp import RtspSink
from edge.sinks.web import WebSink
from edge.sources import SourceCapabilities, open_source
from edge.sources.camera import GstProcessSource, Picamera2Source
from edge.sources.reconnect import Reconnecting

REPO = Path(__file__).resolve().parents[2]


def test_sources_declare_live_lores_and_reconnects(tmp_path):
    with open_source("synthetic://?width=32&height=24&fps=0&frames=2") as synthetic:
        assert synthetic.capabilities == SourceCapabilities(live=True)
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    with open_source(str(image)) as still:
        assert still.capabilities == SourceCapabilities()  # a file: not live, no lores, no reconnects
        assert still.take_gap() is None and still.ended_early is None
        still.stop()  # a no-op for a source that never waits
    assert Picamera2Source.capabilities == SourceCapabilities(live=True, lores=True)
    assert GstProcessSource.capabilities.live and not GstProcessSource.capabilities.reconnects
    assert Reconnecting.capabilities == SourceCapabilities(live=True, reconnects=True)


def test_sinks_declare_what_they_need(tmp_path):
    for uri, expected in ((f"jsonl://{tmp_path / 'a.jsonl'}", SinkCapabilities(needs_image=False)),
                          (f"file://{tmp_path / 'b.jpg'}", SinkCapabilities()),
                          (f"masks://{tmp_path / 'masks'}", SinkCapabilities(needs_image=False)),
                          ("null://", SinkCapabilities(needs_image=False))):
        with open_sink(uri) as sink:
            assert sink.capabilities == expected, uri
    assert WebSink.capabilities == SinkCapabilities(stats=True, serves=True)
    assert RtspSink.capabilities == SinkCapabilities(serves=True)
    assert DisplaySink.capabilities == SinkCapabilities(main_thread=True)
    assert EventSink.capabilities == SinkCapabilities()


def test_file_is_registered_once_and_opens_every_file_sink(tmp_path):
    from edge import sinks

    text = (REPO / "edge" / "sinks" / "__init__.py").read_text()
    assert text.count('register_sink("file"') == 1
    assert type(sinks.open_sink(f"file://{tmp_path / 'v.mp4'}?segment=1s")).__name__ == "SegmentedVideoSink"
    assert type(sinks.open_sink(f"file://{tmp_path}/")).__name__ == "ImageFolderSink"
    with sinks.open_sink(f"file://{tmp_path / 'lines.jsonl'}") as lines:
        assert type(lines).__name__ == "JsonlSink"


def test_the_pipeline_never_probes_a_source_or_sink():
    for name in ("pipeline.py", "pipeline_cli.py"):
        tree = ast.parse((REPO / "edge" / name).read_text())
        probes = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr")
                  and isinstance(node.args[0], ast.Attribute | ast.Name)
                  and any(w in ast.unparse(node.args[0]) for w in ("source", "sink", "frame"))]
        assert not probes, f"edge/{name}: hasattr/getattr on a source, sink or frame at lines {probes}"
