"""file:// sources: a glob of images and videos played as one stream, loop=1 and max_fps, with real decoders."""

from __future__ import annotations

import time
from pathlib import Path

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


def test_max_fps_hands_out_every_frame_no_faster(tmp_path):
    _write_clip(tmp_path / "c.mp4", 4)
    started = time.monotonic()
    with open_source(f"file://{tmp_path}/c.mp4?loop=1&max_fps=20") as src:
        frames = [src.read() for _ in range(7)]
    elapsed = time.monotonic() - started
    assert [f.index for f in frames] == list(range(7))  # none skipped, the loop still counts on
    assert elapsed >= 6 / 20 - 0.01, elapsed  # six waits of 1/20 s at least between seven frames
    with open_source(f"file://{tmp_path}/c.mp4?max_fps=1000") as src:
        assert [f.index for f in src] == [0, 1, 2, 3] and src.read() is None


@pytest.mark.parametrize("uri, message", [
    ("file://{d}/*.jpg", "matches no file"),
    ("file://{d}/c.mp4?loop=yes", "expected 0 or 1"),
    ("file://{d}/c.mp4?repeat=1", "unknown option(s) repeat"),
    ("file://{d}/c.mp4?max_fps=0", "max_fps='0'; expected a number of frames a second above 0"),
    ("file://{d}/c.mp4?max_fps=fast", "max_fps='fast'"),
])
def test_bad_file_uris_name_the_problem(tmp_path, uri, message):
    _write_clip(tmp_path / "c.mp4", 2)
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_source(uri.format(d=tmp_path))


# ---------------------------------------------------------------- image lists (file://list.txt)
def test_list_file_paths_relative_to_the_list_with_comments_and_blanks(tmp_path):
    (tmp_path / "imgs").mkdir()
    _write_images(tmp_path / "imgs", 3)
    _write_clip(tmp_path / "c.mp4", 2)
    other = tmp_path / "elsewhere"
    other.mkdir()
    lst = other / "val.txt"
    lst.write_text(f"# the validation split\n\n../imgs/img02.png\n  ../imgs/img00.png  # first\n"
                   f"{tmp_path / 'imgs' / 'img01.png'}\n")
    with open_source(f"file://{lst}") as src:
        frames = list(src)
    assert [f.source for f in frames] == ["img02.png", "img00.png", "img01.png"]  # the list's order
    assert [int(f.image[0, 0, 0]) for f in frames] == [40, 0, 20] and [f.index for f in frames] == [0, 1, 2]
    lst.write_text("../imgs/img01.png\n../c.mp4\n")  # a video in the list plays where it stands
    with open_source(str(lst)) as src:
        frames = list(src)
    assert [f.source for f in frames] == ["img01.png", "c.mp4", "c.mp4"] and [f.index for f in frames] == [0, 1, 2]


def test_list_file_missing_entry_names_its_line(tmp_path):
    _write_images(tmp_path, 1)
    lst = tmp_path / "list.txt"
    lst.write_text("img00.png\n# ok\n\nnope.jpg\n")
    with pytest.raises(SourceError, match=r"list\.txt: line 4: 'nope\.jpg': no such file .*relative to the list's"):
        open_source(f"file://{lst}")
    lst.write_text("# only comments\n\n")
    with pytest.raises(SourceError, match="names no file"):
        open_source(f"file://{lst}")


def test_voc_split_file_of_bare_ids_names_jpegimages(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    _write_images(tmp_path / "JPEGImages", 2)
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    lst = tmp_path / "ImageSets" / "Main" / "val.txt"
    lst.write_text("img01\nimg00  1\n")  # <class>_val.txt style: id then a flag
    with open_source(f"file://{lst}") as src:
        assert [f.source for f in src] == ["img01.png", "img00.png"]
    lst.write_text("img01\nimg07\n")
    with pytest.raises(SourceError, match=r"line 2: 'img07'"):
        open_source(f"file://{lst}")


BCCD = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "bccd" / "BCCD"


def test_edge_run_on_a_list_and_on_bccd_val_split(zoo, tmp_path, cli):
    import json

    _write_images(tmp_path, 2)
    lst = tmp_path / "two.txt"
    lst.write_text("img01.png\n\n# skipped\nimg00.png\n")
    model = str(zoo / "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite")
    jsonl = tmp_path / "out.jsonl"
    proc = cli("run", "--model", model, "--source", f"file://{lst}", "--sink", f"jsonl://{jsonl}", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["source"] for x in jsonl.read_text().splitlines()] == ["img01.png", "img00.png"]
    lst.write_text("img01.png\nmissing.png\n")
    proc = cli("run", "--model", model, "--source", f"file://{lst}", "--sink", f"jsonl://{jsonl}", "--quiet")
    assert proc.returncode != 0 and "two.txt: line 2: 'missing.png'" in proc.stderr
    split = BCCD / "ImageSets" / "Main" / "val.txt"
    if not split.is_file():
        pytest.skip(f"BCCD is absent at {BCCD}")
    first = [line.split()[0] for line in split.read_text().splitlines() if line.strip()][:3]
    proc = cli("run", "--model", model, "--source", f"file://{split}", "--sink", f"jsonl://{tmp_path / 'bccd.jsonl'}",
               "--max-frames", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["source"] for x in (tmp_path / 'bccd.jsonl').read_text().splitlines()] == [f"{i}.jpg" for i in first]
