"""``http://127.0.0.1:8080``: a small live page with the annotated MJPEG stream and the pipeline's stats.

    /              the page (the stream plus a stats table refreshed twice a second)
    /stream.mjpg   multipart/x-mixed-replace JPEG stream of the annotated frames
    /frame.jpg     the latest annotated frame
    /stats.json    FPS, latency p50/p95, drops, per-stage times, queue depths, reconnects

It binds to loopback unless the URI names another host; then a token is required
(``http://0.0.0.0:8080?token=SECRET``, or EDGE_WEB_TOKEN) and every request must carry it (``?token=`` or
``Authorization: Bearer``). Frames are JPEG-encoded at most ``max_fps`` times a second and only while someone
watches, so an idle page costs the pipeline nothing.

Slow, silent or hostile clients cannot hold the sink (see docs/reliability.md, "Live links"): one thread (the
gate, ``edge.sinks.web_gate``) reads every request's headers without blocking, with a deadline (``header_timeout``)
and a cap on connections still sending them (``max_pending``, the oldest dropped first); the token is checked
there, and only a complete, authorised request gets a handler thread, of which at most ``max_clients`` run
(else 503). A client that goes away mid-response is counted (``web`` in /stats.json), never a traceback.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

import cv2

from ..errors import ConfigError, SinkError
from ..network import is_loopback
from ..schema import check_mapping
from .base import Sink, SinkCapabilities, SinkItem
from .options import SINK_OPTIONS
from .web_gate import Gate, GateLimits, SocketWriter

log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>edge live</title>
<style>body{font:14px sans-serif;margin:1em;background:#111;color:#eee}img{max-width:100%%;background:#000}
table{border-collapse:collapse;margin-top:.5em}td{padding:2px 10px;border-bottom:1px solid #333}</style></head>
<body><h1>edge live</h1>
<img id="stream" src="/stream.mjpg%(q)s" alt="annotated stream">
<table id="stats"><tbody>
<tr><td>FPS</td><td id="fps">-</td></tr>
<tr><td>frames</td><td id="frames">-</td></tr>
<tr><td>latency p50 / p95 ms</td><td id="latency">-</td></tr>
<tr><td>drops</td><td id="drops">-</td></tr>
<tr><td>reconnects</td><td id="reconnects">-</td></tr>
<tr><td>stage ms</td><td id="stages">-</td></tr>
</tbody></table>
<script>
const q = %(qjs)s;
async function refresh() {
  try {
    const s = await (await fetch('/stats.json' + q, {cache: 'no-store'})).json();
    document.getElementById('fps').textContent = s.fps.toFixed(1);
    document.getElementById('frames').textContent = s.frames;
    document.getElementById('latency').textContent = s.latency_ms.p50 + ' / ' + s.latency_ms.p95;
    document.getElementById('drops').textContent = s.drops.capture + s.drops.output;
    document.getElementById('reconnects').textContent = s.reconnects;
    document.getElementById('stages').textContent =
      Object.entries(s.stages_ms).map(([k, v]) => k + ' ' + v).join(', ');
  } catch (e) { document.getElementById('fps').textContent = 'offline'; }
}
refresh(); setInterval(refresh, 500);
</script></body></html>
"""


