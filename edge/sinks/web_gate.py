"""The web sink's front door: reads request headers without a thread per client, then hands complete,
authorised requests to a bounded number of handler threads.

One thread owns the listening socket and every connection that is still sending its request line and
headers (a ``selectors`` loop over non-blocking sockets). A connection is dropped when its headers are not
complete after ``header_timeout`` seconds, when they grow past ``max_header_bytes``, or, when more than
``max_pending`` connections are waiting, oldest first, so silent or half-open sockets cost a file descriptor
each for a few seconds and never a thread. The token is checked here, on the raw request, before anything
else is done for the client. A complete, authorised request gets a handler thread if fewer than
``max_clients`` are running, else a 503. A client that goes away mid-response (broken pipe, reset, write
time-out) is counted in ``counts["left"]`` and logged at debug level only: it is a normal event.
"""

from __future__ import annotations

import io
import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable

from ..errors import SinkError

log = logging.getLogger(__name__)

# what a client going away looks like from the writing side
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class GateLimits:
    header_timeout: float = 5.0  # seconds a client has to send its whole request line and headers
    max_pending: int = 256  # connections still sending headers; beyond it the oldest is dropped
    max_clients: int = 32  # handler threads (streams and requests together); beyond it: 503
    write_timeout: float = 10.0  # a response write that does not complete in this long ends the client
    max_header_bytes: int = 16384


@dataclass
class _Pending:
    addr: tuple
    deadline: float
    data: bytearray


class SocketWriter(io.RawIOBase):
    """``wfile`` for a handler: every write is a ``sendall`` (a plain socket file may write partially)."""

    def __init__(self, sock: socket.socket):
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._sock.sendall(data)
        return len(data)


def parse_head(head: bytes) -> tuple[str, dict[str, str]] | None:
    """The request target and the headers (lower-case names) of a complete request head; None if malformed."""
    lines = head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    words = lines[0].split()
    if len(words) != 3 or not words[2].startswith(b"HTTP/"):
        return None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return words[1].decode("latin-1"), headers


class Gate:
    def __init__(self, host: str, port: int, authorised: Callable[[str, dict], bool],
                 serve: Callable[[socket.socket, tuple, bytes], None], limits: GateLimits):
        self.limits, self._authorised, self._serve = limits, authorised, serve
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._listen = socket.create_server((host, port), family=family, backlog=128)
        except OSError as exc:
            raise SinkError(f"http://{host}:{port}: cannot listen ({exc.strerror or exc})") from None
        self._listen.setblocking(False)
        self.port = self._listen.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listen, selectors.EVENT_READ)
        self._pending: dict[socket.socket, _Pending] = {}  # insertion order = deadline order
        self._lock = threading.Lock()
        self.active = 0
        self.counts = {"served": 0, "left": 0, "timed_out": 0, "dropped_pending": 0, "busy": 0, "refused": 0,
                       "bad": 0, "errors": 0}
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="edge-web", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    # ------------------------------------------------------------------ the gate thread

    def _loop(self) -> None:
        while not self._closing:
            for key, _ in self._sel.select(0.25):
                if key.fileobj is self._listen:
                    self._accept()
                else:
                    self._receive(key.fileobj)
            self._expire(time.monotonic())

    def _accept(self) -> None:
        for _ in range(64):
            try:
                conn, addr = self._listen.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: wait for the next round
                log.debug("accept failed: %s", exc)
                return
            conn.setblocking(False)
            if len(self._pending) >= self.limits.max_pending:
                self._drop(next(iter(self._pending)), "dropped_pending")
            self._pending[conn] = _Pending(addr, time.monotonic() + self.limits.header_timeout, bytearray())
            self._sel.register(conn, selectors.EVENT_READ)

    def _receive(self, conn: socket.socket) -> None:
        entry = self._pending.get(conn)
        if entry is None:
            return
        try:
            data = conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn, "left")
            return
        entry.data += data
        if b"\r\n\r\n" not in entry.data:
            if len(entry.data) > self.limits.max_header_bytes:
                self._drop(conn, "bad", b"431 Request Header Fields Too Large")
            return
        self._sel.unregister(conn)
        del self._pending[conn]
        head = bytes(entry.data)
        parsed = parse_head(head)
        if parsed is None:
            self._reply_and_close(conn, "bad", b"400 Bad Request")
        elif not self._authorised(*parsed):
            self._reply_and_close(conn, "refused", b"401 Unauthorized", b"a valid token is required\n")
        else:
            with self._lock:
                busy = self.active >= self.limits.max_clients
                if not busy:
                    self.active += 1
            if busy:
                self._reply_and_close(conn, "busy", b"503 Service Unavailable", b"too many clients, retry\n")
                return
            conn.setblocking(True)
            conn.settimeout(self.limits.write_timeout)
            threading.Thread(target=self._run, args=(conn, entry.addr, head), name="edge-web-client",
                             daemon=True).start()

    def _expire(self, now: float) -> None:
        while self._pending:
            conn, entry = next(iter(self._pending.items()))
            if entry.deadline > now:
                return
            self._drop(conn, "timed_out")

    def _drop(self, conn: socket.socket, why: str, status: bytes | None = None) -> None:
        self._pending.pop(conn, None)
        try:
            self._sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        if status is not None:
            self._reply_and_close(conn, why, status)
            return
        self._count(why)
        conn.close()

    def _reply_and_close(self, conn: socket.socket, why: str, status: bytes, body: bytes = b"") -> None:
        self._count(why)
        try:  # best effort, never blocking the gate: the socket is still non-blocking here
            conn.setblocking(False)
            conn.send(b"HTTP/1.0 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: "
                      + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        except OSError:
            pass
        conn.close()

    # ------------------------------------------------------------------ handler threads

    def _run(self, conn: socket.socket, addr: tuple, head: bytes) -> None:
        try:
            self._serve(conn, addr, head)
            self._count("served")
        except CLIENT_GONE as exc:
            self._count("left")
            log.debug("web client %s left: %s", addr[0], type(exc).__name__)
        except OSError as exc:
            self._count("left")
            log.debug("web client %s: %s", addr[0], exc)
        except Exception as exc:  # a bug in a handler: one line, never a traceback flood
            self._count("errors")
            log.warning("web request from %s failed: %s: %s", addr[0], type(exc).__name__, exc)
        finally:
            with self._lock:
                self.active -= 1
            try:
                conn.close()
            except OSError:
                pass

    def describe(self) -> str:
        c = self.counts
        return (f"web clients: {c['served']} served, {c['left']} left mid-response, {c['timed_out']} timed out "
                f"before completing a request, {c['dropped_pending']} dropped (too many waiting), {c['busy']} "
                f"turned away (busy), {c['refused']} without a valid token, {c['bad']} malformed")

    def close(self) -> None:
        self._closing = True
        self._thread.join(5)
        for conn in list(self._pending):
            self._pending.pop(conn, None)
            conn.close()
        self._sel.close()
        self._listen.close()
