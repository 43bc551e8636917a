"""The live page in real headless Chromium: it loads, the stream's image changes, the stats update.

Chromium is driven through its DevTools protocol over a WebSocket; the few lines of WebSocket framing needed
for that live here (stdlib only).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess
import time
import urllib.request

import pytest

from .pipeline_helpers import edge_cmd, edge_env, ensure_tool

pytestmark = pytest.mark.browser

SNAPSHOT_JS = """(() => {
  const img = document.getElementById('stream');
  if (!img || !img.naturalWidth) return JSON.stringify({w: 0, h: 0, hash: 0, frames: '-', fps: '-'});
  const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data; let h = 0;
  for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) >>> 0;
  return JSON.stringify({w: c.width, h: c.height, hash: h,
                         frames: document.getElementById('frames').textContent,
                         fps: document.getElementById('fps').textContent});
})()"""


class DevTools:
    """A minimal WebSocket client (RFC 6455, text frames) for one DevTools target."""

    def __init__(self, ws_url: str):
        host_port, path = ws_url[len("ws://"):].split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self._id = 0

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            buf += chunk
        return buf

    def _recv(self) -> dict:
        b0, b1 = self._recv_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._recv_exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._recv_exact(8))[0]
        return json.loads(self._recv_exact(n))

    def call(self, method: str, **params) -> dict:
        self._id += 1
        data = json.dumps({"id": self._id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        header = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126 else
                                  bytes([0x80 | 126]) + struct.pack(">H", len(data)))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        while True:
            msg = self._recv()
            if msg.get("id") == self._id:
                return msg

    def evaluate(self, expression: str):
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"]
        if "exceptionDetails" in reply:
            raise AssertionError(f"page script failed: {reply['exceptionDetails']}")
        return reply["result"]["value"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, seconds: float = 60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            return urllib.request.urlopen(url, timeout=2).read()
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


def test_live_page_in_headless_chromium(ssd, tmp_path):
    chromium = ensure_tool("chromium", "chromium")
    web_port, dt_port = _free_port(), _free_port()
    run = subprocess.Popen(edge_cmd("run", "--model", str(ssd), "--threads", "1", "--source",
                                    "synthetic://?width=320&height=240&fps=15", "--sink",
                                    f"http://127.0.0.1:{web_port}", "--quiet"),
                           env=edge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    browser = None
    try:
        _wait_http(f"http://127.0.0.1:{web_port}/stats.json")
        browser = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                    "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
                                    f"--remote-debugging-port={dt_port}", f"http://127.0.0.1:{web_port}/"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        targets = json.loads(_wait_http(f"http://127.0.0.1:{dt_port}/json"))
        page = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        deadline, first = time.time() + 30, None
        while time.time() < deadline:
            snap = json.loads(tools.evaluate(SNAPSHOT_JS))
            if snap["w"] == 320 and snap["frames"] not in ("-", ""):
                first = snap
                break
            time.sleep(0.3)
        assert first is not None, "the page never showed the stream and the stats"
        time.sleep(2.0)
        second = json.loads(tools.evaluate(SNAPSHOT_JS))
        assert second["hash"] != first["hash"], "the stream image did not change"
        assert int(second["frames"]) > int(first["frames"]), "the stats did not update"
        assert float(second["fps"]) > 0
    finally:
        if browser is not None:
            browser.terminate()
            browser.wait(10)
        run.terminate()
        run.communicate(timeout=60)
    assert run.returncode == 0


@pytest.mark.parametrize("host, token, code", [("127.0.0.1", None, 200), ("127.0.0.1", "s3cret", 401)])
def test_token_is_checked(host, token, code):
    from edge.sinks.web import WebSink

    sink = WebSink(host, 0, token)
    try:
        try:
            status = urllib.request.urlopen(f"http://{host}:{sink.port}/stats.json", timeout=5).status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == code
        if token:
            ok = urllib.request.urlopen(f"http://{host}:{sink.port}/stats.json?token={token}", timeout=5)
            assert ok.status == 200
    finally:
        sink.close()


def test_exposed_without_token_is_refused():
    from edge.errors import ConfigError
    from edge.sinks.web import WebSink

    with pytest.raises(ConfigError, match="give a token"):
        WebSink("0.0.0.0", 0, None)
