"""File sources: ``file://clip.mp4``, ``file://photo.jpg``, ``file://folder/``,
``file://shots/*.jpg`` (a glob, sorted; images and videos play one after another), ``file://val.txt`` (a list:
one image or video path per line, relative to the list's folder; ``#`` comments and blank lines skipped; a
VOC split file ``ROOT/ImageSets/<kind>/<split>.txt`` of bare ids names ``ROOT/JPEGImages/<id>.jpg``), and
``?loop=1`` to start again at the end (frame numbers keep counting), ``?max_fps=N`` to hand out at most N
frames a second (every frame, in order: the reader waits; a file standing in for a camera on a device whose
service should not spin the CPU). A literal ``?`` in a file name is written ``%3F``.

A plain path means ``file://``. File sources are not live (the pipeline waits for them, nothing is dropped).
"""

from __future__ import annotations

import glob
import logging
import time
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, unquote

import cv2

from ..errors import SourceError
from ..uri import IMAGE_SUFFIXES
from .base import Frame, Source

log = logging.getLogger(__name__)


class VideoFileSource(Source):
    """A video file. A damaged stretch does not end it: frames that cannot be decoded are skipped and counted,
    and the next good frame carries ``damaged`` (how many were skipped, between which times); its ``index`` is
    its position in the clip, so the gap shows in the frame numbers too. OpenCV's reader fails once per bad
    packet and then goes on, so a failed read is retried while the container's index lists frames not yet
    accounted for (``MAX_MISSES`` times when it lists none). A clip that ends before the frames its index
    lists (truncated, or damaged to the end) sets ``ended_early`` and logs a warning."""

    MAX_MISSES = 32

    def __init__(self, path: Path):
        self.path, self.name = path, path.name
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            self._cap.release()
            if mp4_without_index(path):
                raise SourceError(f"{path}: an MP4 without its index (no moov box): a recording cut off before "
                                  f"it was closed (killed, power lost or disk full while writing); it cannot be read")
            raise SourceError(f"{path}: cannot open as a video (not a video file, or a codec OpenCV lacks)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None
        self.listed = max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))  # 0: the container does not say
        self._index = 0
        self._last_ms: float | None = None
        self._start_ms: float | None = None
        self.skipped = 0
        self.ended_early: dict | None = None
        self._first = self._grab()
        if self._first is None:
            self.close()
            raise SourceError(f"{path}: opened as a video but no frame could be decoded")

    def _may_retry(self, misses: int) -> bool:
        if self.listed:
            return self._index + misses <= self.listed
        return misses <= self.MAX_MISSES

    def _grab(self) -> Frame | None:
        misses = 0
        while True:
            ok, img = self._cap.read()
            if ok and img is not None:
                break
            misses += 1
            if not self._may_retry(misses):
                self._ended()
                return None
        ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        if self._start_ms is None:
            self._start_ms = ms if not misses else 0.0  # a damaged start: count from the stream's zero
        damaged, index = None, self._index
        if misses:  # at least one frame per failed read; the time stamps tell when a gap held more
            index = self._index + misses
            if self.fps and ms >= 0:
                index = max(index, round((ms - self._start_ms) * self.fps / 1000.0))
            damaged = {"skipped_frames": index - self._index, "from_ms": self._last_ms, "to_ms": round(ms, 1)}
            self.skipped += index - self._index
            where = "at the start" if self._last_ms is None else f"{self._last_ms:.0f} ms to {ms:.0f} ms"
            log.warning("%s: skipped %d undecodable frame(s) before frame %d (%s)", self.path,
                        index - self._index, index, where)
        frame = Frame(img, index, self.name, ms, damaged)
        self._index, self._last_ms = index + 1, round(ms, 1)
        return frame

    def _ended(self) -> None:
        reached = self._index  # frames accounted for; the last time stamp says where the clip really stopped
        if self.fps and self._last_ms is not None and self._start_ms is not None:
            reached = max(reached, round((self._last_ms - self._start_ms) * self.fps / 1000.0) + 1)
        if self.listed and reached < self.listed and self.ended_early is None:
            self.ended_early = {"source": self.name, "at_frame": reached, "listed_frames": self.listed,
                                "at_ms": self._last_ms}
            log.warning("%s: ended early: at frame %d of the %d its index lists (the file is truncated "
                        "or damaged at the end)", self.path, reached, self.listed)

    def read(self) -> Frame | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        return self._grab() if self._cap is not None else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def mp4_without_index(path: Path) -> bool:
    """True for an MP4/MOV whose top-level boxes are readable and hold media data but no ``moov``."""
    names = []
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            pos = 0
            while pos + 8 <= size and len(names) < 10_000:
                fh.seek(pos)
                head = fh.read(16)
                length, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if length == 1 and len(head) == 16:
                    length = int.from_bytes(head[8:16], "big")
                elif length == 0:
                    length = size - pos
                if length < 8 or not kind.isalnum() and kind not in (b"free",):
                    return False  # not a box structure: not an MP4 (or damaged otherwise)
                names.append(kind)
                pos += length
    except OSError:
        return False
    return b"ftyp" in names and b"moov" not in names


class ImageFilesSource(Source):
    """One image file, or every image in a folder (sorted by name)."""

    def __init__(self, paths: list[Path], name: str):
        self.paths, self.name, self._i = paths, name, 0

    def read(self) -> Frame | None:
        if self._i >= len(self.paths):
            return None
        path = self.paths[self._i]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SourceError(f"{path}: cannot decode as an image")
        frame = Frame(img, self._i, path.name)
        self._i += 1
        return frame