class WebSink(Sink):
    capabilities = SinkCapabilities(stats=True, serves=True)

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, token: str | None = None, max_fps: float = 15.0,
                 quality: int = 80, limits: GateLimits | None = None):
        if not is_loopback(host) and not token:
            raise ConfigError(f"http://{host}:{port}: the page would be reachable from the network; give a token "
                              "(http://HOST:PORT?token=SECRET or EDGE_WEB_TOKEN), or bind 127.0.0.1")
        self.host, self.token, self.max_fps, self.quality = host, token, max_fps, quality
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._seq = 0
        self._last_encode = 0.0
        self.viewers = 0
        self._closed = False
        self.stats = None
        handler = self._handler_class()
        self._gate = Gate(host, port, self._authorised, lambda conn, addr, head: handler(conn, addr, head),
                          limits or GateLimits())
        self.port = self._gate.port
        self.name = f"http://{host}:{self.port}"

    def attach_stats(self, stats) -> None:
        self.stats = stats

    def write(self, item: SinkItem) -> None:
        now = time.monotonic()
        if item.image is None or (self.viewers == 0 and self._jpeg is not None):
            return
        if now - self._last_encode < 1.0 / self.max_fps:
            return
        ok, buf = cv2.imencode(".jpg", item.image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return
        self._last_encode = now
        with self._cond:
            self._jpeg, self._seq = buf.tobytes(), self._seq + 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._gate.close()
        counts = self._gate.counts
        if counts["left"] or counts["timed_out"] or counts["busy"] or counts["refused"]:
            log.warning("%s: %s", self.name, self._gate.describe())

    @property
    def web_stats(self) -> dict:
        """What the gate counted: clients served, left mid-response, timed out, turned away (busy, no token)."""
        return dict(self._gate.counts, active=self._gate.active, pending=self._gate.pending)

    # ------------------------------------------------------------------ HTTP

    def _authorised(self, target: str, headers: dict[str, str]) -> bool:
        """Checked by the gate on the raw request line and headers, before any handler thread exists."""
        if not self.token:
            return True
        query = dict(parse_qsl(urlsplit(target).query))
        given = query.get("token") or headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _handler_class(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            """One request whose headers the gate has already read (``head``); the socket is blocking with a
            write time-out, so a client that stops reading frees its thread."""

            def __init__(self, conn, addr, head: bytes):
                self._head = head
                super().__init__(conn, addr, None)

            def setup(self) -> None:
                self.connection = self.request
                self.rfile = io.BytesIO(self._head)
                self.wfile = SocketWriter(self.connection)

            def finish(self) -> None:
                self.wfile.close()

            def log_message(self, fmt, *args) -> None:  # keep the pipeline's stderr readable
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                q = f"?token={sink.token}" if sink.token else ""
                if parts.path == "/":
                    body = _PAGE % {"q": q, "qjs": json.dumps(q)}
                    self._send(200, "text/html; charset=utf-8", body.encode())
                elif parts.path == "/stats.json":
                    stats = sink.stats.snapshot() if sink.stats is not None else {}
                    stats = dict(stats, web=sink.web_stats)
                    self._send(200, "application/json", json.dumps(stats).encode())
                elif parts.path == "/frame.jpg":
                    if sink._jpeg is None:
                        self._send(503, "text/plain", b"no frame yet\n")
                    else:
                        self._send(200, "image/jpeg", sink._jpeg)
                elif parts.path == "/stream.mjpg":
                    self._stream()
                else:
                    self._send(404, "text/plain", b"not found\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                seen = -1
                with sink._cond:
                    sink.viewers += 1
                try:
                    while True:
                        with sink._cond:
                            sink._cond.wait_for(lambda: sink._closed or sink._seq != seen, timeout=1.0)
                            if sink._closed:
                                return
                            if sink._seq == seen or sink._jpeg is None:
                                continue
                            jpeg, seen = sink._jpeg, sink._seq
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                        self.wfile.flush()
                finally:
                    with sink._cond:
                        sink.viewers -= 1

        return Handler


def open_web(uri: str, rest: str) -> WebSink:
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query))
    unknown = set(query) - {"token", "max_fps"}
    if unknown:
        raise SinkError(f"{uri!r}: unknown option(s) {', '.join(sorted(unknown))}; http:// takes token=, max_fps=")
    try:
        port = parts.port if parts.port is not None else 8080
    except ValueError:
        raise SinkError(f"{uri!r}: the port must be a number 0..65535") from None
    token = query.get("token") or os.environ.get("EDGE_WEB_TOKEN") or None
    options = check_mapping(query, SINK_OPTIONS["http"], f"sink {uri!r}", error=SinkError, from_text=True, word="option")
    max_fps = options.get("max_fps", 15.0)  # a number > 0: it divides the frame interval
    return WebSink(parts.hostname or "127.0.0.1", port, token, max_fps)
