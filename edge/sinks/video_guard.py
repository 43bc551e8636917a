"""Keep a video recording playable when the disk fills up.

An MP4 is only playable once its index (the ``moov`` box) is written, and OpenCV's writer writes it when the
file is closed. The writer reports no error: when one write fails the muxer marks its output broken and every
later write, the index included, is dropped, so the whole recording is lost. ``DiskGuard`` therefore never lets
the disk fill under the writer:

* before each frame the free space must cover the largest write seen so far (the muxer flushes its buffer,
  256 KiB with the FFmpeg inside OpenCV 4.14, in one go) plus two frames and a margin (``check``); when it
  does not, the caller stops and closes the file;
* a hidden reserve file beside the video (``.NAME.PID.reserve``) holds the room the index will need, grown as
  the recording grows, so another writer filling the disk (a JSON lines sink, another program) cannot take
  it; ``release`` deletes it just before the writer is closed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2

from ..errors import SinkError

FLUSH_BYTES = 256 * 1024  # what the muxer writes at once until a larger write is seen
MARGIN_BYTES = 64 * 1024
INDEX_BYTES_PER_FRAME = 32  # sample size + chunk offset + sync table: about 9 bytes a frame in mp4v; 3x that
INDEX_BASE_BYTES = 64 * 1024
_RESERVE_RE = re.compile(r"^\..+\.(\d+)\.reserve$")


def free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


class DiskGuard:
    def __init__(self, path: Path, raw_frame_bytes: int):
        self.path = Path(path)
        self.folder = self.path.parent
        self.largest_write = FLUSH_BYTES
        self.frame_bytes = raw_frame_bytes // 16  # a guess for the first frames (mp4v keyframes are larger)
        self._last_size = 0
        _remove_stale_reserves(self.folder)
        self.reserve_path = self.folder / f".{self.path.name}.{os.getpid()}.reserve"
        self.reserved = 0
        self._grow_reserve(INDEX_BASE_BYTES)

    def needed(self) -> int:
        """Free bytes required before the next frame may be written."""
        return self.largest_write + 2 * self.frame_bytes + MARGIN_BYTES

    def check(self, frames: int) -> None:
        want = INDEX_BASE_BYTES + INDEX_BYTES_PER_FRAME * (frames + 1)
        if want > self.reserved:
            self._grow_reserve(max(want, 2 * self.reserved))
        free = free_bytes(self.folder)
        if free < self.needed():
            raise SinkError(f"{self.folder}: disk full ({free} bytes free, {self.needed()} needed to write "
                            f"frame {frames} of {self.path.name} safely)")

    def wrote(self, frames: int) -> None:
        try:
            size = self.path.stat().st_size
        except OSError:
            return
        self.largest_write = max(self.largest_write, size - self._last_size)
        self._last_size = size
        if size > FLUSH_BYTES:  # past the first flush: four times the mean frame covers keyframes
            self.frame_bytes = max(self.frame_bytes, 4 * size // max(1, frames))

    def _grow_reserve(self, size: int) -> None:
        try:
            fd = os.open(self.reserve_path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, size)
                except OSError as exc:
                    if exc.errno not in (95, 22):  # EOPNOTSUPP, EINVAL: no fallocate here, write zeros
                        raise
                    os.lseek(fd, self.reserved, os.SEEK_SET)
                    os.write(fd, bytes(size - self.reserved))
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            if self.reserved == 0:  # a first reserve that failed holds nothing useful: leave no file behind
                self.reserve_path.unlink(missing_ok=True)
            raise SinkError(f"{self.folder}: disk full: cannot keep {size} bytes for the index of "
                            f"{self.path.name} ({exc.strerror})") from None
        self.reserved = size

    def release(self) -> None:
        self.reserve_path.unlink(missing_ok=True)
        self.reserved = 0


def _remove_stale_reserves(folder: Path) -> None:
    """Reserve files of writers that are gone (killed: SIGKILL, power loss) hold space for nothing."""
    for p in folder.glob(".*.reserve"):
        m = _RESERVE_RE.match(p.name)
        if not m:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            p.unlink(missing_ok=True)
        except PermissionError:
            pass  # someone else's process, alive


def playable_frames(path: Path) -> int:
    """How many frames the container's index lists, when the file opens and its first frame decodes; else 0."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return 0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return count if count > 0 and cap.read()[0] else 0
    finally:
        cap.release()