class SequenceSource(Source):
    """Several files (images or videos) one after another, numbered as one stream."""

    def __init__(self, paths: list[Path], name: str):
        self.paths, self.name = paths, name
        self._next, self._current, self._index = 0, None, 0
        self.ended_early: dict | None = None  # the last file that ended before its index said

    def read(self) -> Frame | None:
        while True:
            if self._current is None:
                if self._next >= len(self.paths):
                    return None
                self._current = open_file(self.paths[self._next])
                self._next += 1
            frame = self._current.read()
            if frame is not None:
                frame.index, self._index = self._index, self._index + 1
                return frame
            self.ended_early = self._current.ended_early or self.ended_early
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None


class LoopingSource(Source):
    """Reopen a file source when it ends; frame numbers keep counting. Ends only when the pipeline stops."""

    def __init__(self, open_once: Callable[[], Source]):
        self._open = open_once
        self._source = open_once()
        self.name, self.fps = self._source.name, self._source.fps
        self._index = 0

    def read(self) -> Frame | None:
        frame = self._source.read()
        if frame is None:
            self._source.close()
            self._source = self._open()
            frame = self._source.read()
            if frame is None:
                raise SourceError(f"{self.name}: gave no frame after reopening it to loop")
        frame.index, self._index = self._index, self._index + 1
        return frame

    def close(self) -> None:
        self._source.close()


class PacedSource(Source):
    """At most ``max_fps`` frames a second from another source: ``read`` waits until 1/max_fps seconds after the
    previous frame's slot (a slow consumer does not build up a burst of catch-up frames)."""

    def __init__(self, source: Source, max_fps: float):
        self._source, self._period = source, 1.0 / max_fps
        self.name, self.fps, self.size = source.name, source.fps, source.size
        self._next: float | None = None

    @property
    def ended_early(self):
        return self._source.ended_early

    def read(self) -> Frame | None:
        now = time.monotonic()
        if self._next is not None and now < self._next:
            time.sleep(self._next - now)
            now = self._next
        self._next = now + self._period
        return self._source.read()

    def close(self) -> None:
        self._source.close()


_FILE_OPTIONS = ("loop", "max_fps")


def _max_fps(rest: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value <= 1000):
        raise SourceError(f"file://{rest}: max_fps={text!r}; expected a number of frames a second above 0, up to 1000")
    return value


def open_file_uri(rest: str) -> Source:
    """``rest`` is what follows ``file://``: a path, folder or glob, optionally ``?loop=1`` and ``?max_fps=N``."""
    text, _, query = rest.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - set(_FILE_OPTIONS))
    if unknown:
        raise SourceError(f"file://{rest}: unknown option(s) {', '.join(unknown)}; known: {', '.join(_FILE_OPTIONS)}")
    loop = options.get("loop", "0")
    if loop not in ("0", "1"):
        raise SourceError(f"file://{rest}: loop={loop!r}; expected 0 or 1")
    max_fps = _max_fps(rest, options.get("max_fps"))
    pattern = unquote(text)
    if any(ch in pattern for ch in "*?["):
        matches = sorted(Path(m) for m in glob.glob(str(Path(pattern).expanduser())) if Path(m).is_file())
        if not matches:
            raise SourceError(f"{pattern}: the pattern matches no file")
        opener = lambda: SequenceSource(matches, pattern)  # noqa: E731
    else:
        path = Path(pattern).expanduser()
        opener = lambda: open_file(path)  # noqa: E731
    source = LoopingSource(opener) if loop == "1" else opener()
    return PacedSource(source, max_fps) if max_fps else source


LIST_SUFFIXES = (".txt",)


def _voc_image(list_file: Path, entry: str) -> Path | None:
    """ROOT/JPEGImages/<entry>.<image suffix> when ``list_file`` is ROOT/ImageSets/<kind>/<split>.txt."""
    parents = list_file.resolve().parents
    if len(parents) < 3 or parents[1].name != "ImageSets" or Path(entry).suffix:
        return None
    candidates = [parents[2] / "JPEGImages" / f"{entry}{suffix}" for suffix in IMAGE_SUFFIXES]
    return next((p for p in candidates if p.is_file()), None)


def read_list_file(list_file: Path) -> list[Path]:
    """The files a list names, checked to exist: one path per line (relative to the list's folder; absolute
    paths as they are), ``#`` comments and blank lines skipped. VOC split files may hold bare ids (the first
    word of a line; ``ImageSets/Main/<class>_train.txt`` adds a flag after it)."""
    try:
        text = list_file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{list_file}: cannot read the image list ({exc})") from exc
    paths = []
    for n, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        path = Path(entry).expanduser()
        if not path.is_absolute():
            path = list_file.parent / path
        if not path.is_file():
            voc = _voc_image(list_file, entry.split()[0])
            if voc is None:
                raise SourceError(f"{list_file}: line {n}: {entry!r}: no such file {path} (paths in a list are "
                                  f"relative to the list's folder {list_file.parent})")
            path = voc
        paths.append(path)
    if not paths:
        raise SourceError(f"{list_file}: the image list names no file (one path per line expected)")
    return paths


def open_list(list_file: Path) -> Source:
    paths = read_list_file(list_file)
    if all(p.suffix.lower() in IMAGE_SUFFIXES for p in paths):
        return ImageFilesSource(paths, list_file.name)
    return SequenceSource(paths, list_file.name)


def open_file(path: Path) -> Source:
    if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
        return open_list(path)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise SourceError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return ImageFilesSource(images, path.name)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFilesSource([path], path.name)
    return VideoFileSource(path)
