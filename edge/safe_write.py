"""Writes that never destroy what is already on disk.

* ``LineAppender``: a JSON lines file (or any text lines) opened for APPEND, never truncated. Each line goes
  out whole in one ``os.write``; when a write fails (disk full, file-size limit) the file is cut back to the
  end of the last complete line and a ``SinkError`` is raised, so the file never ends in a partial line.
  A partial last line left by an earlier run that was killed or lost power is cut off when the file is opened.
* ``replace_atomically``: a file replaced as a whole (a snapshot image, a summary): written beside the target
  under a hidden temporary name and renamed over it, so readers see the old file or the new one, never half.
* ``unused_path``: the name a new recording gets when the asked-for one is taken by an earlier run
  (``out.mp4`` -> ``out-20261201-235959.mp4``), so a service restart never overwrites a recording.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

from .errors import SinkError

log = logging.getLogger(__name__)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class LineAppender:
    """Whole lines appended to ``path``; ``fsync_every_s`` bounds what a power cut can take (0 = every line)."""

    def __init__(self, path: Path, fsync_every_s: float = 1.0):
        self.path = Path(path)
        self.fsync_every_s = fsync_every_s
        self.lines = 0  # lines written by this run
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot open for writing ({_reason(exc)})") from None
        self._regular = stat.S_ISREG(os.fstat(self._fd).st_mode)  # a device or pipe has no tail to cut
        self.dropped_tail = self._cut_partial_tail() if self._regular else 0
        self.size = os.fstat(self._fd).st_size
        self.kept_bytes = self.size  # what earlier runs left, kept as it is
        self._synced = time.monotonic()

    def _cut_partial_tail(self) -> int:
        """Cut an unfinished last line (no newline: the earlier writer died mid-line); returns its length."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return 0
        with open(self.path, "rb") as fh:
            end = size
            while end > 0:
                start = max(0, end - 65536)
                fh.seek(start)
                chunk = fh.read(end - start)
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    keep = start + cut + 1
                    break
                end = start
            else:
                keep = 0
        if keep < size:
            os.ftruncate(self._fd, keep)
            log.warning("%s: cut an incomplete last line (%d bytes) left by an earlier run that stopped "
                        "mid-write", self.path, size - keep)
        return size - keep

    def append(self, line: str) -> None:
        if "\n" in line:
            raise ValueError("LineAppender.append: one line at a time, without a newline")
        data = (line + "\n").encode("utf-8")
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])  # a short write is followed by the real error
        except OSError as exc:
            self._cut_back()
            raise SinkError(f"{self.path}: write failed ({_reason(exc)}) after {self.lines} line(s) of this run; "
                            f"the file ends at the last complete line") from None
        self.size += len(data)
        self.lines += 1
        if time.monotonic() - self._synced >= self.fsync_every_s:
            self.sync()

    def _cut_back(self) -> None:
        if not self._regular:
            return
        try:
            os.ftruncate(self._fd, self.size)
        except OSError as exc:
            raise SinkError(f"{self.path}: write failed and the partial line could not be cut off "
                            f"({_reason(exc)})") from None

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError:
            pass  # a file system without fsync (a pipe, /dev/null): nothing more to make durable
        self._synced = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as a whole; on failure the earlier ``path`` is left as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SinkError(f"{path}: cannot write ({_reason(exc)}); the earlier file is unchanged") from None


def unused_path(path: Path, now: float | None = None) -> Path:
    """``path`` when it is free, else ``STEM-YYYYmmdd-HHMMSS[-N]SUFFIX`` beside it (local time)."""
    path = Path(path)
    if not path.exists():
        return path
    stamp = run_stamp(now)
    candidate = path.with_name(f"{path.stem}-{stamp}{path.suffix}")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{stamp}-{n}{path.suffix}")
        n += 1
    return candidate


def make_durable(path: Path) -> None:
    """fsync a closed file and its folder entry, so a power cut after this keeps it (best effort)."""
    for target, flags in ((path, os.O_RDONLY), (Path(path).parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))):
        try:
            fd = os.open(target, flags)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def run_stamp(now: float | None = None) -> str:
    """The local date and time that names what a run writes beside an earlier run's files."""
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
