"""file:// sources: a glob of images and videos played as one stream, and loop=1, with real decoders."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.errors import SourceError
from edge.sources import open_source


def _write_images(folder, n):
    for i in range(n):
        cv2.imwrite(str(folder / f"img{i:02d}.png"), np.full((24, 32, 3), i * 20, np.uint8))


def _write_clip(path, n):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 24))
    for _ in range(n):
        writer.write(np.full((24, 32, 3), 200, np.uint8))
    writer.release()


def test_glob_plays_images_then_videos_as_one_stream(tmp_path):
    _write_images(tmp_path, 3)
    _write_clip(tmp_path / "zz.mp4", 4)
    (tmp_path / "notes.txt").write_text("not matched")
    with open_source(f"file://{tmp_path}/*.png") as src:
        frames = list(src)
    assert [f.source for f in frames] == ["img00.png", "img01.png", "img02.png"]
    with open_source(f"file://{tmp_path}/[iz]*") as src:
        frames = list(src)
    assert len(frames) == 7 and [f.index for f in frames] == list(range(7))
    assert frames[-1].source == "zz.mp4"


def test_loop_restarts_and_keeps_counting(tmp_path):
    _write_clip(tmp_path / "c.mp4", 3)
    with open_source(f"file://{tmp_path}/c.mp4?loop=1") as src:
        frames = [src.read() for _ in range(8)]
    assert [f.index for f in frames] == list(range(8))
    assert all(f.image.shape == (24, 32, 3) for f in frames)


@pytest.mark.parametrize("uri, message", [
    ("file://{d}/*.jpg", "matches no file"),
    ("file://{d}/c.mp4?loop=yes", "expected 0 or 1"),
    ("file://{d}/c.mp4?repeat=1", "unknown option(s) repeat"),
])
def test_bad_file_uris_name_the_problem(tmp_path, uri, message):
    _write_clip(tmp_path / "c.mp4", 2)
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_source(uri.format(d=tmp_path))
